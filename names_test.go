package dojot_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/dojot-es/dojot"
)

// The grammars ValidTenant and ValidToken implement by hand.
var (
	tenantGrammar = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	tokenGrammar  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

var nameSeeds = []string{
	"", "a", "admin", "a_1", "1a", "A", "_a", "a-b", "a.b", "a b", "a*", "a>", "é",
	"e06357", "Dev-1_x", "dev.1", "dev 1", "dev/1", "dev:1", "\x00", "a\n",
	strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("b", 128), strings.Repeat("b", 129),
}

func TestValidNames(t *testing.T) {
	for _, s := range nameSeeds {
		if got, want := dojot.ValidTenant(s), tenantGrammar.MatchString(s); got != want {
			t.Errorf("ValidTenant(%q) = %v; want %v", s, got, want)
		}
		if got, want := dojot.ValidToken(s), tokenGrammar.MatchString(s); got != want {
			t.Errorf("ValidToken(%q) = %v; want %v", s, got, want)
		}
	}
}

func FuzzValidNames(f *testing.F) {
	for _, s := range nameSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := dojot.ValidTenant(s), tenantGrammar.MatchString(s); got != want {
			t.Errorf("ValidTenant(%q) = %v; want %v", s, got, want)
		}
		if got, want := dojot.ValidToken(s), tokenGrammar.MatchString(s); got != want {
			t.Errorf("ValidToken(%q) = %v; want %v", s, got, want)
		}
	})
}
