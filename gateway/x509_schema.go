package gateway

import (
	"fmt"
	"regexp"

	"github.com/dojot-es/dojot"
)

// The JSON schemas of x509-identity-mgmt's bodies (js/schemas/*.json),
// checked as ajv does with removeAdditional (unknown keys are dropped, not
// refused); a failure is dojot's 400 with ajv's errors in detail.

const schemaBase = "https://raw.githubusercontent.com/dojot/dojot/development/iam/x509-identity-mgmt/js/schemas/"

const (
	schemaCertificate     = schemaBase + "register-or-generate-certificate.json"
	schemaChangeOwner     = schemaBase + "change-owner-certificate.json"
	schemaTrustedCA       = schemaBase + "register-trusted-ca-certificate.json"
	schemaUpdateTrustedCA = schemaBase + "update-trusted-ca-certificate.json"
)

var (
	csrPattern   = regexp.MustCompile(`^-----BEGIN CERTIFICATE REQUEST-----\r?\n([-A-Za-z0-9+/=]{1,64}\r?\n)+-----END CERTIFICATE REQUEST-----\r?\n?$`)
	caFPPattern  = regexp.MustCompile(`^([A-Fa-f0-9]{2}:?){32}$`)
	appPattern   = regexp.MustCompile(`^[0-9a-zA-Z-]{1,64}$`)
	csrPatternS  = `^-----BEGIN CERTIFICATE REQUEST-----\r?\n([-A-Za-z0-9+/=]{1,64}\r?\n)+-----END CERTIFICATE REQUEST-----\r?\n?$`
	caFPPatternS = `^([A-Fa-f0-9]{2}:?){32}$`
)

// pemMaxLength is the schema's maxLength for a PEM text.
const pemMaxLength = 65536

// schemaError is one ajv (v6) error.
type schemaError struct {
	Keyword    string         `json:"keyword"`
	DataPath   string         `json:"dataPath"`
	SchemaPath string         `json:"schemaPath"`
	Params     map[string]any `json:"params"`
	Message    string         `json:"message"`
}

func schemaFailure(id string, errs ...schemaError) error {
	return &dojot.Error{Kind: dojot.ErrInvalid, Message: "Input data schema validation failure.", Body: map[string]any{
		"error":  "Input data schema validation failure.",
		"detail": map[string]any{"schemaId": id, "schemaErrors": errs},
	}}
}

// schemaCheck collects the errors of one body.
type schemaCheck struct{ errs []schemaError }

func (c *schemaCheck) fail(keyword, path, schemaPath string, params map[string]any, msg string) {
	c.errs = append(c.errs, schemaError{keyword, path, schemaPath, params, msg})
}

// str checks an optional string property; required says it must be there.
func (c *schemaCheck) str(m map[string]any, key, schemaPath string, max int, re *regexp.Regexp, reText string) {
	v, ok := m[key]
	if !ok {
		return
	}
	s, isStr := v.(string)
	if !isStr {
		c.fail("type", "."+key, schemaPath+"/type", map[string]any{"type": "string"}, "should be string")
		return
	}
	if max > 0 && len([]rune(s)) > max {
		c.fail("maxLength", "."+key, schemaPath+"/maxLength", map[string]any{"limit": max}, fmt.Sprintf("should NOT be longer than %d characters", max))
	}
	if re != nil && !re.MatchString(s) {
		c.fail("pattern", "."+key, schemaPath+"/pattern", map[string]any{"pattern": reText}, fmt.Sprintf("should match pattern \"%s\"", reText))
	}
}

// owner checks belongsTo: an object with exactly one of device (a device
// id, or null) and application.
func (c *schemaCheck) owner(m map[string]any, schemaPath string) {
	v, ok := m["belongsTo"]
	if !ok {
		return
	}
	o, isObj := v.(map[string]any)
	if !isObj {
		c.fail("type", ".belongsTo", schemaPath+"/type", map[string]any{"type": "object"}, "should be object")
		return
	}
	n := 0
	for _, k := range []string{"device", "application"} {
		val, ok := o[k]
		if !ok {
			continue
		}
		n++
		if val == nil {
			continue
		}
		s, isStr := val.(string)
		switch {
		case !isStr:
			c.fail("type", ".belongsTo."+k, schemaPath+"/properties/"+k+"/type", map[string]any{"type": "string,null"}, "should be string,null")
		case k == "device" && !dojot.ValidToken(s):
			// Any id a device may have here (dojot's pattern,
			// ^[0-9a-fA-F-]{5,36}$, knew only its own hex ids).
			c.fail("pattern", ".belongsTo.device", schemaPath+"/properties/device/pattern", map[string]any{"pattern": "^[0-9A-Za-z_-]{1,128}$"}, `should match pattern "^[0-9A-Za-z_-]{1,128}$"`)
		case k == "application" && !appPattern.MatchString(s):
			c.fail("pattern", ".belongsTo.application", schemaPath+"/properties/application/pattern", map[string]any{"pattern": "^[0-9a-zA-Z-]{1,64}$"}, `should match pattern "^[0-9a-zA-Z-]{1,64}$"`)
		}
	}
	if n != 1 {
		c.fail("oneOf", ".belongsTo", schemaPath+"/oneOf", map[string]any{"passingSchemas": nil}, "should match exactly one schema in oneOf")
	}
	for k := range o {
		if k != "device" && k != "application" {
			delete(o, k)
		}
	}
}

