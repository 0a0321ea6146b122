package commands

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/cron"
)

// cronBody is a job request, each key as sent (absent: nil).
type cronBody struct {
	Time        json.RawMessage `json:"time"`
	Timezone    json.RawMessage `json:"timezone"`
	Name        json.RawMessage `json:"name"`
	Description json.RawMessage `json:"description"`
	HTTP        json.RawMessage `json:"http"`
	Broker      json.RawMessage `json:"broker"`
	JSCode      json.RawMessage `json:"jscode"`
}

// The cron service's invalid-parameter entries (its schemas/errors.js),
// dojot's texts as they are.
var (
	errCronTime        = CronError{Code: 101, Message: "Invalid cron time."}
	errCronTimezone    = CronError{Code: 102, Message: "Invalid timezone."}
	errCronName        = CronError{Code: 103, Message: "Invalide name."}
	errCronDescription = CronError{Code: 104, Message: "Invalid description."}
	errCronAction      = CronError{Code: 105, Message: "Invalid job action."}
	errHTTPMethod      = CronError{Code: 111, Message: "(http action) Invalid method."}
	errHTTPHeaders     = CronError{Code: 112, Message: "(http action) Invalid headers."}
	errHTTPURL         = CronError{Code: 113, Message: "(http action) Invalid http url."}
	errHTTPCriterion   = CronError{Code: 114, Message: "(http action) Invalid success criterion."}
	errHTTPSRegex      = CronError{Code: 115, Message: "(http action) Invalid regular expression for criterion 2."}
	errHTTPFRegex      = CronError{Code: 116, Message: "(http action) Invalid regular expression for criterion 3."}
	errHTTPBody        = CronError{Code: 117, Message: "(http action) Invalid body"}
	errBrokerSubject   = CronError{Code: 121, Message: "(broker action) Invalid subject."}
	errBrokerMessage   = CronError{Code: 122, Message: "(broker action) Invalid message."}
	errJSCode          = CronError{Code: 131, Message: "Invalid code snippet."}
)

func with(e CronError, format string, a ...any) CronError {
	e.Detail = fmt.Sprintf(format, a...)
	return e
}

// httpMethods are the methods an http action may use (dojot's apib).
var httpMethods = []string{"POST", "GET", "PUT", "DELETE", "HEAD", "PATCH", "CONNECT", "OPTIONS", "TRACE"}

// parseJob checks a job request as dojot's cron service did, and what it
// let through: a time that parses and fires, a timezone that exists, an
// action (dojot stored a job that did nothing), an http method and url
// (dojot's schema required neither), an http url under an allowed base
// URL, a broker subject this platform performs (dojot's
// allowed-subjects list, which it never checked) and a message it can
// perform. Every problem is listed, in dojot's schema order.
func (c *Cron) parseJob(body []byte) (dojot.CronJob, error) {
	var b cronBody
	if t := bytes.TrimSpace(body); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &b) != nil {
		return dojot.CronJob{}, CronBadJSON()
	}
	job := dojot.CronJob{Timezone: "UTC"}
	var errs []CronError
	if !isNull(b.Name) {
		var s string
		if json.Unmarshal(b.Name, &s) != nil || utf8.RuneCountInString(s) < 2 || utf8.RuneCountInString(s) > 128 {
			errs = append(errs, with(errCronName, "a string of 2 to 128 characters"))
		}
		job.Name = s
	}
	loc, tzOK := time.UTC, true
	if !isNull(b.Timezone) {
		var s string
		l, err := time.UTC, json.Unmarshal(b.Timezone, &s)
		if err == nil && s != "" {
			l, err = time.LoadLocation(s)
		}
		if tzOK = err == nil && s != "" && s != "Local"; tzOK {
			loc, job.Timezone = l, s
		}
	}
	var expr string
	if json.Unmarshal(b.Time, &expr) != nil || isNull(b.Time) {
		errs = append(errs, with(errCronTime, "time is required: a string of 5 fields, or 6 with seconds first"))
	} else if s, err := cron.Parse(expr, loc); err != nil {
		errs = append(errs, with(errCronTime, "%v", err))
	} else if !s.Fires(c.now()) {
		errs = append(errs, with(errCronTime, "%q never fires", expr))
	}
	job.Time = expr
	if !tzOK {
		errs = append(errs, with(errCronTimezone, "an IANA time zone name, e.g. America/Sao_Paulo"))
	}
	if !isNull(b.Description) {
		var s string
		if json.Unmarshal(b.Description, &s) != nil || s == "" || utf8.RuneCountInString(s) > 1024 {
			errs = append(errs, with(errCronDescription, "a string of 1 to 1024 characters"))
		}
		job.Description = s
	}
	if !isNull(b.HTTP) {
		errs = append(errs, c.checkHTTP(b.HTTP)...)
		job.HTTP = compact(b.HTTP)
	}
	if !isNull(b.Broker) {
		errs = append(errs, checkBroker(b.Broker)...)
		job.Broker = compact(b.Broker)
	}
	if !isNull(b.JSCode) {
		errs = append(errs, with(errJSCode, "javascript jobs are not supported (dojot never ran them either)"))
	} else if isNull(b.HTTP) && isNull(b.Broker) {
		errs = append(errs, with(errCronAction, "a job needs an http or a broker action"))
	}
	if len(errs) > 0 {
		return job, cronError(dojot.ErrInvalid, errs...)
	}
	return job, nil
}

