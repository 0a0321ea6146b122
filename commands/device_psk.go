package commands

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"slices"

	"github.com/dojot-es/dojot"
)

// Pre-shared keys: attributes whose value_type is "psk" get a random key
// per device (POST /device/gen_psk/:id) or a copy of another device's key
// (PUT /device/:id/attrs/:label/psk). The key is decided here and stored in
// clear in the device.updated event (cause "psk"), as dojot keeps it,
// encrypted, in its pre_shared_keys table: the public API never shows it,
// the internal one does.

// MaxKeyLength is the largest key_length, in bytes, dojot accepts.
const MaxKeyLength = 1024

// pskType is the value_type dojot special-cases.
const pskType = "psk"

// GenPSK generates a key of keyLength random bytes (shown as hex) for each
// of the device's psk attributes, or only for those labelled in attrs when
// attrs is not nil. It returns the keys in attribute order; none (and
// nothing stored) when attrs is nil and the device has no psk attribute,
// which dojot answers with 204.
func (d *Devices) GenPSK(ctx context.Context, tenant, deviceID string, keyLength int, attrs []string) ([]dojot.PSK, error) {
	var keys []dojot.PSK
	err := retry(ctx, &d.opts, func() (uint64, error) {
		before, err := d.checkpoint(ctx)
		if err != nil {
			return 0, err
		}
		ev, k, err := decideGenPSK(d.st, d.env(ctx), tenant, deviceID, keyLength, attrs)
		keys = k
		if err != nil || len(k) == 0 {
			return 0, err
		}
		return d.appendFresh(ctx, before, ev)
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

func decideGenPSK(st DeviceState, e decideEnv, tenant, deviceID string, keyLength int, attrs []string) (dojot.Event, []dojot.PSK, error) {
	dv, ok := st.Device(tenant, deviceID)
	if !ok {
		return dojot.Event{}, nil, dmNotFound("No such device: %s", deviceID)
	}
	if keyLength > MaxKeyLength || keyLength <= 0 {
		return dojot.Event{}, nil, dmInvalid(fmt.Sprintf("key_length must be greater than 0 and lesser than %d", MaxKeyLength))
	}
	var targets []dojot.Attr
	for _, a := range deviceAttrs(st, tenant, dv) {
		if a.ValueType == pskType && (attrs == nil || slices.Contains(attrs, a.Label)) {
			targets = append(targets, a)
		}
	}
	// dojot counts matching attributes against the labels asked for, so a
	// repeated or unknown label, or a label that is not psk, fails alike.
	if attrs != nil && len(targets) != len(attrs) {
		return dojot.Event{}, nil, dmInvalid("Not found some attributes, please check them")
	}
	if len(targets) == 0 {
		return dojot.Event{}, nil, nil
	}
	keys := make([]dojot.PSK, 0, len(targets))
	buf := make([]byte, keyLength)
	for _, a := range targets {
		if _, err := io.ReadFull(e.rand, buf); err != nil {
			return dojot.Event{}, nil, fmt.Errorf("psk: %w", err)
		}
		key := hex.EncodeToString(buf)
		dv.PSKs = setPSK(dv.PSKs, a.ID, key)
		keys = append(keys, dojot.PSK{Attribute: a.Label, PSK: key})
	}
	now := e.now
	dv.Updated = &now
	ev, err := e.newEvent(st, dojot.EventDeviceUpdated, tenant, dojot.KindDevice, deviceID,
		dojot.DeviceUpdated{Device: dv, Cause: dojot.CausePSK})
	return ev, keys, err
}

// CopyPSK copies the key of fromDevice's attribute fromLabel to
// deviceID's attribute label (both must be psk attributes, and the source
// must have a key).
func (d *Devices) CopyPSK(ctx context.Context, tenant, deviceID, label, fromDevice, fromLabel string) error {
	return d.appendOne(ctx, func() (dojot.Event, error) {
		return decideCopyPSK(d.st, d.env(ctx), tenant, deviceID, label, fromDevice, fromLabel)
	})
}

func decideCopyPSK(st DeviceState, e decideEnv, tenant, deviceID, label, fromDevice, fromLabel string) (dojot.Event, error) {
	src, ok := st.Device(tenant, fromDevice)
	if !ok {
		return dojot.Event{}, dmNotFound("No such device: %s", fromDevice)
	}
	from, err := pskAttr(st, tenant, src, fromLabel)
	if err != nil {
		return dojot.Event{}, err
	}
	dst, ok := st.Device(tenant, deviceID)
	if !ok {
		return dojot.Event{}, dmNotFound("No such device: %s", deviceID)
	}
	to, err := pskAttr(st, tenant, dst, label)
	if err != nil {
		return dojot.Event{}, err
	}
	i := slices.IndexFunc(src.PSKs, func(k dojot.Override) bool { return k.AttrID == from.ID })
	if i < 0 {
		return dojot.Event{}, dmInvalid(fmt.Sprintf("There is not a psk generated to %s", fromLabel))
	}
	dst.PSKs = setPSK(dst.PSKs, to.ID, src.PSKs[i].StaticValue)
	now := e.now
	dst.Updated = &now
	return e.newEvent(st, dojot.EventDeviceUpdated, tenant, dojot.KindDevice, deviceID,
		dojot.DeviceUpdated{Device: dst, Cause: dojot.CausePSK})
}

// pskAttr finds a device's attribute by label as dojot's copy_psk does:
// the first attribute of each template with that label must be psk (else
// 400), and the last such one found wins.
func pskAttr(st DeviceState, tenant string, dv dojot.Device, label string) (dojot.Attr, error) {
	var found *dojot.Attr
	for _, tid := range dv.Templates {
		tp, ok := st.Template(tenant, tid)
		if !ok {
			continue
		}
		for i := range tp.Attrs {
			if a := &tp.Attrs[i]; a.Label == label {
				if a.ValueType != pskType {
					return dojot.Attr{}, dmInvalid(fmt.Sprintf("Attribute %s is not a 'psk' type_value", label))
				}
				found = a
				break
			}
		}
	}
	if found == nil {
		return dojot.Attr{}, dmNotFound("Not found attributes %s", label)
	}
	return *found, nil
}

// deviceAttrs lists the top-level attributes of a device's templates, in
// the device's template order.
func deviceAttrs(st DeviceState, tenant string, dv dojot.Device) []dojot.Attr {
	var out []dojot.Attr
	for _, tid := range dv.Templates {
		if tp, ok := st.Template(tenant, tid); ok {
			out = append(out, tp.Attrs...)
		}
	}
	return out
}

// setPSK returns keys with attrID's key set to key, leaving keys (shared
// with the view) untouched.
func setPSK(keys []dojot.Override, attrID int, key string) []dojot.Override {
	out := slices.Clone(keys)
	for i := range out {
		if out[i].AttrID == attrID {
			out[i].StaticValue = key
			return out
		}
	}
	return append(out, dojot.Override{AttrID: attrID, StaticValue: key})
}
