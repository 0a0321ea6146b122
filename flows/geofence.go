package flows

import (
	"context"
	"errors"
	"regexp"
	"strconv"

	"github.com/dojot-es/dojot/internal/jsnum"
)

// geofenceNode lets a message through when the device's position is inside
// (or outside) a polygon (FLOWS.md 4.5).
type geofenceNode struct {
	name     string
	geopoint string
	inside   bool
	lat, lng []float64
}

func init() { register("geofence", newGeofence) }

// geoPoint is dojot's getLatLng pattern, "." unescaped as in dojot.
var geoPoint = regexp.MustCompile(`([+-]?\d+(.\d+)?)[ ]*,[ ]*([+-]?\d+(.\d+)?)`)

func newGeofence(s *spec) Node {
	n := &geofenceNode{name: s.str("name", ""), geopoint: s.required("geopoint")}
	n.inside = s.oneOf("filter", "inside", "inside", "outside") == "inside"
	var points []struct {
		Lat any `json:"latitude"`
		Lng any `json:"longitude"`
	}
	s.into("points", &points, "an array of {latitude, longitude}")
	for i, p := range points {
		lat, lng := coordinate(p.Lat), coordinate(p.Lng)
		if lat != lat || lng != lng || lat < -90 || lat > 90 || lng < -180 || lng > 180 {
			s.fail("points[%d] is not a latitude and longitude", i)
		}
		n.lat, n.lng = append(n.lat, lat), append(n.lng, lng)
	}
	if len(points) < 3 {
		s.fail("points must have at least 3 corners")
	}
	return n
}

// coordinate is geolib's reading of a coordinate: a number, or a decimal
// string (parseFloat: the longest numeric prefix).
func coordinate(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		return parseFloatPrefix(x)
	}
	return nan
}

var nan = jsNumber(undef)

var floatPrefix = regexp.MustCompile(`^[\s]*[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)`)

// parseFloatPrefix is JavaScript's parseFloat for decimal strings.
func parseFloatPrefix(s string) float64 {
	m := floatPrefix.FindString(s)
	if m == "" {
		return nan
	}
	f, err := strconv.ParseFloat(trimJSSpace(m), 64)
	if err != nil {
		return nan
	}
	return f
}

func trimJSSpace(s string) string {
	for len(s) > 0 && jsnum.IsSpace(rune(s[0])) {
		s = s[1:]
	}
	return s
}

func (n *geofenceNode) Process(_ context.Context, _ *Call, msg Msg) ([]Msg, error) {
	v, err := Get(msg, n.geopoint)
	if err != nil {
		return nil, errors.New("It was not possible find attribute associated with geo coordinate") //nolint:staticcheck // dojot's text
	}
	str, _ := v.(string)
	m := geoPoint.FindStringSubmatch(str)
	if m == nil {
		return nil, errors.New("Message has no geographic position attached") //nolint:staticcheck // dojot's text
	}
	lat, lng := parseFloatPrefix(m[1]), parseFloatPrefix(m[3])
	in := n.contains(lat, lng)
	switch {
	case in && n.inside:
		if n.name != "" {
			loc, ok := msg["location"].(map[string]any)
			if !ok {
				loc = map[string]any{}
				msg["location"] = loc
			}
			isat, _ := loc["isat"].([]any)
			loc["isat"] = append(isat, n.name)
		}
		return []Msg{msg}, nil
	case !in && !n.inside:
		return []Msg{msg}, nil
	}
	return nil, nil // no hit: the branch ends quietly
}

// contains is geolib 2's isPointInside: ray casting on the longitude.
func (n *geofenceNode) contains(lat, lng float64) bool {
	c := false
	for i, j := 0, len(n.lat)-1; i < len(n.lat); j, i = i, i+1 {
		if ((n.lng[i] <= lng && lng < n.lng[j]) || (n.lng[j] <= lng && lng < n.lng[i])) &&
			lat < (n.lat[j]-n.lat[i])*(lng-n.lng[i])/(n.lng[j]-n.lng[i])+n.lat[i] {
			c = !c
		}
	}
	return c
}
