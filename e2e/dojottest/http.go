package dojottest

import (
	"io"
	"net/http"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// JetStream is a JetStream client of the NATS at addr (an instance's
// -nats-listen), closed when the test ends.
func JetStream(t testing.TB, addr string) jetstream.JetStream {
	t.Helper()
	return JetStreamURL(t, "nats://"+addr)
}

// Get is a GET as c with an Accept header, returning code, body and headers.
func Get(t *testing.T, in *Instance, c *Client, path, accept string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", in.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}
