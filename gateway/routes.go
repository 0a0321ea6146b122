package gateway

import (
	"net/http"
	"sort"

	"github.com/go-chi/chi/v5"
)

// Route is one method and chi pattern the router serves.
type Route struct {
	Method  string
	Pattern string
}

// Routes lists every route the router serves, sorted by pattern and
// method. The OpenAPI check and the tenant isolation matrix are generated
// from it, so a route added later cannot be left out of either.
func (s *Server) Routes() []Route {
	var out []Route
	// chi.Walk fails only when the walk function does, and ours never does.
	_ = chi.Walk(s.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out = append(out, Route{Method: method, Pattern: route})
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pattern != out[j].Pattern {
			return out[i].Pattern < out[j].Pattern
		}
		return out[i].Method < out[j].Method
	})
	return out
}
