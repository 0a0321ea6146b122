package kafka

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dojot-es/dojot"
	kafkago "github.com/segmentio/kafka-go"
)

func FuzzParseReading(f *testing.F) {
	f.Add("admin.device-data", []byte(`{"metadata":{"deviceid":"c6ea4b","tenant":"admin","timestamp":1528226137452},"attrs":{"humidity":60}}`))
	f.Add("admin.device-data", []byte(`{"metadata":{"deviceid":"c6.ea4b","tenant":"admin"},"attrs":{}}`))
	f.Add("x.device-data", []byte(`null`))
	f.Fuzz(func(t *testing.T, topic string, value []byte) {
		tenant, device, err := parseReading(topic, value)
		if err != nil {
			return
		}
		if !dojot.ValidTenant(tenant) || !dojot.ValidToken(device) || topic != tenant+".device-data" || !json.Valid(value) {
			t.Errorf("parseReading(%q, %s) = %q, %q: accepted an unsafe record", topic, value, tenant, device)
		}
	})
}

// TestParseReading: the tenant is the topic's; metadata.tenant may be
// missing, and when present must name the topic's tenant.
func TestParseReading(t *testing.T) {
	for _, c := range []struct {
		value string
		want  error
	}{
		{`{"metadata":{"deviceid":"b374a5","protocol":"mqtt","payload":"json","timestamp":1528226137452},"attrs":{"t":1}}`, nil},
		{`{"metadata":{"deviceid":"b374a5","tenant":"admin"},"attrs":{}}`, nil},
		{`{"metadata":{"deviceid":"b374a5","tenant":null},"attrs":{}}`, nil},
		{`{"metadata":{"deviceid":"b374a5","tenant":"other"},"attrs":{}}`, errCrossTenant},
		{`{"metadata":{"deviceid":"b374a5","tenant":""},"attrs":{}}`, errCrossTenant},
		{`{"metadata":{"deviceid":"b374a5","tenant":1},"attrs":{}}`, errMetadata},
		{`{"metadata":{"tenant":"admin"},"attrs":{}}`, errMetadata},
		{`{"attrs":{}}`, errMetadata},
	} {
		tenant, device, err := parseReading("admin.device-data", []byte(c.value))
		if !errors.Is(err, c.want) || (err == nil && (tenant != "admin" || device != "b374a5")) {
			t.Errorf("parseReading(%s) = %q, %q, %v; want admin, b374a5, %v", c.value, tenant, device, err, c.want)
		}
	}
}

func TestShortError(t *testing.T) {
	we := make(kafkago.WriteErrors, 600)
	for i := range we {
		we[i] = errors.New("write tcp 127.0.0.1:1->127.0.0.1:2: broken pipe")
	}
	got := shortError(fmt.Errorf("write: %w", we)).Error()
	if want := "600 of 600 records failed, first: write tcp 127.0.0.1:1->127.0.0.1:2: broken pipe"; got != want {
		t.Errorf("shortError = %q; want %q", got, want)
	}
	long := errors.New(strings.Repeat("x", 5000))
	if got := shortError(long).Error(); len(got) > 520 {
		t.Errorf("shortError of 5000 bytes = %d bytes", len(got))
	}
}
