package gateway

import (
	"net/http"

	"github.com/dojot-es/dojot"
)

var (
	errNoToken = &dojot.Error{Kind: dojot.ErrUnauthorized, Message: "No authorization token has been supplied"}
	errDenied  = &dojot.Error{Kind: dojot.ErrForbidden, Message: "Access denied"}
)

// pep is the policy enforcement point dojot runs in Kong (pepkong plus the
// jwt plugin): the token's signature and expiry are verified, the caller's
// identity goes into the context, and the PDP decides on the method and the
// path with '/' appended, as pepkong asks it.
func (s *Server) pep(next http.Handler) http.Handler {
	return s.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := dojot.IdentityFrom(r.Context())
		ok, err := s.permitted(r.Context(), id.UserID, r.Method, r.URL.Path+"/")
		if err != nil {
			writeError(w, r, err)
			return
		}
		if !ok {
			writeError(w, r, errDenied)
			return
		}
		next.ServeHTTP(w, r)
	}))
}

// authenticate verifies the request's token and puts the caller's identity
// in the context, without asking the PDP.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			writeError(w, r, errNoToken)
			return
		}
		id, err := s.verifyToken(bearer(h))
		if err != nil {
			writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(dojot.WithIdentity(r.Context(), id)))
	})
}
