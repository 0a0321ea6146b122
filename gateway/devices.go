package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/dojot-es/dojot"
)

// deviceCommands are DeviceManager's writes (commands.Devices). Bodies go
// through as sent: the commands read them as dojot's schemas do and answer
// with dojot's messages.
type deviceCommands interface {
	CreateTemplate(ctx context.Context, tenant string, body []byte) (int, error)
	UpdateTemplate(ctx context.Context, tenant, id string, body []byte) (int, error)
	DeleteTemplate(ctx context.Context, tenant, id string) (json.RawMessage, error)
	DeleteAllTemplates(ctx context.Context, tenant string) ([]json.RawMessage, error)
	CreateDevices(ctx context.Context, tenant string, body []byte, count int) ([]dojot.DeviceRef, error)
	UpdateDevice(ctx context.Context, tenant, id string, body []byte) error
	DeleteDevice(ctx context.Context, tenant, id string) (json.RawMessage, error)
	DeleteAllDevices(ctx context.Context, tenant string) ([]json.RawMessage, error)
	AddTemplate(ctx context.Context, tenant, deviceID, templateID string) error
	RemoveTemplate(ctx context.Context, tenant, deviceID, templateID string) error
	Actuate(ctx context.Context, tenant, deviceID string, body []byte) error
	GenPSK(ctx context.Context, tenant, deviceID string, keyLength int, attrs []string) ([]dojot.PSK, error)
	CopyPSK(ctx context.Context, tenant, deviceID, label, fromDevice, fromLabel string) error
	Import(ctx context.Context, tenant string, body []byte) error
	// Device basic credentials (basicauth.go).
	SetBasicCredentials(ctx context.Context, tenant, deviceID string) (username, password string, err error)
	CheckDeviceCredentials(tenant, deviceID, password string) bool
}

// deviceView is DeviceManager's reads (memory.View): JSON rendered as dojot
// renders it.
type deviceView interface {
	TemplateJSON(ctx context.Context, tenant string, id int) ([]byte, bool, error)
	ListTemplates(ctx context.Context, tenant string, q dojot.TemplateQuery) ([]byte, error)
	DeviceJSON(ctx context.Context, tenant, id string) ([]byte, bool, error)
	ListDevices(ctx context.Context, tenant string, q dojot.DeviceQuery) ([]byte, error)
	// The internal reads show pre-shared keys (devices_psk.go).
	InternalDeviceJSON(ctx context.Context, tenant, id string) ([]byte, bool, error)
	ListInternalDevices(ctx context.Context, tenant string, q dojot.DeviceQuery) ([]byte, error)
}

func (s *Server) mountDeviceManager(r chi.Router) {
	r.Method(http.MethodGet, "/template", tenantHandler(s.listTemplates))
	r.Method(http.MethodPost, "/template", tenantHandler(s.createTemplate))
	r.Method(http.MethodDelete, "/template", tenantHandler(s.deleteAllTemplates))
	r.Method(http.MethodGet, "/template/{id}", tenantHandler(s.getTemplate))
	r.Method(http.MethodPut, "/template/{id}", tenantHandler(s.updateTemplate))
	r.Method(http.MethodDelete, "/template/{id}", tenantHandler(s.deleteTemplate))

	r.Method(http.MethodGet, "/device", tenantHandler(s.listDevices))
	r.Method(http.MethodPost, "/device", tenantHandler(s.createDevices))
	r.Method(http.MethodDelete, "/device", tenantHandler(s.deleteAllDevices))
	r.Method(http.MethodGet, "/device/template/{tid}", tenantHandler(s.devicesByTemplate))
	r.Method(http.MethodGet, "/device/{id}", tenantHandler(s.getDevice))
	r.Method(http.MethodPut, "/device/{id}", tenantHandler(s.updateDevice))
	r.Method(http.MethodDelete, "/device/{id}", tenantHandler(s.deleteDevice))
	r.Method(http.MethodPut, "/device/{id}/actuate", tenantHandler(s.actuate))
	r.Method(http.MethodPost, "/device/{id}/template/{tid}", tenantHandler(s.addDeviceTemplate))
	r.Method(http.MethodDelete, "/device/{id}/template/{tid}", tenantHandler(s.removeDeviceTemplate))
	r.Method(http.MethodPost, "/device/gen_psk/{id}", tenantHandler(s.genPSK))
	r.Method(http.MethodPut, "/device/{id}/attrs/{label}/psk", tenantHandler(s.copyPSK))

	// dojot's internal reads (no Kong route in dojot): behind the same PEP,
	// whose seeded permissions only the admin's "/(.*)" lets through.
	r.Method(http.MethodGet, "/internal/device", tenantHandler(s.listInternalDevices))
	r.Method(http.MethodGet, "/internal/device/{id}", tenantHandler(s.getInternalDevice))

	r.Method(http.MethodPost, "/import", tenantHandler(s.importData))

	// The change log (ours): behind the same PEP as the reads, whose
	// permissions on /device/(.*) and /template/(.*) cover it.
	if s.opts.Events != nil {
		r.Method(http.MethodGet, "/device/{id}/events", tenantHandler(s.deviceEvents))
		r.Method(http.MethodGet, "/template/{id}/events", tenantHandler(s.templateEvents))
	}
}

