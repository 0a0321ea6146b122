package mqtt

import (
	"testing"
)

func TestParseTopic(t *testing.T) {
	tests := map[string]*Topic{
		"admin:a1998e/attrs":   {Tenant: "admin", Device: "a1998e", Kind: KindAttrs},
		"admin:a1998e/config":  {Tenant: "admin", Device: "a1998e", Kind: KindConfig},
		"/admin/a1998e/attrs":  {Tenant: "admin", Device: "a1998e", Kind: KindAttrs, Legacy: true},
		"/admin/a1998e/config": {Tenant: "admin", Device: "a1998e", Kind: KindConfig, Legacy: true},
		"admin@a1998e/attrs":   nil,
		"admin:a1998e/attrs/x": nil,
		"admin:a1998e":         nil,
		"admin:a1.9/attrs":     nil,
		"admin:+/attrs":        nil,
		"Admin:a1/attrs":       nil,
		"/admin/a1998e/attrs/": nil,
		"admin/a1998e/attrs":   nil,
		":a1/attrs":            nil,
		"admin:/attrs":         nil,
		"":                     nil,
	}
	for s, want := range tests {
		got, err := ParseTopic(s)
		switch {
		case want == nil && err == nil:
			t.Errorf("ParseTopic(%q) = %+v; want an error", s, got)
		case want != nil && (err != nil || got != *want):
			t.Errorf("ParseTopic(%q) = %+v, %v; want %+v", s, got, err, *want)
		}
	}
}

func FuzzParseTopic(f *testing.F) {
	f.Add("admin:a1998e/attrs")
	f.Add("/admin/a1998e/config")
	f.Fuzz(func(t *testing.T, s string) {
		if tp, err := ParseTopic(s); err == nil && tp.String() != s {
			t.Errorf("ParseTopic(%q).String() = %q, want the input back", s, tp.String())
		}
	})
}
