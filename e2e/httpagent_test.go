package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestHTTPAgent: dojot's HTTP agent through the binary with curl: basic
// credentials from POST /basic-auth/... on the gateway's port (single and
// batch), a client certificate from the x509 API on the agent's TLS
// listener, refused once revoked; the readings reach the History API and
// Kafka.
func TestHTTPAgent(t *testing.T) {
	needTool(t, "openssl")
	dojottest.NeedCommand(t, "curl", "--version")
	dojottest.NeedCommand(t, "kcat", "-V")
	dir := t.TempDir()
	tlsAddr, broker := dojottest.FreeAddr(t), dojottest.FreeAddr(t)
	in := start(t, "", "-http-agent", "-http-agent-tls-addr="+tlsAddr, "-kafka-embedded-addr="+broker)
	c := in.Login("admin", adminPassword)
	id := dojottest.CreateDevice(c, "http", dojottest.CreateTemplate(c, "HTTP"))
	var cred struct {
		Credentials struct{ Username, Password string }
	}
	mustJSON(t, c.Must(200, "POST", "/basic-auth/v1/devices/"+id+"/basic-credentials", nil), &cred)

	curl := func(args ...string) (code, body string) {
		t.Helper()
		out, err := exec.Command("curl", append([]string{"-s", "-w", "\n%{http_code}", "-H", "Content-Type: application/json"}, args...)...).Output()
		if err != nil {
			return "", "curl: " + err.Error()
		}
		s := string(out)
		i := strings.LastIndexByte(s, '\n')
		return s[i+1:], strings.TrimSpace(s[:i])
	}
	user := cred.Credentials.Username + ":" + cred.Credentials.Password
	if code, body := curl("-u", user, "-d", `{"ts":"2018-06-05T19:15:37.452Z","data":{"temperature":21.5}}`, in.URL+"/http-agent/v1/unsecure/incoming-messages"); code != "204" {
		t.Fatalf("single = %s %s", code, body)
	}
	if code, body := curl("-u", user, "-d", `[{"ts":1528226138000,"data":{"temperature":22.5}},{"ts":1528226139000,"data":{"temperature":23.5}}]`,
		in.URL+"/http-agent/v1/incoming-messages/create-many"); code != "204" {
		t.Fatalf("create-many = %s %s", code, body)
	}
	if code, body := curl("-u", cred.Credentials.Username+":wrong", "-d", `{"data":{}}`, in.URL+"/http-agent/v1/incoming-messages"); code != "401" || body != `{"error":"Invalid credentials."}` {
		t.Errorf("wrong password = %s %s", code, body)
	}
	if docs := dojottest.WaitHistory(t, c, id, "temperature", 3); len(docs) != 3 {
		t.Errorf("history = %+v", docs)
	}
	if msgs := dojottest.KcatUntil(t, broker, "admin.device-data", 3); len(msgs) != 3 || !strings.Contains(msgs[2].Payload, `"attrs":{"temperature":23.5}`) {
		t.Errorf("admin.device-data = %+v", msgs)
	}

	// A certificate issued for the device, on the TLS listener.
	var ca struct {
		CaPem string `json:"caPem"`
	}
	mustJSON(t, c.Must(200, "GET", "/x509/v1/ca", nil), &ca)
	caFile := dojottestWrite(t, dir, "ca.crt", ca.CaPem+"\n")
	csr, key := opensslCSR(t, dir, "dev", id)
	cert := issueCert(c, csr, id)
	certFile := dojottestWrite(t, dir, "dev.crt", cert.CertificatePem+"\n")
	port := tlsAddr[strings.LastIndexByte(tlsAddr, ':')+1:]
	url := "https://127.0.0.1:" + port + "/http-agent/v1/incoming-messages"
	if code, body := curl("--cacert", caFile, "--cert", certFile, "--key", key, "-d", `{"data":{"temperature":30}}`, url); code != "204" {
		t.Fatalf("TLS with the device's certificate = %s %s", code, body)
	}
	dojottest.WaitHistory(t, c, id, "temperature", 4)
	// No certificate: the handshake fails; revoked: it fails at once.
	if code, _ := curl("--cacert", caFile, "-d", `{"data":{"temperature":31}}`, url); code == "204" {
		t.Error("TLS without a certificate was accepted")
	}
	c.Must(204, "DELETE", "/x509/v1/certificates/"+cert.CertificateFingerprint, nil)
	if code, _ := curl("--cacert", caFile, "--cert", certFile, "--key", key, "-d", `{"data":{"temperature":32}}`, url); code == "204" {
		t.Error("a revoked certificate was accepted")
	}
	_, raw := in.Client().Do("GET", "/healthz", nil)
	var h struct {
		HTTPAgent struct {
			Stored  uint64
			Refused map[string]uint64
		} `json:"http_agent"`
	}
	mustJSON(t, raw, &h)
	if h.HTTPAgent.Stored != 4 || h.HTTPAgent.Refused["auth"] != 1 {
		t.Errorf("healthz http_agent = %+v", h.HTTPAgent)
	}
}
