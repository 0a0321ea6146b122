package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // job timezones resolve even where the system has no zoneinfo (a scratch image)
)

// Schedule is a parsed cron time expression: the set of seconds, minutes,
// hours, days of month, months and days of week it fires at, in a
// location.
type Schedule struct {
	sec, min, hour, dom, month, dow uint64 // bit i set: value i matches
	domStar, dowStar                bool
	loc                             *time.Location
}

type field struct {
	name     string
	lo, hi   int
	names    map[string]int
	wildcard bool // "?" is allowed (day fields), as "*"
}

var (
	months = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
	days = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

	fSecond = field{name: "second", lo: 0, hi: 59}
	fMinute = field{name: "minute", lo: 0, hi: 59}
	fHour   = field{name: "hour", lo: 0, hi: 23}
	fDOM    = field{name: "day of month", lo: 1, hi: 31, wildcard: true}
	fMonth  = field{name: "month", lo: 1, hi: 12, names: months}
	fDOW    = field{name: "day of week", lo: 0, hi: 7, names: days, wildcard: true}
)

// Parse reads a cron time as dojot's cron service documents it: five
// fields (minute, hour, day of month, month 1-12 or jan-dec, day of week
// 0-7 or sun-sat, 0 and 7 both Sunday) or six with seconds first (its own
// example, "0 */5 * * * *"); each field a list of values, ranges a-b and
// steps */n, a-b/n, a/n. With five fields a job fires at second 0. When
// both day fields are restricted a day matching either fires, as in
// crontab(5). loc is the timezone the fields are read in (nil: UTC).
//
// dojot validated with cron-parser (months 1-12) but ran the jobs with the
// npm cron 1.8 (months 0-11, day of week 0-6), so a month fired a month
// late there; this follows the documented meaning.
func Parse(expr string, loc *time.Location) (*Schedule, error) {
	fs := strings.Fields(expr)
	if len(fs) != 5 && len(fs) != 6 {
		return nil, fmt.Errorf("cron time %q has %d fields, not 5 or 6", expr, len(fs))
	}
	if len(fs) == 5 {
		fs = append([]string{"0"}, fs...)
	}
	if loc == nil {
		loc = time.UTC
	}
	s := &Schedule{loc: loc}
	var err error
	for i, f := range []struct {
		dst *uint64
		def field
	}{{&s.sec, fSecond}, {&s.min, fMinute}, {&s.hour, fHour}, {&s.dom, fDOM}, {&s.month, fMonth}, {&s.dow, fDOW}} {
		if *f.dst, err = parseField(fs[i], f.def); err != nil {
			return nil, err
		}
	}
	if s.dow&(1<<7) != 0 { // 7 is Sunday too
		s.dow |= 1
	}
	s.domStar = fs[3] == "*" || fs[3] == "?"
	s.dowStar = fs[5] == "*" || fs[5] == "?"
	return s, nil
}

func parseField(text string, f field) (uint64, error) {
	var bits uint64
	for part := range strings.SplitSeq(text, ",") {
		b, err := parseRange(part, f)
		if err != nil {
			return 0, fmt.Errorf("cron time: %s field %q: %w", f.name, text, err)
		}
		bits |= b
	}
	return bits, nil
}

func parseRange(part string, f field) (uint64, error) {
	rng, stepText, hasStep := strings.Cut(part, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepText)
		if err != nil || n <= 0 || n > f.hi {
			return 0, fmt.Errorf("bad step %q", stepText)
		}
		step = n
	}
	var lo, hi int
	switch {
	case rng == "*" || (f.wildcard && rng == "?"):
		lo, hi = f.lo, f.hi
		if f.names != nil && f.hi == 7 { // */n over days of week: 0-6, Sunday once
			hi = 6
		}
	default:
		a, b, isRange := strings.Cut(rng, "-")
		var err error
		if lo, err = value(a, f); err != nil {
			return 0, err
		}
		hi = lo
		if isRange {
			if hi, err = value(b, f); err != nil {
				return 0, err
			}
			if hi < lo {
				return 0, fmt.Errorf("range %q runs backwards", rng)
			}
		} else if hasStep {
			hi = f.hi // a/n: from a to the end
		}
	}
	var bits uint64
	for v := lo; v <= hi; v += step {
		bits |= 1 << v
	}
	return bits, nil
}

func value(s string, f field) (int, error) {
	if v, ok := f.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a value", s)
	}
	if v < f.lo || v > f.hi {
		return 0, fmt.Errorf("%d is out of %d-%d", v, f.lo, f.hi)
	}
	return v, nil
}

// Next is the first time strictly after t the schedule fires, or the zero
// time when none does within eight years (February 30th...). It walks
// field by field in the schedule's location; hours, minutes and seconds
// advance in absolute time, so a local hour a DST change skips is not
// fired and one it repeats is walked twice, as the clock shows it.
func (s *Schedule) Next(t time.Time) time.Time {
	t = t.In(s.loc).Truncate(time.Second).Add(time.Second)
	end := t.AddDate(8, 0, 0)
	for t.Before(end) {
		var next time.Time
		switch {
		case s.month&(1<<uint(t.Month())) == 0:
			next = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, s.loc)
		case !s.dayMatches(t):
			next = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, s.loc)
		case s.hour&(1<<uint(t.Hour())) == 0:
			next = t.Add(time.Duration(60-t.Minute())*time.Minute - time.Duration(t.Second())*time.Second)
		case s.min&(1<<uint(t.Minute())) == 0:
			next = t.Add(time.Duration(60-t.Second()) * time.Second)
		case s.sec&(1<<uint(t.Second())) == 0:
			next = t.Add(time.Second)
		default:
			return t
		}
		if !next.After(t) { // a zone's odd midnight: never walk back
			next = t.Add(time.Second)
		}
		t = next.In(s.loc)
	}
	return time.Time{}
}

func (s *Schedule) dayMatches(t time.Time) bool {
	dom := s.dom&(1<<uint(t.Day())) != 0
	dow := s.dow&(1<<uint(t.Weekday())) != 0
	if s.domStar || s.dowStar {
		return dom && dow
	}
	return dom || dow
}

// Fires reports whether the schedule fires at all after now (February
// 30th never does).
func (s *Schedule) Fires(now time.Time) bool { return !s.Next(now).IsZero() }

// matches reports whether the schedule fires at t (a whole second).
func (s *Schedule) matches(t time.Time) bool {
	t = t.In(s.loc)
	return s.month&(1<<uint(t.Month())) != 0 && s.dayMatches(t) && s.hour&(1<<uint(t.Hour())) != 0 &&
		s.min&(1<<uint(t.Minute())) != 0 && s.sec&(1<<uint(t.Second())) != 0
}