// tenantHandler is a DeviceManager handler: it serves the caller's tenant and
// returns its error instead of answering it.
type tenantHandler func(w http.ResponseWriter, r *http.Request, tenant string) error

// ServeHTTP calls h for the caller's tenant (dmTenant) and answers an error
// from either through writeError.
func (h tenantHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tenant, err := dmTenant(r)
	if err == nil {
		err = h(w, r, tenant)
	}
	if err != nil {
		writeError(w, r, err)
	}
}

// dmTenant is the caller's tenant (the PEP has put the identity there).
func dmTenant(r *http.Request) (string, error) {
	id, ok := dojot.IdentityFrom(r.Context())
	if !ok || id.Tenant == "" {
		return "", &dojot.Error{Kind: dojot.ErrUnauthorized, Message: "No authorization token has been supplied"}
	}
	return id.Tenant, nil
}

// jsonBody reads a body that must be declared as JSON, as dojot's
// parse_payload requires.
func jsonBody(r *http.Request) ([]byte, error) {
	if !isJSON(r) {
		return nil, errBadJSON
	}
	return readBody(r)
}

// dmPage reads page_num and page_size as dojot's get_pagination does.
func dmPage(r *http.Request) (dojot.Page, error) {
	q := r.URL.Query()
	num, err1 := queryInt(q, "page_num", 1)
	size, err2 := queryInt(q, "page_size", 20)
	switch {
	case err1 != nil || err2 != nil:
		return dojot.Page{}, &dojot.Error{Kind: dojot.ErrInvalid, Message: "page_size and page_num must be integers"}
	case num < 1:
		return dojot.Page{}, &dojot.Error{Kind: dojot.ErrInvalid, Message: "Page numbers must be greater than 1"}
	case size < 1:
		return dojot.Page{}, &dojot.Error{Kind: dojot.ErrInvalid, Message: "At least one entry per page is mandatory"}
	}
	return dojot.Page{Num: num, Size: size}, nil
}

func queryInt(q map[string][]string, key string, def int) (int, error) {
	v, ok := q[key]
	if !ok || len(v) == 0 {
		return def, nil
	}
	return strconv.Atoi(strings.TrimSpace(v[0]))
}

// parseAttrFilter splits attr=<label>=<value> as dojot's regex
// ^(.+){1}=(.+){1}$ does: at the last '=' that has a character on each
// side ('.' does not match a newline).
func parseAttrFilter(s string) (dojot.AttrFilter, bool) {
	if strings.ContainsRune(s, '\n') {
		return dojot.AttrFilter{}, false
	}
	for i := len(s) - 2; i >= 1; i-- {
		if s[i] == '=' {
			return dojot.AttrFilter{Label: s[:i], Value: s[i+1:]}, true
		}
	}
	return dojot.AttrFilter{}, false
}

// attrFilters reads the repeatable attr and attr_type parameters.
func attrFilters(r *http.Request) ([]dojot.AttrFilter, []string, error) {
	q := r.URL.Query()
	var fs []dojot.AttrFilter
	for _, a := range q["attr"] {
		f, ok := parseAttrFilter(a)
		if !ok {
			return nil, nil, &dojot.Error{Kind: dojot.ErrInvalid, Message: "attr filters must be given as <label>=<value>"}
		}
		fs = append(fs, f)
	}
	return fs, q["attr_type"], nil
}

// templateParam reads a template id from a query or path; one that is not
// a number names no template.
func templateParam(s string) int {
	id, err := strconv.Atoi(s)
	if err != nil || id < 1 {
		return -1
	}
	return id
}

// okResult is {"result":"ok", key: v} with keys sorted as Flask does.
func okResult(key string, v any) map[string]any { return map[string]any{"result": "ok", key: v} }

