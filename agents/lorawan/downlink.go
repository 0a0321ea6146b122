package lorawan

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/agents"
	"github.com/dojot-es/dojot/eventstore"
)

// ActuationConsumer is the name of the durable JetStream consumer through
// which the agents of a group share actuations.
func ActuationConsumer(group string) string { return "lorawan_actuate_" + group }

// Downlinks tells whether a network server's downlink API is configured.
func (a *Agent) Downlinks() bool { return a.opts.ChirpStackURL != "" || a.opts.TTSURL != "" }

// FollowActuations sends every device.actuated event of a LoRaWAN device
// (one with a dev_eui) as a downlink through its network server's HTTP
// API, each from one instance of the group, until ctx is done. Without a
// downlink API configured it returns nil at once.
func (a *Agent) FollowActuations(ctx context.Context, log Events) error {
	if !a.Downlinks() {
		return nil
	}
	err := log.FollowShared(ctx, eventstore.Share{
		Durable:     ActuationConsumer(a.opts.Group),
		Description: "dojot LoRaWAN agents of group " + a.opts.Group + ": device.actuated to the network server, each by one instance",
		AckWait:     2*a.opts.Timeout + 5*time.Second,
		Started: func() {
			a.log.Info("lorawan: following actuations", "consumer", ActuationConsumer(a.opts.Group))
		},
	}, func(ev dojot.Event) error {
		if ev.Type != dojot.EventDeviceActuated {
			return nil
		}
		var p dojot.DeviceActuated
		if err := ev.Decode(&p); err != nil || len(p.Attrs) == 0 {
			a.log.Error("lorawan: undecodable actuation", "seq", ev.Seq, "err", err)
			return nil
		}
		err := a.Actuate(ctx, ev.Tenant, p.ID, p.Attrs)
		var perm *permanent
		if errors.As(err, &perm) {
			a.actuationFailed.Add(1)
			a.log.Error("lorawan: actuation not sent", "tenant", ev.Tenant, "device", p.ID, "err", err)
			return nil // retrying cannot help
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("lorawan: actuations: %w", err)
	}
	return nil
}

// permanent is a downlink failure that retrying cannot mend: a device's
// settings, or the network server refusing the request.
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }

func permanentf(format string, args ...any) error {
	return &permanent{fmt.Errorf(format, args...)}
}

// Actuate sends attrs (dojot's actuation, a JSON object) to the device of
// tenant as a downlink whose FRMPayload is that JSON, or what the encoder
// its lora_encoder names makes of it (Encode): through ChirpStack's
// queue or The Things Stack's downlink push, whichever the device's
// lora_network names (the one configured, when only one is). A device
// without dev_eui is not a LoRaWAN device: nothing is sent. It returns
// once the network server took the downlink; a *permanent error means
// retrying cannot help.
func (a *Agent) Actuate(ctx context.Context, tenant, id string, attrs json.RawMessage) error {
	eui, ok := a.opts.Devices.StaticValue(tenant, id, dojot.AttrDevEUI)
	if !ok {
		return nil
	}
	// An EUI of several tenants' devices may be another tenant's device's
	// (agents.ForTenant): no tenant may send it downlinks by claiming it.
	if _, one := agents.ForTenant(a.opts.Devices.DevicesByStatic(dojot.AttrDevEUI, eui), ""); !one {
		return permanentf("device %s: devices of several tenants have the dev_eui %q: no downlink", id, eui)
	}
	eui = dojot.NormalEUI(eui)
	net, err := a.downlinkNetwork(tenant, id)
	if err != nil || net < 0 {
		return err
	}
	fport := 1
	if s, ok := a.opts.Devices.StaticValue(tenant, id, AttrFPort); ok && strings.TrimSpace(s) != "" {
		if fport, err = strconv.Atoi(strings.TrimSpace(s)); err != nil || fport < 1 || fport > 223 {
			return permanentf("device %s: %s %q: not a port from 1 to 223", id, AttrFPort, s)
		}
	}
	encoder, _ := a.opts.Devices.StaticValue(tenant, id, AttrEncoder)
	raw, err := Encode(strings.ToLower(strings.TrimSpace(encoder)), attrs)
	if err != nil {
		return permanentf("device %s: encoder %q: %v", id, encoder, err)
	}
	data := base64.StdEncoding.EncodeToString(raw)
	var endpoint, token string
	var body any
	if net == chirpStack {
		// ChirpStack v4 REST API (chirpstack-rest-api): DeviceService.Enqueue.
		type queueItem struct {
			Confirmed bool   `json:"confirmed"`
			FPort     int    `json:"fPort"`
			Data      string `json:"data"`
		}
		endpoint = a.opts.ChirpStackURL + "/api/devices/" + url.PathEscape(eui) + "/queue"
		token = a.opts.ChirpStackToken
		body = struct {
			QueueItem queueItem `json:"queueItem"`
		}{queueItem{FPort: fport, Data: data}}
	} else {
		// The Things Stack: the webhook's downlink queue push operation.
		devID, ok := a.opts.Devices.StaticValue(tenant, id, AttrTTSDeviceID)
		if devID = strings.TrimSpace(devID); !ok || devID == "" {
			devID = "eui-" + eui
		}
		type downlink struct {
			FPort      int    `json:"f_port"`
			FRMPayload string `json:"frm_payload"`
			Priority   string `json:"priority"`
		}
		endpoint = a.opts.TTSURL + "/devices/" + url.PathEscape(devID) + "/down/push"
		token = a.opts.TTSKey
		body = struct {
			Downlinks []downlink `json:"downlinks"`
		}{[]downlink{{FPort: fport, FRMPayload: data, Priority: "NORMAL"}}}
	}
	if err := a.post(ctx, endpoint, token, body); err != nil {
		return fmt.Errorf("lorawan: downlink to %s via %s: %w", id, net, err)
	}
	a.actuated.Add(1)
	return nil
}

// downlinkNetwork is the network server of a device's downlinks; -1 (and
// no error) when none is configured for it.
func (a *Agent) downlinkNetwork(tenant, id string) (network, error) {
	name, _ := a.opts.Devices.StaticValue(tenant, id, AttrNetwork)
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "chirpstack":
		if a.opts.ChirpStackURL == "" {
			return -1, permanentf("device %s: %s is chirpstack, but no ChirpStack API is configured", id, AttrNetwork)
		}
		return chirpStack, nil
	case "tts":
		if a.opts.TTSURL == "" {
			return -1, permanentf("device %s: %s is tts, but no The Things Stack API is configured", id, AttrNetwork)
		}
		return theThingsStack, nil
	case "everynet":
		return -1, nil // no downlink API (dojot's agent had none)
	case "":
		switch {
		case a.opts.ChirpStackURL != "" && a.opts.TTSURL != "":
			return -1, permanentf("device %s: both ChirpStack and The Things Stack are configured: set its %s", id, AttrNetwork)
		case a.opts.ChirpStackURL != "":
			return chirpStack, nil
		default:
			return theThingsStack, nil
		}
	}
	return -1, permanentf("device %s: %s %q: chirpstack, tts or everynet", id, AttrNetwork, name)
}

// post sends body as JSON with the bearer token. A 4xx other than 408 and
// 429 is permanent: the network server refused this request and will again.
func (a *Agent) post(ctx context.Context, endpoint, token string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(b))
	if err != nil {
		return &permanent{err}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "dojot-lorawan-agent")
	resp, err := a.opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", dojot.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
		return permanentf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return fmt.Errorf("%w: %s: %s", dojot.ErrUnavailable, resp.Status, bytes.TrimSpace(msg))
}
