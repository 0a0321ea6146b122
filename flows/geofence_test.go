package flows

import "testing"

func TestGeofence(t *testing.T) {
	// FLOWS.md 7.3's polygon around Cambuí
	const points = `"points":[{"latitude":"-22.8937","longitude":"-47.0607"},{"latitude":"-22.8869","longitude":"-47.0448"},{"latitude":"-22.9056","longitude":"-47.0464"},{"latitude":"-22.9061","longitude":"-47.0553"}]`
	inside := `{"name":"","mode":"polyline","filter":"inside",` + points + `,"geopoint":"payload.data.attrs.gps"}`
	named := `{"name":"Cambuí","filter":"inside",` + points + `,"geopoint":"payload.data.attrs.gps"}`
	outside := `{"filter":"outside",` + points + `,"geopoint":"payload.data.attrs.gps"}`
	gps := func(v string) string { return `{"payload":{"data":{"attrs":{"gps":` + v + `}}}}` }
	cases := map[string]nodeCase{
		"inside hit":          {inside, gps(`"-22.8950, -47.0500"`), []string{gps(`"-22.8950, -47.0500"`)}, ""},
		"inside miss":         {inside, gps(`"-22.8000,-47.0500"`), nil, ""},
		"outside hit":         {outside, gps(`"-22.8000,-47.0500"`), []string{gps(`"-22.8000,-47.0500"`)}, ""},
		"outside miss":        {outside, gps(`"-22.8950, -47.0500"`), nil, ""},
		"name appended":       {named, gps(`"-22.8950,-47.0500"`), []string{`{"location":{"isat":["Cambuí"]},"payload":{"data":{"attrs":{"gps":"-22.8950,-47.0500"}}}}`}, ""},
		"name appended again": {named, `{"location":{"isat":["x"]},"payload":{"data":{"attrs":{"gps":"-22.8950,-47.0500"}}}}`, []string{`{"location":{"isat":["x","Cambuí"]},"payload":{"data":{"attrs":{"gps":"-22.8950,-47.0500"}}}}`}, ""},
		"text around point":   {inside, gps(`"at -22.8950 ,  -47.0500 now"`), []string{gps(`"at -22.8950 ,  -47.0500 now"`)}, ""},
		"numeric corners":     {`{"filter":"inside","geopoint":"p","points":[{"latitude":0,"longitude":0},{"latitude":0,"longitude":10},{"latitude":10,"longitude":10},{"latitude":10,"longitude":0}]}`, `{"p":"5,5"}`, []string{`{"p":"5,5"}`}, ""},

		"outside name not appended": {`{"name":"Cambuí","filter":"outside",` + points + `,"geopoint":"payload.data.attrs.gps"}`, gps(`"-22.8000,-47.0500"`), []string{gps(`"-22.8000,-47.0500"`)}, ""},
		"named miss ends quietly":   {named, gps(`"-22.8000,-47.0500"`), nil, ""},
		"signs and no decimals":     {`{"filter":"inside","geopoint":"p","points":[{"latitude":-1,"longitude":-1},{"latitude":-1,"longitude":1},{"latitude":1,"longitude":1},{"latitude":1,"longitude":-1}]}`, `{"p":"+0,-0"}`, []string{`{"p":"+0,-0"}`}, ""},
		"dot unescaped as dojot":    {inside, gps(`"-22x8950,-47x0500"`), nil, ""}, // reads -22 and -47: outside the polygon
		"missing attribute":         {inside, `{"payload":{"data":{"attrs":{}}}}`, nil, "It was not possible find attribute associated with geo coordinate"},
		"not a string":              {inside, gps(`[-22.89,-47.05]`), nil, "Message has no geographic position attached"},
		"no match":                  {inside, gps(`"-22.89;-47.05"`), nil, "Message has no geographic position attached"},
		"tab not allowed":           {inside, gps(`"-22.89,\t-47.05"`), nil, "Message has no geographic position attached"},

		"too few points":   {`{"geopoint":"p","points":[{"latitude":0,"longitude":0}]}`, `{}`, nil, "points must have at least 3 corners"},
		"bad corner":       {`{"geopoint":"p","points":[{"latitude":"x","longitude":0},{"latitude":1,"longitude":1},{"latitude":2,"longitude":0}]}`, `{}`, nil, "points[0] is not a latitude and longitude"},
		"no geopoint":      {`{` + points + `}`, `{}`, nil, "missing geopoint"},
		"points ill-typed": {`{"geopoint":"p","points":"x"}`, `{}`, nil, "points must be an array of {latitude, longitude}"},
		"bad filter":       {`{"filter":"near","geopoint":"p",` + points + `}`, `{}`, nil, `filter "near"`},
	}
	runCases(t, "geofence", cases, nil)
}
