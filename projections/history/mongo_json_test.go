package history

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// roundTrip stores a JSON value as the Mongo view does and renders it
// back from its BSON encoding.
func roundTrip(t testing.TB, in string) (any, string, error) {
	t.Helper()
	v, err := bsonOf(json.RawMessage(in))
	if err != nil {
		return nil, "", err
	}
	raw, err := bson.Marshal(bson.D{{Key: "v", Value: v}})
	if err != nil {
		t.Fatalf("bson.Marshal(%#v): %v", v, err)
	}
	out, err := appendJSON(nil, bson.Raw(raw).Lookup("v"))
	if err != nil {
		t.Fatalf("appendJSON of %q: %v", in, err)
	}
	return v, string(out), nil
}

func TestBSONOf(t *testing.T) {
	tests := map[string]struct {
		in   string
		bson any
		out  string // "" means in
	}{
		"int":          {`23`, int64(23), ""},
		"negative":     {`-7`, int64(-7), ""},
		"minus zero":   {`-0`, int64(0), `0`},
		"beyond int64": {`12345678901234567890`, 12345678901234567890.0, `1.2345678901234567e+19`},
		"float":        {`22.12`, 22.12, ""},
		"float one":    {`1.0`, 1.0, ""},
		"exponent":     {`1e3`, 1000.0, `1000.0`},
		"tiny":         {`0.00001`, 0.00001, `1e-05`},
		"small":        {`0.0001`, 0.0001, ""},
		"large":        {`1e16`, 1e16, `1e+16`},
		"below large":  {`1e15`, 1e15, `1000000000000000.0`},
		"string":       {`"a\"b\\c\u00e9\n\u0001<>&"`, "a\"b\\c\u00e9\n\x01<>&", `"a\"b\\cé\n\u0001<>&"`},
		"blank":        {`" "`, " ", ""},
		"bool":         {`true`, true, ""},
		"null":         {`null`, nil, ""},
		"array":        {`[1, 2.5, "x", [], {}]`, bson.A{int64(1), 2.5, "x", bson.A{}, bson.D{}}, `[1,2.5,"x",[],{}]`},
		"object order": {`{"b":1,"a":{"d":null,"c":[true]}}`, bson.D{{Key: "b", Value: int64(1)}, {Key: "a", Value: bson.D{{Key: "d", Value: nil}, {Key: "c", Value: bson.A{true}}}}}, ""},
		"repeated key": {`{"k":1,"j":2,"k":3}`, bson.D{{Key: "k", Value: int64(3)}, {Key: "j", Value: int64(2)}}, `{"k":3,"j":2}`},
		"empty key":    {`{"":1}`, bson.D{{Key: "", Value: int64(1)}}, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			v, out, err := roundTrip(t, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.out
			if want == "" {
				want = tt.in
			}
			if !reflect.DeepEqual(v, tt.bson) || out != want {
				t.Errorf("%s: stored %#v, rendered %s; want %#v, %s", tt.in, v, out, tt.bson, want)
			}
		})
	}
}

func TestBSONOfRefuses(t *testing.T) {
	deep := ""
	for range maxDepth + 1 {
		deep += "["
	}
	for _, in := range []string{`{"$where":1}`, `{"a.b":1}`, `{"a\u0000b":1}`, `[{"x":{"$gt":1}}]`, `1e400`, deep + "1"} {
		if v, err := bsonOf(json.RawMessage(in)); !errors.Is(err, errUnstorable) {
			t.Errorf("bsonOf(%.40q) = %v, %v; want errUnstorable", in, v, err)
		}
	}
}

func TestAppendPyFloat(t *testing.T) {
	for f, want := range map[float64]string{
		0: "0.0", math.Copysign(0, -1): "-0.0", 1: "1.0", -2.5: "-2.5", 123456789012345.6: "123456789012345.6",
		1e22: "1e+22", 1.5e-7: "1.5e-07", 5e-324: "5e-324", math.MaxFloat64: "1.7976931348623157e+308", math.NaN(): "null",
	} {
		if got := string(appendPyFloat(nil, f)); got != want {
			t.Errorf("appendPyFloat(%v) = %s; want %s", f, got, want)
		}
	}
}

// FuzzBSONOf: what is stored renders as valid JSON that stores the same
// again.
func FuzzBSONOf(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e10,"x\u2028",null,{"b":false}]}`, `-0.0`, `"\ud800"`, `{"k":1,"k":{}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return
		}
		v, out, err := roundTrip(t, s)
		if err != nil {
			return
		}
		if !json.Valid([]byte(out)) {
			t.Fatalf("%q rendered as invalid JSON %q", s, out)
		}
		v2, out2, err := roundTrip(t, out)
		if err != nil || out2 != out || !reflect.DeepEqual(v, v2) {
			t.Fatalf("%q: stored %#v as %q, which stores %#v as %q (%v)", s, v, out, v2, out2, err)
		}
	})
}
