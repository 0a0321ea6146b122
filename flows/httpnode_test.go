package flows

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		if r.URL.Path == "/empty" {
			w.Header().Set("X-Echo", "yes")
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo", "yes")
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
		}
		if r.URL.Path == "/bytes" {
			w.Write([]byte{0, 255})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"method": r.Method, "path": r.URL.Path, "body": string(body),
			"auth": r.Header.Get("Authorization"), "x": r.Header.Get("X-Token"), "ct": r.Header.Get("Content-Type")})
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	node := func(method, url, ret string) string {
		return `{"method":"` + method + `","url":"` + url + `","body":"req","response":"res","ret":"` + ret + `"}`
	}
	req := func(s string) string { return strconv.Quote(s) }
	tests := map[string]struct {
		config, in string
		want       string // JSON of msg.res without headers and responseUrl
		err        string
	}{
		// TESTS "http - POST": the template node made the body string
		"post": {node("POST", srv.URL+"/alert", "obj"), `{"req":` + req(`{"payload": "velocidade muito alta: 60 km/h!"}`) + `}`,
			`{"payload":{"auth":"","body":"velocidade muito alta: 60 km/h!","ct":"","method":"POST","path":"/alert","x":""},"statusCode":200}`, ""},
		"post object payload no content type": {node("PUT", srv.URL+"/o", "obj"), `{"req":` + req(`{"headers":{"X-Token":"t"},"payload":{"a":1}}`) + `}`,
			`{"payload":{"auth":"","body":"{\"a\":1}","ct":"","method":"PUT","path":"/o","x":"t"},"statusCode":200}`, ""},
		"get ignores payload, url template": {node("GET", srv.URL+"/dev/{{{payload.id}}}", "obj"), `{"payload":{"id":"a1"},"req":` + req(`{"payload":5}`) + `}`,
			`{"payload":{"auth":"","body":"","ct":"","method":"GET","path":"/dev/a1","x":""},"statusCode":200}`, ""},
		"lower-case authorization is basic": {node("GET", srv.URL+"/a", "obj"), `{"req":` + req(`{"headers":{"authorization":"user:pass"}}`) + `}`,
			`{"payload":{"auth":"Basic dXNlcjpwYXNz","body":"","ct":"","method":"GET","path":"/a","x":""},"statusCode":200}`, ""},
		"use takes msg.method": {node("use", srv.URL+"/u", "obj"), `{"method":"delete","req":"{}"}`,
			`{"payload":{"auth":"","body":"","ct":"","method":"DELETE","path":"/u","x":""},"statusCode":200}`, ""},
		"no scheme is http, url from msg": {node("GET", "", "txt"), `{"url":"` + host + `/missing","req":"{}"}`,
			`{"payload":"{\"auth\":\"\",\"body\":\"\",\"ct\":\"\",\"method\":\"GET\",\"path\":\"/missing\",\"x\":\"\"}\n","statusCode":404}`, ""},
		"bin":                  {node("GET", srv.URL+"/bytes", "bin"), `{"req":"{}"}`, `{"payload":[{"data":[0,255],"type":"Buffer"}],"statusCode":200}`, ""},
		"bin empty":            {node("GET", srv.URL+"/empty", "bin"), `{"req":"{}"}`, `{"payload":[],"statusCode":200}`, ""},
		"obj not JSON is text": {node("GET", srv.URL+"/bytes", "obj"), `{"req":"{}"}`, `{"payload":"\u0000\ufffd","statusCode":200}`, ""},
		"body number parses": {node("POST", srv.URL+"/n", "obj"), `{"req":5}`,
			`{"payload":{"auth":"","body":"","ct":"","method":"POST","path":"/n","x":""},"statusCode":200}`, ""},
		"Authorization passes through": {node("GET", srv.URL+"/a", "obj"), `{"req":` + req(`{"headers":{"Authorization":"Bearer t","Content-Type":"text/plain"}}`) + `}`,
			`{"payload":{"auth":"Bearer t","body":"","ct":"text/plain","method":"GET","path":"/a","x":""},"statusCode":200}`, ""},
		"number payload": {node("POST", srv.URL+"/n", "obj"), `{"req":` + req(`{"payload":1.5}`) + `}`,
			`{"payload":{"auth":"","body":"1.5","ct":"","method":"POST","path":"/n","x":""},"statusCode":200}`, ""},
		"use without msg.method": {node("use", srv.URL+"/u", "obj"), `{"req":"{}"}`,
			`{"payload":{"auth":"","body":"","ct":"","method":"USE","path":"/u","x":""},"statusCode":200}`, ""},
		"url template escapes": {node("GET", srv.URL+"/q?v={{payload.v}}", "obj"), `{"payload":{"v":"a&b"},"req":"{}"}`,
			`{"payload":{"auth":"","body":"","ct":"","method":"GET","path":"/q","x":""},"statusCode":200}`, ""},

		"body missing":      {node("GET", srv.URL, "txt"), `{}`, "", "httpin.errors.no-body"},
		"body not a string": {node("GET", srv.URL, "txt"), `{"req":{"payload":1}}`, "", "httpin.errors.no-body"},
		"body not JSON":     {node("GET", srv.URL, "txt"), `{"req":"hello"}`, "", "httpin.errors.no-body"},
		"body null":         {node("GET", srv.URL, "txt"), `{"req":null}`, "", "httpin.errors.no-body"},
		"body JSON null":    {node("GET", srv.URL, "txt"), `{"req":"null"}`, "", "httpin.errors.no-body"},
		"no url":            {node("GET", "", "txt"), `{"req":"{}"}`, "", "httpin.errors.no-url"},
		"msg url ftp":       {node("GET", "", "txt"), `{"url":"ftp://h/x","req":"{}"}`, "", "httpin.errors.invalid-transport"},
		"config url ftp":    {node("GET", "ftp://h/x", "txt"), `{}`, "", "httpin.errors.invalid-transport"},
		"timeout":           {node("GET", srv.URL+"/slow", "txt"), `{"req":"{}"}`, "", "common.notification.errors.no-response"},
		"refused":           {node("GET", "http://127.0.0.1:1/", "txt"), `{"req":"{}"}`, "", "connection refused"},
		"bad method":        {`{"method":"BREW","url":"h","body":"req","response":"res"}`, `{}`, "", `method "BREW" is not supported`},
		"no response":       {`{"url":"h","body":"req"}`, `{}`, "", "missing response"},
		"no body path":      {`{"url":"h","response":"res"}`, `{}`, "", "httpin.errors.no-body"},
		"bad ret":           {node("GET", "h", "xml"), `{}`, "", `ret "xml"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			n, err := buildNode(t, "http", tc.config)
			var out []Msg
			if err == nil {
				c := testCall(NewRecorder(), "n1", "http")
				c.Effects.HTTP = srv.Client()
				ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond) // the engine's NodeTimeout
				defer cancel()
				out, err = n.Process(ctx, c, msgOf(t, tc.in))
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(out) != 1 {
				t.Fatalf("out %v, err %v", encodeAll(out), err)
			}
			res := out[0]["res"].(map[string]any)
			if res["headers"].(map[string]any)["x-echo"] != "yes" {
				t.Errorf("headers %v", res["headers"])
			}
			delete(res, "headers")
			if ru, _ := res["responseUrl"].(string); !strings.HasPrefix(ru, srv.URL+"/") {
				t.Errorf("responseUrl %q", ru)
			}
			delete(res, "responseUrl")
			if got := jsonStringify(res); got != tc.want {
				t.Errorf("res  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestHTTPRedirect: redirects are followed and responseUrl is where the
// answer came from (follow-redirects').
func TestHTTPRedirect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/final", http.StatusFound)
			return
		}
		w.Write([]byte(r.URL.Path))
	}))
	defer srv.Close()
	n, err := buildNode(t, "http", `{"method":"GET","url":"`+srv.URL+`/redirect","body":"req","response":"res","ret":"txt"}`)
	if err != nil {
		t.Fatal(err)
	}
	c := testCall(NewRecorder(), "n1", "http")
	c.Effects.HTTP = srv.Client()
	out, err := n.Process(t.Context(), c, Msg{"req": "{}"})
	if err != nil {
		t.Fatal(err)
	}
	res := out[0]["res"].(map[string]any)
	if res["payload"] != "/final" || res["responseUrl"] != srv.URL+"/final" || res["statusCode"] != 200.0 {
		t.Errorf("res = %v", res)
	}
}

// TestHTTPSandbox: in the Recorder the call is recorded, not performed.
func TestHTTPSandbox(t *testing.T) {
	rec := NewRecorder()
	out, err := runNode(t, "http", `{"method":"POST","url":"http://example.invalid/x","body":"req","response":"res"}`, `{"req":"{\"payload\":\"hi\"}"}`, rec)
	if err != nil || len(out) != 1 {
		t.Fatalf("out %v err %v", out, err)
	}
	got := rec.Recorded()
	if len(got) != 1 || got[0].Kind != "http" || got[0].Value.(HTTPCall).Body != "hi" || got[0].Value.(HTTPCall).URL != "http://example.invalid/x" {
		t.Errorf("recorded %+v", got)
	}
}
