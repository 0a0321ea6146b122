package gateway

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dojot-es/dojot/projections/history"
)

func TestHistoryAccept(t *testing.T) {
	for _, c := range []struct {
		accept  string
		csv, ok bool
	}{
		{"", false, true},
		{"*/*", false, true},
		{"application/json", false, true},
		{"text/csv", true, true},
		{"text/*", true, true},
		{"text/csv, application/json;q=0.5", false, true}, // JSON whenever accepted, as dojot's History
		{"application/json;q=0, text/csv", true, true},
		{"application/xml", false, false},
		{"text/html", false, false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if c.accept != "" {
			r.Header.Set("Accept", c.accept)
		}
		csv, err := historyFormat(r)
		if csv != c.csv || (err == nil) != c.ok {
			t.Errorf("Accept %q: csv %v, err %v; want csv %v, ok %v", c.accept, csv, err, c.csv, c.ok)
		}
	}
}

func TestHistoryParams(t *testing.T) {
	for _, c := range []struct {
		query  string
		attrs  int
		list   bool
		limit  int
		oldest bool
		bad    bool
	}{
		{"attr=a", 1, false, 0, false, false},
		{"attr=a&attr=b", 2, true, 0, false, false},
		{"attr=a,b", 2, true, 0, false, false}, // Falcon 1.0 splits commas
		{"attr=", 0, false, 0, false, false},
		{"lastN=3&hLimit=5", 0, false, 3, false, false},
		{"hLimit=5", 0, false, 5, false, false},
		{"firstN=2&lastN=3", 0, false, 2, true, false},
		{"lastN=-4", 0, false, 4, false, false},
		{"lastN=x", 0, false, 0, false, true},
		{"dateFrom=yesterday", 0, false, 0, false, true},
	} {
		r := httptest.NewRequest("GET", "/?"+c.query, nil)
		attrs, list := attrParam(r)
		q, err := historyQuery(r)
		if len(attrs) != c.attrs || list != c.list || (err != nil) != c.bad || !c.bad && (q.Limit != c.limit || q.Oldest != c.oldest) {
			t.Errorf("%s: attrs %v list %v query %+v err %v", c.query, attrs, list, q, err)
		}
	}
}

func TestHistoryCSV(t *testing.T) {
	ts := time.Date(2018, 2, 14, 13, 43, 33, 306_000_000, time.UTC)
	docs := []history.Doc{
		{Attr: "t", Value: json.RawMessage(`22.12`), DeviceID: "b3", TS: ts, Metadata: json.RawMessage(`{"protocol":"mqtt"}`)},
		{Attr: "s", Value: json.RawMessage(`"say \"hi\""`), DeviceID: "b3", TS: ts, Metadata: json.RawMessage(`{}`)},
		{Attr: "o", Value: json.RawMessage(`{"x":1,"y":[1,2]}`), DeviceID: "b3", TS: ts},
		{Attr: "b", Value: json.RawMessage(`true`), DeviceID: "b3", TS: ts},
		{Attr: "n", Value: json.RawMessage(`null`), DeviceID: "b3", TS: ts},
	}
	got, err := historyCSV(docs)
	if err != nil {
		t.Fatal(err)
	}
	want := `"attr","value","device_id","ts","metadata.protocol","value.x","value.y"` + "\n" +
		`"t",22.12,"b3","2018-02-14T13:43:33.306000Z","mqtt",,` + "\n" +
		`"s","say ""hi""","b3","2018-02-14T13:43:33.306000Z",,,` + "\n" +
		`"o",,"b3","2018-02-14T13:43:33.306000Z",,1,"[1,2]"` + "\n" +
		`"b",True,"b3","2018-02-14T13:43:33.306000Z",,,` + "\n" +
		`"n",,"b3","2018-02-14T13:43:33.306000Z",,,` + "\n"
	if string(got) != want {
		t.Errorf("historyCSV =\n%s\nwant\n%s", got, want)
	}
	if got, _ := historyCSV(nil); string(got) != "\"\"\n" {
		t.Errorf("historyCSV(nil) = %q; want dojot's empty body", got)
	}
}
