package flows

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// httpNode makes an HTTP request described by the message and stores the
// response in it (FLOWS.md 4.6). The request goes through Effects.HTTP, so
// the wiring chooses the client (and the sandbox records instead); the
// engine's NodeTimeout bounds it (dojot: 30 s task timeout).
type httpNode struct {
	method   string
	url      string
	urlTmpl  *template // url containing {{
	body     string
	response string
	ret      string
}

func init() { register("http", newHTTP) }

func (*httpNode) blocking() {}

// maxHTTPResponse bounds what a response may add to a message.
const maxHTTPResponse = 16 << 20

var hasScheme = regexp.MustCompile(`^.*://`)

func newHTTP(s *spec) Node {
	n := &httpNode{url: s.str("url", ""), body: s.str("body", ""), response: s.required("response")}
	m := s.str("method", "GET")
	switch up := strings.ToUpper(m); up {
	case "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS":
		n.method = up
	case "USE", "":
		n.method = "use"
		if m == "" {
			n.method = "GET"
		}
	default:
		s.fail("method %q is not supported", m)
	}
	n.ret = s.oneOf("ret", "txt", "txt", "bin", "obj")
	if len(splitPath(n.body)) == 0 {
		s.fail("httpin.errors.no-body: body must name the msg property holding the request JSON")
	}
	if strings.Contains(n.url, "{{") {
		t, err := parseTemplate(n.url, false)
		if err != nil {
			s.fail("bad url template: %v", err)
		}
		n.urlTmpl = t
	} else if n.url != "" {
		if _, err := checkURL(n.url); err != nil {
			s.fail("%v", err)
		}
	}
	return n
}

// checkURL is dojot's testUrl: no scheme means http://, and only http and
// https are allowed.
func checkURL(u string) (string, error) {
	if !hasScheme.MatchString(u) {
		u = "http://" + u
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return "", errors.New("httpin.errors.invalid-transport")
	}
	return u, nil
}

func (n *httpNode) Process(ctx context.Context, c *Call, msg Msg) ([]Msg, error) {
	// The body is a JSON string {"headers"?, "payload"?}, usually made by a
	// template node (dojot #1298 asked for it to be optional; it is not).
	// dojot ran JSON.parse on the value, which reads a non-string as
	// String(value): a number or boolean parses (no headers, no payload),
	// an object ("[object Object]") does not; null fails on its first use.
	var reqSpec any
	bodyVal, err := Get(msg, n.body)
	if err != nil || bodyVal == nil || json.Unmarshal([]byte(jsString(bodyVal)), &reqSpec) != nil || reqSpec == nil {
		return nil, errors.New("httpin.errors.no-body")
	}
	url := n.url
	if n.urlTmpl != nil {
		if url, err = n.urlTmpl.render(map[string]any(msg)); err != nil {
			return nil, err
		}
	}
	if url == "" {
		url, _ = msg["url"].(string)
	}
	if url == "" {
		return nil, errors.New("httpin.errors.no-url")
	}
	if url, err = checkURL(url); err != nil {
		return nil, err
	}
	method := n.method
	if method == "use" {
		method = "USE"
		if m, ok := msg["method"].(string); ok && m != "" {
			method = strings.ToUpper(m)
		}
	}
	spec, _ := reqSpec.(map[string]any)
	header := http.Header{}
	var basic string
	if h, ok := spec["headers"].(map[string]any); ok {
		for k, v := range h {
			if k == "authorization" { // dojot: Node's auth option, i.e. Basic
				basic = jsString(v)
				continue
			}
			header[k] = []string{jsString(v)} // keys as the user wrote them
		}
	}
	var body io.Reader
	if p, ok := spec["payload"]; ok && (method == "POST" || method == "PUT" || method == "PATCH") {
		switch x := p.(type) {
		case string:
			body = strings.NewReader(x)
		case float64:
			body = strings.NewReader(jsNumberString(x))
		default:
			body = strings.NewReader(jsonStringify(x)) // no Content-Type added, as dojot
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if basic != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(basic)))
	}
	if c.Effects.HTTP == nil {
		return nil, errNoEffect("http client")
	}
	resp, err := c.Effects.HTTP.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("common.notification.errors.no-response: %w", err)
		}
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPResponse+1))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("common.notification.errors.no-response: %w", err)
		}
		return nil, err
	}
	if len(raw) > maxHTTPResponse {
		return nil, fmt.Errorf("http response larger than %d bytes", maxHTTPResponse)
	}
	headers := map[string]any{}
	for k, v := range resp.Header {
		k = strings.ToLower(k)
		if k == "set-cookie" {
			list := make([]any, len(v))
			for i, s := range v {
				list[i] = s
			}
			headers[k] = list
			continue
		}
		headers[k] = strings.Join(v, ", ")
	}
	// responseUrl is follow-redirects' final URL, there on every response.
	out := map[string]any{"statusCode": float64(resp.StatusCode), "headers": headers, "responseUrl": url}
	if resp.Request != nil && resp.Request.URL != nil {
		out["responseUrl"] = resp.Request.URL.String()
	}
	switch n.ret {
	case "txt":
		out["payload"] = string(bytes.ToValidUTF8(raw, []byte("\uFFFD")))
	case "obj":
		var v any
		if json.Unmarshal(raw, &v) == nil {
			out["payload"] = v
		} else {
			out["payload"] = string(raw)
		}
	case "bin": // dojot's Buffer chunks after the hop's JSON round trip (one here; none when empty)
		if len(raw) == 0 {
			out["payload"] = []any{}
			break
		}
		data := make([]any, len(raw))
		for i, b := range raw {
			data[i] = float64(b)
		}
		out["payload"] = []any{map[string]any{"type": "Buffer", "data": data}}
	}
	if err := Set(msg, n.response, out); err != nil {
		return nil, err
	}
	return []Msg{msg}, nil
}