// --- templates ---

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request, tenant string) error {
	page, err := dmPage(r)
	if err != nil {
		return err
	}
	attr, types, err := attrFilters(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	tq := dojot.TemplateQuery{Page: page, Attr: attr, AttrType: types, Label: q.Get("label"), SortByLabel: q.Get("sortBy") == "label"}
	switch q.Get("attr_format") {
	case "split":
		tq.Format = dojot.AttrFormatSplit
	case "single":
		tq.Format = dojot.AttrFormatSingle
	}
	body, err := s.opts.DeviceView.ListTemplates(r.Context(), tenant, tq)
	if err != nil {
		return err
	}
	writeRawJSON(w, http.StatusOK, body)
	return nil
}

// getTemplate ignores attr_format: dojot's handler reads it under another
// name than it stores it, so GET /template/:id always shows every list.
func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request, tenant string) error {
	idText := pathParam(r, "id")
	id, err := strconv.Atoi(idText)
	if err != nil {
		return &dojot.Error{Kind: dojot.ErrNotFound, Message: "No such template: " + idText}
	}
	body, ok, err := s.opts.DeviceView.TemplateJSON(r.Context(), tenant, id)
	if err != nil {
		return err
	}
	if !ok {
		return &dojot.Error{Kind: dojot.ErrNotFound, Message: "No such template: " + idText}
	}
	writeRawJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) createTemplate(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := jsonBody(r)
	if err != nil {
		return err
	}
	id, err := s.opts.DeviceCommands.CreateTemplate(r.Context(), tenant, body)
	if err != nil {
		return err
	}
	tpl, _, err := s.opts.DeviceView.TemplateJSON(r.Context(), tenant, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okResult("template", rawOrNull(tpl)))
	return nil
}

func (s *Server) updateTemplate(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if !isJSON(r) { // dojot looks the template up first: 404 beats a bad body
		body = nil
	}
	id, err := s.opts.DeviceCommands.UpdateTemplate(r.Context(), tenant, pathParam(r, "id"), body)
	if err != nil {
		return err
	}
	tpl, _, err := s.opts.DeviceView.TemplateJSON(r.Context(), tenant, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okResult("updated", rawOrNull(tpl)))
	return nil
}

func (s *Server) deleteTemplate(w http.ResponseWriter, r *http.Request, tenant string) error {
	removed, err := s.opts.DeviceCommands.DeleteTemplate(r.Context(), tenant, pathParam(r, "id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okResult("removed", rawOrNull(removed)))
	return nil
}

func (s *Server) deleteAllTemplates(w http.ResponseWriter, r *http.Request, tenant string) error {
	removed, err := s.opts.DeviceCommands.DeleteAllTemplates(r.Context(), tenant)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okResult("removed", removed))
	return nil
}

func rawOrNull(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

// --- devices ---

func (s *Server) deviceQuery(r *http.Request) (dojot.DeviceQuery, error) {
	page, err := dmPage(r)
	if err != nil {
		return dojot.DeviceQuery{}, err
	}
	attr, types, err := attrFilters(r)
	if err != nil {
		return dojot.DeviceQuery{}, err
	}
	q := r.URL.Query()
	dq := dojot.DeviceQuery{Page: page, Attr: attr, AttrType: types, Label: q.Get("label"), SortByLabel: q.Get("sortBy") == "label"}
	if t := q.Get("template"); t != "" {
		dq.Template = templateParam(t)
	}
	if v, ok := q["idsOnly"]; ok && len(v) > 0 {
		switch strings.ToLower(v[0]) {
		case "true", "1", "":
			dq.IDsOnly = true
		}
	}
	return dq, nil
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request, tenant string) error {
	return s.writeDevices(w, r, tenant, s.opts.DeviceView.ListDevices)
}

// writeDevices answers a device listing (GET /device, /internal/device)
// from list.
func (s *Server) writeDevices(w http.ResponseWriter, r *http.Request, tenant string, list func(context.Context, string, dojot.DeviceQuery) ([]byte, error)) error {
	q, err := s.deviceQuery(r)
	if err != nil {
		return err
	}
	body, err := list(r.Context(), tenant, q)
	if err != nil {
		return err
	}
	writeRawJSON(w, http.StatusOK, body)
	return nil
}

// devicesByTemplate is GET /device/template/:tid: only pagination applies.
func (s *Server) devicesByTemplate(w http.ResponseWriter, r *http.Request, tenant string) error {
	page, err := dmPage(r)
	if err != nil {
		return err
	}
	q := dojot.DeviceQuery{Page: page, Template: templateParam(pathParam(r, "tid"))}
	body, err := s.opts.DeviceView.ListDevices(r.Context(), tenant, q)
	if err != nil {
		return err
	}
	writeRawJSON(w, http.StatusOK, body)
	return nil
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request, tenant string) error {
	return writeDevice(w, r, tenant, s.opts.DeviceView.DeviceJSON)
}

// writeDevice answers a device read (GET /device/:id,
// /internal/device/:id) from get.
func writeDevice(w http.ResponseWriter, r *http.Request, tenant string, get func(ctx context.Context, tenant, id string) ([]byte, bool, error)) error {
	id := pathParam(r, "id")
	body, ok, err := get(r.Context(), tenant, id)
	if err != nil {
		return err
	}
	if !ok {
		return &dojot.Error{Kind: dojot.ErrNotFound, Message: "No such device: " + id}
	}
	writeRawJSON(w, http.StatusOK, body)
	return nil
}

// maxCount bounds count= so that one request cannot exhaust memory.
const maxCount = 1_000_000

func (s *Server) createDevices(w http.ResponseWriter, r *http.Request, tenant string) error {
	q := r.URL.Query()
	count := 1
	if v, ok := q["count"]; ok && len(v) > 0 {
		var err error
		count, err = strconv.Atoi(strings.TrimSpace(v[0]))
		if err != nil || count < 1 || count > maxCount {
			return &dojot.Error{Kind: dojot.ErrInvalid, Message: "If provided, count must be integer"}
		}
	}
	verbose := false
	switch q.Get("verbose") {
	case "true", "1", "True":
		verbose = true
	}
	if verbose && count != 1 {
		return &dojot.Error{Kind: dojot.ErrInvalid, Message: "Verbose can only be used for single device creation"}
	}
	body, err := jsonBody(r)
	if err != nil {
		return err
	}
	refs, err := s.opts.DeviceCommands.CreateDevices(r.Context(), tenant, body, count)
	if err != nil {
		return err
	}
	if verbose {
		dev, _, err := s.opts.DeviceView.DeviceJSON(r.Context(), tenant, refs[0].ID)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"message": "device created", "devices": []json.RawMessage{rawOrNull(dev)}})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "devices created", "devices": refs})
	return nil
}

