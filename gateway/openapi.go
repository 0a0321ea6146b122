package gateway

import (
	_ "embed"
	"net/http"
)

// The OpenAPI 3 documents of the public and the internal listener, served
// at GET /openapi.json on each, no token. They are the source: edit them
// by hand. TestOpenAPIRoutes fails when a route of a router is not in its
// document or a documented one is not routed, and tools/openapi checks
// that they are valid OpenAPI 3 (TestOpenAPIValid runs it).
var (
	//go:embed openapi.json
	openAPIPublic []byte
	//go:embed openapi-internal.json
	openAPIInternal []byte
)

// serveDocument answers doc as JSON.
func serveDocument(doc []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeRawJSON(w, http.StatusOK, doc)
	}
}
