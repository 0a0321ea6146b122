package gateway

import (
	"context"
	"regexp"
	"sync"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
)

// decide is dojot's policy decision (auth's PDPController.iterate_permissions)
// for a request with method action on path resource: the user's direct
// permissions first, in order, the first that applies decides; then its
// groups' permissions, where any deny wins over permits; no applicable
// permission denies.
func decide(direct []dojot.Permission, groups [][]dojot.Permission, action, resource string) bool {
	for _, p := range direct {
		if verdict, ok := applies(p, action, resource); ok {
			return verdict == dojot.Permit
		}
	}
	permit := false
	for _, perms := range groups {
		for _, p := range perms {
			verdict, ok := applies(p, action, resource)
			if !ok {
				continue
			}
			if verdict != dojot.Permit {
				return false
			}
			permit = true
		}
	}
	return permit
}

// applies matches p's path and method patterns, anchored at the start, and
// returns p's verdict when both match.
func applies(p dojot.Permission, action, resource string) (verdict string, ok bool) {
	pathRe, methodRe := rule(p.Path), rule(p.Method)
	if pathRe == nil || methodRe == nil || !pathRe.MatchString(resource) || !methodRe.MatchString(action) {
		return "", false
	}
	return p.Permission, true
}

// rules caches compiled patterns: there are as many as permissions.
var rules sync.Map // pattern -> *regexp.Regexp (nil: invalid)

func rule(pattern string) *regexp.Regexp {
	if re, ok := rules.Load(pattern); ok {
		return re.(*regexp.Regexp)
	}
	re, err := commands.CompileRule(pattern)
	if err != nil {
		re = nil
	}
	rules.Store(pattern, re)
	return re
}

// permitted asks the PDP whether the user may do action on resource, with
// the user's permissions as they are now. A user deleted since its token
// was issued (user ids are never reused) is errBadToken: its token is no
// longer valid, as if revoked.
func (s *Server) permitted(ctx context.Context, userID int64, action, resource string) (bool, error) {
	if s.opts.AuthView == nil {
		return false, errBadToken
	}
	direct, groups, ok, err := s.opts.AuthView.PDPInputs(ctx, userID)
	if err != nil {
		return false, err
	}
	if !ok {
		return false, errBadToken
	}
	return decide(direct, groups, action, resource), nil
}