func (s *Server) updateDevice(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := jsonBody(r)
	if err != nil {
		return err
	}
	id := pathParam(r, "id")
	if err := s.opts.DeviceCommands.UpdateDevice(r.Context(), tenant, id, body); err != nil {
		return err
	}
	return s.deviceUpdated(w, r, tenant, id)
}

// deviceUpdated is {"device":..,"message":"device updated"}.
func (s *Server) deviceUpdated(w http.ResponseWriter, r *http.Request, tenant, id string) error {
	dev, _, err := s.opts.DeviceView.DeviceJSON(r.Context(), tenant, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "device updated", "device": rawOrNull(dev)})
	return nil
}

func (s *Server) deleteDevice(w http.ResponseWriter, r *http.Request, tenant string) error {
	removed, err := s.opts.DeviceCommands.DeleteDevice(r.Context(), tenant, pathParam(r, "id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okResult("removed_device", rawOrNull(removed)))
	return nil
}

func (s *Server) deleteAllDevices(w http.ResponseWriter, r *http.Request, tenant string) error {
	removed, err := s.opts.DeviceCommands.DeleteAllDevices(r.Context(), tenant)
	if err != nil {
		return err
	}
	if removed == nil {
		removed = []json.RawMessage{}
	}
	writeJSON(w, http.StatusOK, okResult("removed_devices", removed))
	return nil
}

// actuate reads the body whatever its Content-Type, as dojot does.
func (s *Server) actuate(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if err := s.opts.DeviceCommands.Actuate(r.Context(), tenant, pathParam(r, "id"), body); err != nil {
		return err
	}
	// The leading space is dojot's.
	writeJSON(w, http.StatusOK, map[string]string{" status": "configuration sent to device"})
	return nil
}

func (s *Server) addDeviceTemplate(w http.ResponseWriter, r *http.Request, tenant string) error {
	id := pathParam(r, "id")
	if err := s.opts.DeviceCommands.AddTemplate(r.Context(), tenant, id, pathParam(r, "tid")); err != nil {
		return err
	}
	return s.deviceUpdated(w, r, tenant, id)
}

func (s *Server) removeDeviceTemplate(w http.ResponseWriter, r *http.Request, tenant string) error {
	id := pathParam(r, "id")
	if err := s.opts.DeviceCommands.RemoveTemplate(r.Context(), tenant, id, pathParam(r, "tid")); err != nil {
		return err
	}
	return s.deviceUpdated(w, r, tenant, id)
}

// importData is POST /import; dojot turns every failure, a wrong
// Content-Type included, into "Failed to import data".
func (s *Server) importData(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if !isJSON(r) {
		return &dojot.Error{Kind: dojot.ErrInvalid, Message: "Failed to import data"}
	}
	if err := s.opts.DeviceCommands.Import(r.Context(), tenant, body); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"message": "data imported!"})
	return nil
}
