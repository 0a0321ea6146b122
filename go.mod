module github.com/dojot-es/dojot

go 1.26.8

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/nats-io/nuid v1.0.1
)
