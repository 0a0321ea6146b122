package socketio

import (
	"encoding/json"
	"testing"
)

func note(t *testing.T, s string) *notification {
	t.Helper()
	var n notification
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return &n
}

// TestFilter: dojot's checkFilter, without its throws: = and != strict,
// < and > numeric, subject from the message, other keys from
// metaAttrsFilter, a field the notification lacks passing.
func TestFilter(t *testing.T) {
	low := `{"msgID":"1","message":"m","metaAttrsFilter":{"priority":"low","level":3,"ok":true},"subject":"user_notification"}`
	bare := `{"msgID":"2","message":"m","subject":"user_notification"}`
	other := `{"msgID":"3","message":"m","metaAttrsFilter":{"priority":"high","level":"7"},"subject":"system"}`
	for _, tc := range []struct {
		filter string
		want   [3]bool // low, bare, other
	}{
		{`{}`, [3]bool{true, true, true}},
		{`{"fields":{"subject":{"operation":"=","value":"user_notification"}}}`, [3]bool{true, true, false}},
		{`{"fields":{"subject":{"operation":"!=","value":"user_notification"}}}`, [3]bool{false, false, true}},
		{`{"fields":{"priority":{"operation":"!=","value":"low"}}}`, [3]bool{false, true, true}},
		{`{"fields":{"subject":{"operation":"=","value":"user_notification"},"priority":{"operation":"!=","value":"low"}}}`, [3]bool{false, true, false}},
		// strict: 3 is not "3"
		{`{"fields":{"level":{"operation":"=","value":"3"}}}`, [3]bool{false, true, false}},
		{`{"fields":{"level":{"operation":"=","value":3}}}`, [3]bool{true, true, false}},
		// numeric: "7" > 5 as in JS
		{`{"fields":{"level":{"operation":">","value":5}}}`, [3]bool{false, true, true}},
		{`{"fields":{"level":{"operation":"<","value":5}}}`, [3]bool{true, true, false}},
		{`{"fields":{"ok":{"operation":"=","value":true}}}`, [3]bool{true, true, true}},
	} {
		f, err := ParseFilter(tc.filter)
		if err != nil {
			t.Errorf("%s: %v", tc.filter, err)
			continue
		}
		for i, n := range []string{low, bare, other} {
			if got := f.Match(note(t, n)); got != tc.want[i] {
				t.Errorf("filter %s on %s: %v, want %v", tc.filter, n, got, tc.want[i])
			}
		}
	}
	// GUI v1 emits the filter as a JSON string; other clients may send
	// the object.
	f, err := ParseFilter(map[string]any{"fields": map[string]any{"subject": map[string]any{"operation": "=", "value": "system"}}})
	if err != nil || f.Match(note(t, low)) || !f.Match(note(t, other)) {
		t.Errorf("filter as an object: %v", err)
	}
	for _, bad := range []any{`{"fields":{"a":{"operation":"~","value":1}}}`, `{"fields":{"a":{"operation":"<","value":"x"}}}`, `not json`, 42.0, nil} {
		if _, err := ParseFilter(bad); err == nil {
			t.Errorf("ParseFilter(%v): no error", bad)
		}
	}
}
