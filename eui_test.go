package dojot

import "testing"

// TestNormalEUI: EUIs as people and network servers write them.
func TestNormalEUI(t *testing.T) {
	for in, want := range map[string]string{
		"0101010101010101":          "0101010101010101",
		"0004A30B001C0530":          "0004a30b001c0530",
		"70-B3-D5-7E-D0-00-00-0A":   "70b3d57ed000000a",
		"70:b3:d5:7e:d0:00:00:0a":   "70b3d57ed000000a",
		" 70 B3 D5 7E D0 00 00 0A ": "70b3d57ed000000a",
		"009798798793292":           "009798798793292", // dojot's docs: 15 digits, kept
		"":                          "",
	} {
		if got := NormalEUI(in); got != want {
			t.Errorf("NormalEUI(%q) = %q; want %q", in, got, want)
		}
	}
}
