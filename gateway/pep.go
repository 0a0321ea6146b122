package gateway

import (
	"net/http"
	"strconv"

	"github.com/dojot-es/dojot"
)

var (
	errNoToken = &dojot.Error{Kind: dojot.ErrUnauthorized, Message: "No authorization token has been supplied"}
	errDenied  = &dojot.Error{Kind: dojot.ErrForbidden, Message: "Access denied"}
)

// pep is the policy enforcement point dojot runs in Kong (pepkong plus the
// jwt plugin): the token's signature and expiry are verified, the caller's
// identity goes into the context, and the PDP decides on the method and the
// path with '/' appended, as pepkong asks it. The PDP reads the user's
// permissions anyway, so a token of a user deleted since it was issued is
// refused (401, as a bad token) at no extra cost.
func (s *Server) pep(next http.Handler) http.Handler {
	return s.withToken(func(w http.ResponseWriter, r *http.Request, id dojot.Identity) {
		ok, err := s.permitted(r.Context(), id.UserID, r.Method, r.URL.Path+"/")
		if err != nil {
			writeError(w, r, err)
			return
		}
		if !ok {
			writeError(w, r, errDenied)
			return
		}
		next.ServeHTTP(w, r.WithContext(dojot.WithIdentity(r.Context(), id)))
	})
}

// authenticate verifies the request's token, checks its user still exists
// (one lookup in the auth view: a token outlives its user by up to
// Options.TokenTTL otherwise) and puts the caller's identity in the
// context, without asking the PDP.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return s.withToken(func(w http.ResponseWriter, r *http.Request, id dojot.Identity) {
		if s.opts.AuthView == nil {
			writeError(w, r, errBadToken)
			return
		}
		u, ok, err := s.opts.AuthView.User(r.Context(), strconv.FormatInt(id.UserID, 10))
		if err != nil {
			writeError(w, r, err)
			return
		}
		if !ok || u.ID != id.UserID {
			writeError(w, r, errBadToken)
			return
		}
		next.ServeHTTP(w, r.WithContext(dojot.WithIdentity(r.Context(), id)))
	})
}

// withToken verifies the request's token and calls next with the caller's
// identity.
func (s *Server) withToken(next func(w http.ResponseWriter, r *http.Request, id dojot.Identity)) http.Handler {
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
		next(w, r, id)
	})
}
