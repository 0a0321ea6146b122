package kafkaws

import (
	"testing"
	"time"
)

// FuzzParseSince: since= is empty, a stream sequence (1 at least) or an
// RFC 3339 time that reads back the same once written again; anything else
// is refused. A since that is given never gives the zero Start, which is
// "from now on".
func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"", "0", "42", "18446744073709551615", "2026-04-01T10:00:00.123456789+03:00", "2026-04-01", "-1", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		start, ok, err := parseSince(v)
		switch {
		case err != nil:
			if ok || v == "" {
				t.Fatalf("parseSince(%q) = %+v, %v, %v", v, start, ok, err)
			}
		case v == "":
			if ok {
				t.Fatalf("parseSince(\"\") = %+v, true", start)
			}
		case !ok:
			t.Fatalf("parseSince(%q) = %+v, false, nil", v, start)
		case start.Seq == 0:
			back, err := time.Parse(time.RFC3339Nano, start.At.Format(time.RFC3339Nano))
			if start.At.IsZero() || err != nil || !back.Equal(start.At) {
				t.Fatalf("parseSince(%q) = %+v; written again: %v", v, start, err)
			}
		}
	})
}