func object(v any, id string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, schemaFailure(id, schemaError{"type", "", "#/type", map[string]any{"type": "object"}, "should be object"})
	}
	return m, nil
}

// keep drops the keys the schema does not name (removeAdditional).
func keep(m map[string]any, keys ...string) {
	allowed := map[string]bool{}
	for _, k := range keys {
		allowed[k] = true
	}
	for k := range m {
		if !allowed[k] {
			delete(m, k)
		}
	}
}

func (c *schemaCheck) result(id string) error {
	if len(c.errs) == 0 {
		return nil
	}
	return schemaFailure(id, c.errs...)
}

func checkCertificateBody(v any) (map[string]any, error) {
	m, err := object(v, schemaCertificate)
	if err != nil {
		return nil, err
	}
	keep(m, "csr", "certificateChain", "caFingerprint", "belongsTo")
	var c schemaCheck
	_, hasCSR := m["csr"]
	_, hasChain := m["certificateChain"]
	if hasCSR == hasChain {
		c.fail("oneOf", "", "#/oneOf", map[string]any{"passingSchemas": nil}, "should match exactly one schema in oneOf")
	}
	c.str(m, "csr", "#/properties/csr", pemMaxLength, csrPattern, csrPatternS)
	c.str(m, "certificateChain", "#/properties/certificateChain", pemMaxLength, nil, "")
	c.str(m, "caFingerprint", "#/properties/caFingerprint", 0, caFPPattern, caFPPatternS)
	c.owner(m, "#/properties/belongsTo")
	return m, c.result(schemaCertificate)
}

func checkChangeOwnerBody(v any) (map[string]any, error) {
	m, err := object(v, schemaChangeOwner)
	if err != nil {
		return nil, err
	}
	keep(m, "belongsTo")
	var c schemaCheck
	if _, ok := m["belongsTo"]; !ok {
		c.fail("required", "", "#/required", map[string]any{"missingProperty": "belongsTo"}, "should have required property 'belongsTo'")
	}
	c.owner(m, "#/properties/belongsTo")
	return m, c.result(schemaChangeOwner)
}

func checkTrustedCABody(v any) (map[string]any, error) {
	m, err := object(v, schemaTrustedCA)
	if err != nil {
		return nil, err
	}
	keep(m, "caPem", "allowAutoRegistration")
	var c schemaCheck
	if _, ok := m["caPem"]; !ok {
		c.fail("required", "", "#/required", map[string]any{"missingProperty": "caPem"}, "should have required property 'caPem'")
	}
	c.str(m, "caPem", "#/properties/caPem", pemMaxLength, nil, "")
	if a, ok := m["allowAutoRegistration"]; ok {
		if _, isBool := a.(bool); !isBool {
			c.fail("type", ".allowAutoRegistration", "#/properties/allowAutoRegistration/type", map[string]any{"type": "boolean"}, "should be boolean")
		}
	}
	return m, c.result(schemaTrustedCA)
}

func checkUpdateTrustedCABody(v any) (map[string]any, error) {
	m, err := object(v, schemaUpdateTrustedCA)
	if err != nil {
		return nil, err
	}
	keep(m, "allowAutoRegistration")
	var c schemaCheck
	a, ok := m["allowAutoRegistration"]
	if !ok {
		c.fail("required", "", "#/required", map[string]any{"missingProperty": "allowAutoRegistration"}, "should have required property 'allowAutoRegistration'")
	} else if _, isBool := a.(bool); !isBool {
		c.fail("type", ".allowAutoRegistration", "#/properties/allowAutoRegistration/type", map[string]any{"type": "boolean"}, "should be boolean")
	}
	return m, c.result(schemaUpdateTrustedCA)
}
