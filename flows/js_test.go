package flows

import (
	"math"
	"testing"
)

func TestJSNumber(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		in   any
		want float64
	}{
		{"12", 12}, {" 12\n", 12}, {"", 0}, {"  ", 0}, {".5", 0.5}, {"5.", 5}, {"1e3", 1000}, {"-1.5E-1", -0.15},
		{"0x1F", 31}, {"0b101", 5}, {"0o17", 15}, {"Infinity", math.Inf(1)}, {"-Infinity", math.Inf(-1)},
		{"abc", nan}, {"12px", nan}, {"inf", nan}, {"NaN", nan}, {"1_0", nan}, {"0x", nan}, {"+-1", nan}, {"0x1p3", nan}, {".", nan}, {"1e", nan},
		{true, 1}, {false, 0}, {nil, 0}, {undef, nan}, {map[string]any{}, nan},
		{[]any{}, 0}, {[]any{"7"}, 7}, {[]any{1.0, 2.0}, nan}, {3.5, 3.5},
	}
	for _, tt := range tests {
		got := jsNumber(tt.in)
		if got != tt.want && !(math.IsNaN(got) && math.IsNaN(tt.want)) {
			t.Errorf("jsNumber(%#v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestJSString(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{35.0, "35"}, {0.1, "0.1"}, {1e21, "1e+21"}, {1e-7, "1e-7"}, {123456789012345680000.0, "123456789012345680000"},
		{-0.000001, "-0.000001"}, {math.NaN(), "NaN"}, {nil, "null"}, {undef, "undefined"}, {true, "true"},
		{map[string]any{"a": 1.0}, "[object Object]"}, {[]any{1.0, nil, "x"}, "1,,x"}, {"s", "s"},
	}
	for _, tt := range tests {
		if got := jsString(tt.in); got != tt.want {
			t.Errorf("jsString(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestJSRelational(t *testing.T) {
	obj := map[string]any{}
	tests := []struct {
		a, b          any
		lt, lte, gt   bool
		gte, strictEq bool
	}{
		{30.0, 32.0, true, true, false, false, false},
		{"30", 32.0, true, true, false, false, false}, // string vs number: numeric
		{"30", 30.0, false, true, false, true, false}, // === is strict
		{"10", "9", true, true, false, false, false},  // two strings: lexical
		{undef, 1.0, false, false, false, false, false},
		{nil, 0.0, false, true, false, true, false}, // null is 0 for <=, but null !== 0
		{"abc", 1.0, false, false, false, false, false},
		{true, 1.0, false, true, false, true, false},
		{obj, "[object Object]", false, true, false, true, false},
		{"a", "a", false, true, false, true, true},
		{2.0, 2.0, false, true, false, true, true},
	}
	for _, tt := range tests {
		got := [5]bool{jsLess(tt.a, tt.b), jsLessEq(tt.a, tt.b), jsGreater(tt.a, tt.b), jsGreaterEq(tt.a, tt.b), jsStrictEqual(tt.a, tt.b)}
		want := [5]bool{tt.lt, tt.lte, tt.gt, tt.gte, tt.strictEq}
		if got != want {
			t.Errorf("%#v vs %#v: <,<=,>,>=,=== = %v, want %v", tt.a, tt.b, got, want)
		}
	}
}

func TestJSONStringify(t *testing.T) {
	v := map[string]any{"b": "<a&b>", "a": []any{1.0, 2.5, nil}}
	if got, want := jsonStringify(v), `{"a":[1,2.5,null],"b":"<a&b>"}`; got != want {
		t.Errorf("jsonStringify = %s, want %s", got, want)
	}
	if got := jsonStringify(undef); got != "" {
		t.Errorf("jsonStringify(undefined) = %q, want empty", got)
	}
}
