package gateway

import "github.com/nats-io/nuid"

func newRequestID() string { return nuid.Next() }
