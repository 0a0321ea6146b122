package dmjson

import (
	"strings"
	"testing"
	"time"
)

func TestLike(t *testing.T) {
	tests := []struct {
		s, pat string
		want   bool
	}{
		{"dev-01", "dev", true}, {"dev-01", "v-0", true}, {"dev-01", "x", false},
		{"d_0", "d_", true}, {"dx0", "d_0", true}, {"d0", "d_0", false}, {"abc", "a%c", true},
		{"a_c", `a\_c`, true}, {"abc", `a\_c`, false}, {"ação", "ç_o", true}, {"", "", true},
	}
	for _, tt := range tests {
		if got := Like(tt.s, tt.pat); got != tt.want {
			t.Errorf("Like(%q, %q) = %v; want %v", tt.s, tt.pat, got, tt.want)
		}
	}
}

func FuzzLike(f *testing.F) {
	f.Add("dev-01", "v_0")
	f.Add("a%b", `\%`)
	f.Fuzz(func(t *testing.T, s, pat string) {
		if !strings.ContainsAny(pat, `%_\`) && Like(s, pat) != strings.Contains(s, pat) {
			t.Errorf("Like(%q, %q) disagrees with Contains", s, pat)
		}
		if Like(s, "%") != true {
			t.Errorf("Like(%q, %%) = false", s)
		}
	})
}

func TestISO(t *testing.T) {
	for us, want := range map[int64]string{
		time.Date(2018, 1, 25, 12, 30, 42, 164695000, time.UTC).UnixMicro(): `"2018-01-25T12:30:42.164695+00:00"`,
		time.Date(2018, 1, 25, 13, 0, 0, 0, time.UTC).UnixMicro():           `"2018-01-25T13:00:00+00:00"`,
		time.Date(2018, 1, 25, 13, 0, 0, 0, time.UTC).UnixMicro() + 5000:    `"2018-01-25T13:00:00.005000+00:00"`,
	} {
		if got := string(AppendISO(nil, us)); got != want {
			t.Errorf("AppendISO = %s; want %s", got, want)
		}
	}
	if got := string(AppendString(nil, "a\"\\\n\x01é😀<")); got != `"a\"\\\n\u0001\u00e9\ud83d\ude00<"` {
		t.Errorf("AppendString = %s", got)
	}
}
