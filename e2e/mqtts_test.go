package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// tlsDevice is a device's certificate and key files for mosquitto_pub.
type tlsDevice struct{ cert, key string }

// mosquittoPubTLS publishes once over MQTT over mutual TLS (port 8883's
// listener), as a device with its certificate: no username.
func mosquittoPubTLS(in *instance, caFile string, d tlsDevice, topic, payload string, args ...string) ([]byte, error) {
	_, port, _ := net.SplitHostPort(in.MQTTSAddr)
	args = append([]string{"-h", "localhost", "-p", port, "--cafile", caFile, "--cert", d.cert, "--key", d.key,
		"-t", topic, "-m", payload, "-q", "1"}, args...)
	return exec.Command("mosquitto_pub", args...).CombinedOutput()
}

// historyHas reports whether the device's history holds attr = value.
func historyHas(c *client, id, attr, value string) bool {
	c.TB().Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := c.Do("GET", "/history/device/"+id+"/history?lastN=10&attr="+attr, nil)
		if code == 200 && strings.Contains(string(body), `"value":`+value) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMQTTS: a device connects with mosquitto_pub over mutual TLS with a
// certificate the platform issued from an openssl CSR; its reading reaches
// history and Kafka. It cannot publish as another device; once its
// certificate is revoked, or its device deleted, the handshake refuses it
// at once. A certificate of a registered external CA (made with openssl)
// connects; after SIGKILL and restart all of it still holds.
func TestMQTTS(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	needTool(t, "openssl")
	needTool(t, "mosquitto_pub")
	dojottest.NeedCommand(t, "kcat", "-V")
	dir := t.TempDir()
	broker := dojottest.FreeAddr(t)
	in := start(t, "", "-kafka-embedded-addr="+broker)
	if in.MQTTSAddr == "" {
		t.Fatal(`no "mqtts listening" addr in the log`)
	}
	c := in.Login("admin", adminPassword)
	tmpl := dojottest.CreateTemplate(c, "Meters")
	a, b := dojottest.CreateDevice(c, "a", tmpl), dojottest.CreateDevice(c, "b", tmpl)
	var ca struct {
		CaPem string `json:"caPem"`
	}
	mustJSON(t, c.Must(200, "GET", "/x509/v1/ca", nil), &ca)
	caFile := dojottestWrite(t, dir, "ca.crt", ca.CaPem+"\n")

	device := func(name, id string) (tlsDevice, issuedCert) {
		t.Helper()
		csr, key := opensslCSR(t, dir, name, id)
		r := issueCert(c, csr, id)
		return tlsDevice{dojottestWrite(t, dir, name+".crt", r.CertificatePem+"\n"), key}, r
	}
	devA, certA := device("a", a)
	if out, err := mosquittoPubTLS(in, caFile, devA, "admin:"+a+"/attrs", `{"temperature":21.5}`); err != nil {
		t.Fatalf("mosquitto_pub with a's certificate: %v\n%s", err, out)
	}
	if !historyHas(c, a, "temperature", "21.5") {
		t.Fatal("the reading over TLS is not in history")
	}
	if msgs := dojottest.KcatUntil(t, broker, "admin.device-data", 1); len(msgs) != 1 || !strings.Contains(msgs[0].Payload, `"temperature":21.5`) {
		t.Fatalf("admin.device-data = %+v", msgs)
	}
	// dojot's ownership.create, as certificate-acl reads it.
	if msgs := dojottest.KcatUntil(t, broker, "admin.dojot.x509-identity-mgmt.certificates", 1); len(msgs) < 1 || msgs[0].Key == nil ||
		*msgs[0].Key != "admin:"+a || !strings.Contains(msgs[0].Payload, `"eventType":"ownership.create"`) ||
		!strings.Contains(msgs[0].Payload, `"fingerprint":"`+certA.CertificateFingerprint+`"`) {
		t.Errorf("admin.dojot.x509-identity-mgmt.certificates = %+v", msgs)
	}
	// a's certificate cannot publish as b (3.1.1: disconnected, no PUBACK).
	if out, err := mosquittoPubTLS(in, caFile, devA, "admin:"+b+"/attrs", `{"temperature":99}`); err == nil {
		t.Errorf("a's certificate published as b: %s", out)
	}
	// A username naming b changes nothing: the certificate is the identity.
	if out, err := mosquittoPubTLS(in, caFile, devA, "admin:"+b+"/attrs", `{"temperature":98}`, "-u", "admin:"+b); err == nil {
		t.Errorf("a's certificate with b's username published as b: %s", out)
	}
	// Refused publishes were never acknowledged, so never stored: b has no
	// history at all.
	if code, body := c.Do("GET", "/history/device/"+b+"/history?lastN=10&attr=temperature", nil); code != 404 {
		t.Errorf("b's history = %d %s; want 404 (nothing stored)", code, body)
	}

	// Revoked: refused at the next handshake, at once.
	devA2, certA2 := device("a2", a)
	// A live session with it (mosquitto_sub on its config topic) ends when
	// it is revoked.
	_, port, _ := net.SplitHostPort(in.MQTTSAddr)
	sub := exec.Command("mosquitto_sub", "-h", "localhost", "-p", port, "--cafile", caFile, "--cert", devA2.cert, "--key", devA2.key,
		"-t", "admin:"+a+"/config", "-q", "1")
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	subDone := make(chan error, 1)
	go func() { subDone <- sub.Wait() }()
	t.Cleanup(func() { _ = sub.Process.Kill() })
	time.Sleep(500 * time.Millisecond)
	select {
	case err := <-subDone:
		t.Fatalf("mosquitto_sub with a2's certificate ended before the revocation: %v", err)
	default:
	}
	c.Must(204, "DELETE", "/x509/v1/certificates/"+certA2.CertificateFingerprint, nil)
	select {
	case <-subDone:
	case <-time.After(10 * time.Second):
		t.Error("the revoked certificate's session lives on")
	}
	if out, err := mosquittoPubTLS(in, caFile, devA2, "admin:"+a+"/attrs", `{"temperature":1}`); err == nil {
		t.Errorf("a revoked certificate connected: %s", out)
	}
	// Unlinked: refused; linked again: accepted.
	c.Must(204, "DELETE", "/x509/v1/certificates/"+certA.CertificateFingerprint+"/belongsto", nil)
	if out, err := mosquittoPubTLS(in, caFile, devA, "admin:"+a+"/attrs", `{"temperature":2}`); err == nil {
		t.Errorf("an unlinked certificate connected: %s", out)
	}
	c.Must(204, "PATCH", "/x509/v1/certificates/"+certA.CertificateFingerprint, map[string]any{"belongsTo": map[string]any{"device": a}})
	if out, err := mosquittoPubTLS(in, caFile, devA, "admin:"+a+"/attrs", `{"temperature":3}`); err != nil {
		t.Errorf("relinked certificate refused: %v %s", err, out)
	}
	// A deleted device's certificate: refused.
	devB, _ := device("b", b)
	if out, err := mosquittoPubTLS(in, caFile, devB, "admin:"+b+"/attrs", `{"temperature":4}`); err != nil {
		t.Fatalf("b's certificate refused: %v %s", err, out)
	}
	c.Must(200, "DELETE", "/device/"+b, nil)
	if out, err := mosquittoPubTLS(in, caFile, devB, "admin:"+b+"/attrs", `{"temperature":5}`); err == nil {
		t.Errorf("a deleted device's certificate connected: %s", out)
	}

	// An external CA, as an operator migrating from dojot registers dojot's
	// old one: openssl makes the CA and signs the device's CSR.
	extKey, extCrt := filepath.Join(dir, "ext.key"), filepath.Join(dir, "ext.crt")
	openssl(t, "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", extKey,
		"-out", extCrt, "-days", "30", "-subj", "/CN=old dojot CA", "-addext", "basicConstraints=critical,CA:TRUE")
	_, oldKey := opensslCSR(t, dir, "old", "admin:"+a)
	oldCrt := filepath.Join(dir, "old.crt")
	extFile := dojottestWrite(t, dir, "ext.cnf", "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n")
	openssl(t, "x509", "-req", "-in", filepath.Join(dir, "old.csr"), "-CA", extCrt, "-CAkey", extKey, "-CAcreateserial",
		"-out", oldCrt, "-days", "20", "-extfile", extFile)
	devOld := tlsDevice{oldCrt, oldKey}
	if out, err := mosquittoPubTLS(in, caFile, devOld, "admin:"+a+"/attrs", `{"temperature":6}`); err == nil {
		t.Errorf("a certificate of an unregistered CA connected: %s", out)
	}
	c.Must(201, "POST", "/x509/v1/trusted-cas", map[string]any{"caPem": readFile(t, extCrt)})
	c.Must(201, "POST", "/x509/v1/certificates", map[string]any{"certificateChain": readFile(t, oldCrt) + readFile(t, extCrt),
		"belongsTo": map[string]any{"device": a}})
	if out, err := mosquittoPubTLS(in, caFile, devOld, "admin:"+a+"/attrs", `{"temperature":7}`); err != nil {
		t.Fatalf("a registered external certificate refused: %v %s", err, out)
	}

	in.Kill()
	in.Restart()
	c = in.Login("admin", adminPassword)
	for name, tt := range map[string]struct {
		dev tlsDevice
		ok  bool
	}{"kept": {devA, true}, "external": {devOld, true}, "revoked": {devA2, false}, "deleted device": {devB, false}} {
		out, err := mosquittoPubTLS(in, caFile, tt.dev, "admin:"+a+"/attrs", `{"temperature":8}`)
		if (err == nil) != tt.ok {
			t.Errorf("after restart, %s: %v %s; want ok %v", name, err, out, tt.ok)
		}
	}
	var h struct {
		MQTT struct {
			Refused map[string]uint64 `json:"refused"`
		} `json:"mqtt"`
	}
	mustJSON(t, in.Client().Must(200, "GET", "/healthz", nil), &h)
	if h.MQTT.Refused["publish_topic"] != 0 {
		t.Errorf("after restart /healthz mqtt refused = %+v", h.MQTT.Refused)
	}
}

func openssl(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMQTTSMigration: devices of an old dojot connect unchanged. They
// trust dojot's CA for the server and hold certificates it issued: the
// operator gives the broker dojot's server certificate (-mqtts-cert,
// -mqtts-key: the iotagent-mqtt one), registers dojot's CA as a trusted CA
// and each device certificate with its owner.
func TestMQTTSMigration(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	needTool(t, "openssl")
	needTool(t, "mosquitto_pub")
	dir := t.TempDir()
	// dojot's CA, its broker's certificate and a device's, made with openssl.
	oldKey, oldCA := filepath.Join(dir, "old-ca.key"), filepath.Join(dir, "old-ca.crt")
	openssl(t, "req", "-x509", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout", oldKey, "-out", oldCA, "-days", "30",
		"-subj", "/O=dojot IoT Platform/CN=X509 Identity CA", "-addext", "basicConstraints=critical,CA:TRUE")
	sign := func(name, subj, ext string) (crt, key string) {
		_, key = opensslCSR(t, dir, name, subj)
		crt = filepath.Join(dir, name+".crt")
		openssl(t, "x509", "-req", "-in", filepath.Join(dir, name+".csr"), "-CA", oldCA, "-CAkey", oldKey, "-CAcreateserial",
			"-out", crt, "-days", "20", "-extfile", dojottestWrite(t, dir, name+".ext", ext))
		return crt, key
	}
	srvCrt, srvKey := sign("iotagent-mqtt", "iotagent-mqtt", "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,DNS:iotagent-mqtt\n")

	in := start(t, "", "-mqtts-cert="+srvCrt, "-mqtts-key="+srvKey)
	c := in.Login("admin", adminPassword)
	dev := dojottest.CreateDevice(c, "old", dojottest.CreateTemplate(c, "Old"))
	devCrt, devKey := sign("dev", "admin:"+dev, "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
	old := tlsDevice{devCrt, devKey}
	// Unregistered: refused; registered: the same files connect.
	if out, err := mosquittoPubTLS(in, oldCA, old, "admin:"+dev+"/attrs", `{"temperature":1}`); err == nil {
		t.Errorf("an unregistered dojot certificate connected: %s", out)
	}
	c.Must(201, "POST", "/x509/v1/trusted-cas", map[string]any{"caPem": readFile(t, oldCA)})
	c.Must(201, "POST", "/x509/v1/certificates", map[string]any{"certificateChain": readFile(t, devCrt) + readFile(t, oldCA),
		"belongsTo": map[string]any{"device": dev}})
	if out, err := mosquittoPubTLS(in, oldCA, old, "admin:"+dev+"/attrs", `{"temperature":2}`); err != nil {
		t.Fatalf("a migrated device with its dojot files: %v %s", err, out)
	}
	if !historyHas(c, dev, "temperature", "2") {
		t.Error("the migrated device's reading is not in history")
	}
}

// TestMQTTSTwoInstances: two instances on one NATS, given the same CA: a
// certificate issued through one connects to the other's 8883, and a
// revocation through one refuses it at the other's next handshake.
func TestMQTTSTwoInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	needTool(t, "openssl")
	needTool(t, "mosquitto_pub")
	dir := t.TempDir()
	first, second := sharedNATS(t, []string{"-jwt-secret=shared-e2e-secret"})
	a := start(t, "", first...)
	b := start(t, "", second...)
	c := a.Login("admin", adminPassword)
	dev := dojottest.CreateDevice(c, "both", dojottest.CreateTemplate(c, "Both"))
	csr, key := opensslCSR(t, dir, "dev", dev)
	r := issueCert(c, csr, dev)
	d := tlsDevice{dojottestWrite(t, dir, "dev.crt", r.CertificatePem+"\n"), key}
	var ca struct {
		CaPem string `json:"caPem"`
	}
	mustJSON(t, c.Must(200, "GET", "/x509/v1/ca", nil), &ca)
	caFile := dojottestWrite(t, dir, "ca.crt", ca.CaPem+"\n")
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal(what)
			}
		}
	}
	eventually("the certificate issued through a never connected to b", func() bool {
		_, err := mosquittoPubTLS(b, caFile, d, "admin:"+dev+"/attrs", `{"temperature":1}`)
		return err == nil
	})
	c.Must(204, "DELETE", "/x509/v1/certificates/"+r.CertificateFingerprint, nil)
	eventually("the certificate revoked through a still connects to b", func() bool {
		_, err := mosquittoPubTLS(b, caFile, d, "admin:"+dev+"/attrs", `{"temperature":2}`)
		return err != nil
	})
}
