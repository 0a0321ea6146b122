package cron

import (
	"testing"
	"time"
)

func TestScheduleNext(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	sp, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		t.Fatal(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		expr  string
		loc   *time.Location
		after string
		want  []string // successive ticks
	}{
		{"*/1 * * * * *", nil, "2026-12-06T21:00:00.5Z", []string{"2026-12-06T21:00:01Z", "2026-12-06T21:00:02Z"}},
		{"* * * * *", nil, "2026-12-06T21:00:00Z", []string{"2026-12-06T21:01:00Z", "2026-12-06T21:02:00Z"}},
		{"0 */5 * * * *", nil, "2026-12-06T21:03:10Z", []string{"2026-12-06T21:05:00Z", "2026-12-06T21:10:00Z"}},
		{"30 9 * * mon-fri", nil, "2026-12-04T10:00:00Z", []string{"2026-12-07T09:30:00Z", "2026-12-08T09:30:00Z"}}, // Friday after 9:30 -> Monday
		{"0 0 1 jan *", nil, "2026-12-06T00:00:00Z", []string{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
		{"0 0 29 2 *", nil, "2026-03-01T00:00:00Z", []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		{"0 12 13 * 5", nil, "2026-11-01T00:00:00Z", []string{"2026-11-06T12:00:00Z", "2026-11-13T12:00:00Z", "2026-11-20T12:00:00Z"}}, // 13th OR Friday
		{"0 0 * * 7", nil, "2026-12-06T00:00:00Z", []string{"2026-12-13T00:00:00Z"}},                                                   // 7 is Sunday
		{"10-20/5 0 * * *", nil, "2026-12-06T00:00:00Z", []string{"2026-12-06T00:10:00Z", "2026-12-06T00:15:00Z", "2026-12-06T00:20:00Z", "2026-12-07T00:10:00Z"}},
		{"5/20 * * * * *", nil, "2026-12-06T00:00:00Z", []string{"2026-12-06T00:00:05Z", "2026-12-06T00:00:25Z", "2026-12-06T00:00:45Z", "2026-12-06T00:01:05Z"}},
		{"0 8 * * *", sp, "2026-12-06T00:00:00Z", []string{"2026-12-06T11:00:00Z"}}, // 08:00 in São Paulo (UTC-3)
		// New York springs forward at 2026-03-08 02:00 local: 02:30 does
		// not exist that day.
		{"30 2 * * *", ny, "2026-03-07T12:00:00Z", []string{"2026-03-09T06:30:00Z"}},
		// ... and falls back at 2026-11-01 02:00: 01:30 happens twice.
		{"30 1 * * *", ny, "2026-11-01T04:00:00Z", []string{"2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-02T06:30:00Z"}},
	} {
		s, err := Parse(c.expr, c.loc)
		if err != nil {
			t.Fatalf("%q: %v", c.expr, err)
		}
		at := utc(c.after)
		for _, w := range c.want {
			at = s.Next(at)
			if !at.Equal(utc(w)) {
				t.Errorf("%q: got %s, want %s", c.expr, at.UTC().Format(time.RFC3339), w)
				break
			}
		}
	}
}

func TestScheduleRefused(t *testing.T) {
	for _, expr := range []string{"", "* * * *", "* * * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * 32 * *",
		"* * * 13 *", "* * * 0 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "x * * * *", "* * * foo *", "L * * * *",
		"1,,2 * * * *", "? * * * *", "*/61 * * * * *"} {
		if _, err := Parse(expr, nil); err == nil {
			t.Errorf("%q: accepted", expr)
		}
	}
	s, err := Parse("0 0 30 2 *", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Fires(time.Now()) {
		t.Error("February 30th fires")
	}
}

// FuzzParse: no cron time makes Parse or Next panic or loop, and every
// tick Next gives is after its start, on a whole second, and matched by
// the expression's fields.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"* * * * *", "*/1 * * * * *", "0 */5 * * * *", "30 9 * * mon-fri", "0 0 29 2 *", "5/20 1-3,7 ? * sun",
		"0 0 30 2 *", "1,,2 * * * *", "*/0 * * * *", "60 * * * *", "0 12 13 * 5"} {
		f.Add(s)
	}
	start := time.Date(2026, 12, 6, 21, 0, 0, 500, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr, nil)
		if err != nil {
			return
		}
		at := start
		for range 3 {
			next := s.Next(at)
			if next.IsZero() {
				return
			}
			if !next.After(at) || next.Nanosecond() != 0 || !s.matches(next) {
				t.Fatalf("%q: Next(%s) = %s", expr, at, next)
			}
			at = next
		}
	})
}
