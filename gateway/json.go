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

// writeRawJSON writes an already encoded JSON body.
func writeRawJSON(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
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
