package mqtt

import (
	"errors"
	"strings"

	"github.com/dojot-es/dojot"
)

// Topic is a device topic: <tenant>:<deviceid>/<kind> (dojot v0.8), or
// /<tenant>/<deviceid>/<kind> (the legacy iotagent-mosca form, Legacy).
type Topic struct {
	Tenant, Device string
	Kind           string // "attrs" (device -> platform) or "config" (actuation)
	Legacy         bool
}

// Kinds of topic.
const (
	KindAttrs  = "attrs"
	KindConfig = "config"
)

var errTopic = errors.New("not a device topic (<tenant>:<deviceid>/attrs|config or /<tenant>/<deviceid>/attrs|config)")

// ParseTopic parses a device topic. The tenant and device id must be valid
// dojot names (safe NATS subject tokens), so a parsed topic can name a
// subject.
func ParseTopic(s string) (Topic, error) {
	var t Topic
	var ok bool
	if rest, legacy := strings.CutPrefix(s, "/"); legacy {
		parts := strings.Split(rest, "/")
		if len(parts) != 3 {
			return Topic{}, errTopic
		}
		t = Topic{Tenant: parts[0], Device: parts[1], Kind: parts[2], Legacy: true}
	} else {
		var id string
		if id, t.Kind, ok = strings.Cut(s, "/"); !ok {
			return Topic{}, errTopic
		}
		if t.Tenant, t.Device, ok = strings.Cut(id, ":"); !ok {
			return Topic{}, errTopic
		}
	}
	if (t.Kind != KindAttrs && t.Kind != KindConfig) || !dojot.ValidTenant(t.Tenant) || !dojot.ValidToken(t.Device) {
		return Topic{}, errTopic
	}
	return t, nil
}

// String is the topic as a client writes it.
func (t Topic) String() string {
	if t.Legacy {
		return "/" + t.Tenant + "/" + t.Device + "/" + t.Kind
	}
	return t.Tenant + ":" + t.Device + "/" + t.Kind
}

// parseIdentity splits "<tenant>:<deviceid>" (dojot's MQTT username and
// client id), or "<tenant>@<deviceid>" (the username of dojot's basic
// credentials), and checks both names.
func parseIdentity(s string) (tenant, device string, ok bool) {
	tenant, device, ok = strings.Cut(s, ":")
	if !ok {
		tenant, device, ok = strings.Cut(s, "@")
	}
	if !ok || !dojot.ValidTenant(tenant) || !dojot.ValidToken(device) {
		return "", "", false
	}
	return tenant, device, true
}
