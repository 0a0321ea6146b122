package cron

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// CheckURL tells whether an http job may call u: an absolute http(s) URL
// under one of the allowed base URLs (none: no http job may run). dojot
// compared the strings' beginnings only, so a base of
// http://device-manager:5000 also let http://device-manager:5000.evil.example
// through; here a base ends at a path boundary. The commands check it when
// a job is stored and the scheduler at each tick, so a job stored while a
// base was allowed stops calling it once the flag no longer allows it.
func CheckURL(u string, allowed []string) error {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("%q is not an absolute http or https URL", u)
	}
	if len(allowed) == 0 {
		return errNoBase
	}
	for _, base := range allowed {
		if under(u, base) {
			return nil
		}
	}
	return fmt.Errorf("%q is not under an allowed base URL (%s)", u, strings.Join(allowed, ", "))
}

var errNoBase = errors.New("no base URL is allowed for http jobs on this platform (see -cron-http-allowed-urls)")

// under reports whether u starts with base at a path boundary.
func under(u, base string) bool {
	if base == "" || !strings.HasPrefix(u, base) {
		return false
	}
	rest := u[len(base):]
	return rest == "" || strings.HasSuffix(base, "/") || strings.ContainsAny(rest[:1], "/?#")
}
