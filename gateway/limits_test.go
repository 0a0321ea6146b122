package gateway

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBodyLimit: a body past MaxBodyBytes is refused with 413 and dojot's
// error body, whether its length is announced (refused before it is read)
// or not (chunked: refused when the reader passes the limit), and before
// any password is checked.
func TestBodyLimit(t *testing.T) {
	s, _, _ := authServer(t)
	s.opts.MaxBodyBytes = 100
	const want = `{"message":"Request body too large","status":413}`
	big := `{"username":"admin","passwd":"admin","pad":"` + strings.Repeat("x", 200) + `"}`
	for name, body := range map[string]io.Reader{
		"announced": strings.NewReader(big),
		"chunked":   io.MultiReader(strings.NewReader(big)), // no length known
	} {
		r := httptest.NewRequest("POST", "/auth", body)
		r.Header.Set("Content-Type", "application/json")
		if name == "chunked" {
			r.ContentLength = -1
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if got := strings.TrimSpace(w.Body.String()); w.Code != 413 || got != want {
			t.Errorf("%s: %d %s; want 413 %s", name, w.Code, got, want)
		}
	}
	expect(t, s, "POST", "/auth", "", `{"username":"admin","passwd":"admin"}`, 200, "")
}
