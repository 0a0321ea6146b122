package filter

import (
	"encoding/json"
	"testing"
	"time"
)

// BenchmarkApply measures one message through the rule a dashboard
// typically opens (where on one attribute, fields trimming to it) and
// reports the ratio to a baseline in the same run: json.Unmarshal into any
// plus json.Marshal of the same message, the "decode into any with
// encoding/json" approach.
func BenchmarkApply(b *testing.B) {
	msg := []byte(`{"metadata":{"deviceid":"a1998e","tenant":"admin","timestamp":1600000000000,"shouldPersist":true},"attrs":{"temperature":22.5,"humidity":40,"on":true,"label":"pump-01","position":[-22.81,-47.06]}}`)
	cases := []struct{ name, fields, where string }{
		{"passthrough", "", ""},
		{"where", "", "attrs.temperature=gte:20;"},
		{"fields", "attrs/temperature,metadata/deviceid", ""},
		{"where+fields", "attrs/temperature,metadata/deviceid", "attrs.temperature=gte:20;attrs.label=in:pump;"},
	}
	baseNs := nsPerOp(2000, func() {
		var v any
		if err := json.Unmarshal(msg, &v); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	})
	for _, c := range cases {
		r, err := Parse(c.fields, c.where)
		if err != nil {
			b.Fatal(err)
		}
		// cold: every message differs (one connection's view); fanout: the
		// same message for many connections sharing the Rule.
		b.Run(c.name+"/cold", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			apply := r.apply
			if r.passthrough {
				apply = r.Apply
			}
			for b.Loop() {
				if _, ok := apply(msg); !ok {
					b.Fatal("no frame")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/baseNs, "x-encoding/json")
		})
		b.Run(c.name+"/fanout", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := r.Apply(msg); !ok {
					b.Fatal("no frame")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/baseNs, "x-encoding/json")
		})
	}
}

// nsPerOp times n runs of fn: the baseline measured in the same process.
func nsPerOp(n int, fn func()) float64 {
	start := time.Now()
	for range n {
		fn()
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}
