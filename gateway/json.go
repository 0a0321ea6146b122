package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/dojot-es/dojot"
)

// writeJSON writes v as the JSON body with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"message":"internal error","status":500}`, http.StatusInternalServerError)
		return
	}
	writeRawJSON(w, code, buf.Bytes())
}

// writeRawJSON writes an already encoded JSON body, as the Content-Type
// its route's service sets (jsonType), or Flask's.
func writeRawJSON(w http.ResponseWriter, code int, body []byte) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", jsonFlask)
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// The Content-Type of dojot's JSON answers is its web framework's: Flask
// (DeviceManager, auth) names no charset, Express (DataBroker, basic-auth,
// Kafka WS) a lower-case one, Falcon (History) an upper-case one. Clients
// that compare the header, as Dredd does, see the service they expect.
const (
	jsonFlask   = "application/json"
	jsonExpress = "application/json; charset=utf-8"
	jsonFalcon  = "application/json; charset=UTF-8"
)

// jsonType makes the JSON answers of next's routes carry contentType.
func jsonType(contentType string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			next.ServeHTTP(w, r)
		})
	}
}

// errBadJSON is DeviceManager's answer to a body that is not JSON or is not
// declared as JSON.
var errBadJSON = &dojot.Error{Kind: dojot.ErrInvalid, Message: "Payload must be valid JSON, and Content-Type set accordingly"}

// isJSON reports whether the request declares a JSON body.
func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// readBody reads the whole (size-limited) body; an oversized body is
// dojot.ErrTooLarge.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, &dojot.Error{Kind: dojot.ErrTooLarge, Message: "Request body too large"}
	}
	if err != nil {
		return nil, &dojot.Error{Kind: dojot.ErrInvalid, Message: "could not read request body"}
	}
	return b, nil
}
