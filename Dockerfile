# syntax=docker/dockerfile:1
# dojot as a static binary on distroless (no shell, CA certificates included),
# running as the non-root user 65532. Build: docker build -t dojot .
# Production wiring (NATS, Postgres, Mongo, Redis, Kafka): docker-compose.yml.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags='-s -w' -o /out/dojot ./cmd/dojot \
 && mkdir -p /out/data

# static-debian12: CA certificates, /etc/passwd with nonroot (65532), tzdata.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/dojot /dojot
# An empty /data owned by the runtime user, so a fresh named volume is writable.
COPY --from=build --chown=65532:65532 /out/data /data
ENV DOJOT_DATA_DIR=/data \
    DOJOT_HTTP_ADDR=:8000
USER 65532:65532
VOLUME ["/data"]
# 8000: HTTP gateway; 1883: MQTT devices; 8883: MQTT over mutual TLS.
EXPOSE 8000 1883 8883
# Ready (views caught up, NATS and the databases that decide readiness up):
# `dojot health` asks GET /readyz, as the image has no curl. A large log
# takes a while to replay at start: start-period covers it.
HEALTHCHECK --interval=10s --timeout=6s --start-period=120s --retries=3 CMD ["/dojot", "health"]
ENTRYPOINT ["/dojot"]
CMD ["serve"]
