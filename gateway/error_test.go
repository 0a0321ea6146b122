package gateway

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dojot-es/dojot"
)

// TestWriteErrorTooLarge: a write the store refused as too large is a 413
// whose message says so without the store's own text.
func TestWriteErrorTooLarge(t *testing.T) {
	rec := httptest.NewRecorder()
	err := fmt.Errorf("append template.created admin/1: %w: %w", dojot.ErrTooLarge, errors.New("nats: maximum payload exceeded"))
	writeError(rec, httptest.NewRequest("POST", "/template", nil), err)
	body := rec.Body.String()
	if rec.Code != 413 || !strings.Contains(body, `"message":"Request too large to be stored"`) || strings.Contains(body, "nats") {
		t.Errorf("writeError = %d %s; want 413 without the store's text", rec.Code, body)
	}
}
