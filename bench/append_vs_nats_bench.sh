#!/usr/bin/env bash
# Event append vs raw JetStream publish measured by the nats CLI (`nats bench js pub`),
# against the same NATS server in the same run. Usage: bench/append_vs_nats_bench.sh [nats-url]
# Needs the nats CLI: go install github.com/nats-io/natscli/nats@latest
set -euo pipefail
cd "$(dirname "$0")/.."
url="${1:-${DOJOT_TEST_NATS_URL:-nats://127.0.0.1:4222}}"
nats=${NATS_CLI:-nats}
msgs=${MSGS:-50000}

echo "== raw: nats bench js pub against $url (400 B messages, file storage)"
for clients in 1 16; do
  "$nats" -s "$url" stream rm benchstream -f >/dev/null 2>&1 || true
  "$nats" -s "$url" bench js pub sync benchraw --clients "$clients" --msgs "$msgs" --size 400B \
    --create --storage file --purge --dedup --no-progress 2>&1 | grep -E "stats:|Aggregated" | head -3
done
"$nats" -s "$url" stream rm benchstream -f >/dev/null 2>&1 || true

echo "== eventstore.Append against the same server (each event ~400 B, with msg id and expected sequence)"
DOJOT_TEST_NATS_URL="$url" go test -run='^$' -bench='^BenchmarkAppend(Parallel)?$' -benchtime=20000x ./eventstore/ | grep -E '^Benchmark'