// object decodes raw as a JSON object, keeping its values raw.
func object(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) || json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	return m, true
}

func (c *Cron) checkHTTP(raw json.RawMessage) []CronError {
	m, ok := object(raw)
	if !ok {
		return []CronError{with(errCronAction, "http must be an object")}
	}
	var errs []CronError
	var s string
	if json.Unmarshal(m["url"], &s) != nil || s == "" {
		errs = append(errs, with(errHTTPURL, "url is required"))
	} else if err := cron.CheckURL(s, c.allowed); err != nil {
		errs = append(errs, with(errHTTPURL, "%v", err))
	}
	if h := m["headers"]; !isNull(h) {
		var hs map[string]string
		if json.Unmarshal(h, &hs) != nil || len(h) > 2048 {
			errs = append(errs, with(errHTTPHeaders, "an object of string values, at most 2048 characters"))
		}
	}
	criterion := 1.0
	if v := m["criterion"]; !isNull(v) {
		if json.Unmarshal(v, &criterion) != nil || criterion != math.Trunc(criterion) || criterion < 1 || criterion > 3 {
			errs = append(errs, with(errHTTPCriterion, "1, 2 or 3"))
		}
	}
	for _, r := range []struct {
		key       string
		e         CronError
		criterion float64
	}{{"sregex", errHTTPSRegex, 2}, {"fregex", errHTTPFRegex, 3}} {
		v := m[r.key]
		if isNull(v) {
			if criterion == r.criterion {
				errs = append(errs, with(r.e, "criterion %g needs %s", r.criterion, r.key))
			}
			continue
		}
		var re string
		if json.Unmarshal(v, &re) != nil || len(re) > 256 {
			errs = append(errs, with(r.e, "a string of at most 256 characters"))
		} else if _, err := regexp.Compile(re); err != nil {
			errs = append(errs, with(r.e, "%v", err))
		}
	}
	if v, ok := m["body"]; ok {
		if t := string(bytes.TrimSpace(v)); t == "null" || t == "false" || t == "0" || t == `""` || len(v) > 8192 {
			errs = append(errs, with(errHTTPBody, "any JSON value but null, false, 0 and \"\", at most 8192 characters"))
		}
	}
	if json.Unmarshal(m["method"], &s) != nil || !slices.Contains(httpMethods, strings.ToUpper(s)) {
		errs = append(errs, with(errHTTPMethod, "one of %s", strings.Join(httpMethods, ", ")))
	}
	return errs
}

func checkBroker(raw json.RawMessage) []CronError {
	m, ok := object(raw)
	if !ok {
		return []CronError{with(errCronAction, "broker must be an object")}
	}
	var errs []CronError
	var subject string
	if json.Unmarshal(m["subject"], &subject) != nil || (subject != dojot.CronSubjectDevices && subject != dojot.CronSubjectDeviceData) {
		errs = append(errs, with(errBrokerSubject, "%q or %q: a configure message to a device, or a reading as a device",
			dojot.CronSubjectDevices, dojot.CronSubjectDeviceData))
	}
	_, ok = object(m["message"])
	switch {
	case !ok || len(m["message"]) > 8192:
		errs = append(errs, with(errBrokerMessage, "an object of at most 8192 characters"))
	case subject == dojot.CronSubjectDevices:
		if err := checkConfigure(m["message"]); err != nil {
			errs = append(errs, with(errBrokerMessage, "%v", err))
		}
	case subject == dojot.CronSubjectDeviceData:
		if err := checkDeviceData(m["message"]); err != nil {
			errs = append(errs, with(errBrokerMessage, "%v", err))
		}
	}
	return errs
}

func checkConfigure(raw json.RawMessage) error {
	var c dojot.CronConfigure
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf(`a {"event":"configure","data":{"id":<device id>,"attrs":{...}}} message: %w`, err)
	}
	if c.Event != "configure" {
		return fmt.Errorf(`event must be "configure" (a job sends configurations; it does not create, update or remove devices)`)
	}
	if !dojot.ValidToken(c.Data.ID) {
		return fmt.Errorf("data.id must be a device id")
	}
	if a, ok := object(c.Data.Attrs); !ok || len(a) == 0 {
		return fmt.Errorf("data.attrs must be an object of the device's actuator attributes")
	}
	return nil
}

func checkDeviceData(raw json.RawMessage) error {
	var d dojot.CronDeviceData
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf(`a {"metadata":{"deviceid":<device id>},"attrs":{...}} message: %w`, err)
	}
	if !dojot.ValidToken(d.Metadata.DeviceID) {
		return fmt.Errorf("metadata.deviceid must be a device id")
	}
	if _, ok := object(d.Attrs); !ok {
		return fmt.Errorf("attrs must be an object")
	}
	return nil
}
