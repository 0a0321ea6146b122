package jsnum

import (
	"math"
	"strconv"
	"testing"
)

// FuzzNumber: what Append writes, Number reads back to the same number
// (JavaScript's Number(x.toString()) === x), and a decimal string Number
// reads as Go does.
func FuzzNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", " 12.5\n", "1e21", "1e-7", "0x1F", "0b101", ".5", "5.", "Infinity", "-Infinity", "NaN", "1_000", "\u00a042"} {
		f.Add(s, 0.1)
	}
	f.Add("123456789012345680000", 5e-324)
	f.Fuzz(func(t *testing.T, s string, x float64) {
		if math.IsNaN(x) {
			if got := Number(string(Append(nil, x))); !math.IsNaN(got) {
				t.Fatalf("Number(%q) = %v; want NaN", Append(nil, x), got)
			}
		} else if got := Number(string(Append(nil, x))); got != x || math.Signbit(got) != math.Signbit(x) && x != 0 {
			t.Fatalf("Number(%q) = %v; want %v", Append(nil, x), got, x)
		}
		n := Number(s)
		if g, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(g, 0) && isDecimal(s) && n != g {
			t.Fatalf("Number(%q) = %v; strconv reads %v", s, n, g)
		}
	})
}

// isDecimal reports whether s is digits with an optional sign, point and
// exponent only (no hex, no underscores, no Inf or NaN).
func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+') {
			return false
		}
	}
	return true
}
