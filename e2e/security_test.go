package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestSecurity runs the binary at debug level through a whole session
// that handles every kind of secret, then checks: bad tokens are refused
// with dojot's body; login is rate limited; size limits refuse oversize
// input; the data dir's secrets are private; no secret appears in the log;
// devices' pre-shared keys are not in NATS's files in clear and read back
// after a restart.
func TestSecurity(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "dojot.log")
	t.Setenv("DOJOT_E2E_LOG", logFile) // every line the binary logs
	internalAddr := dojottest.FreeAddr(t)
	in := start(t, "", "-log-level=debug", "-admin-password=", "-ca-cert=", "-ca-key=", // generated, into the data dir
		"-internal-addr="+internalAddr, "-login-limit-user=3/1m", "-login-limit-addr=50/1m", "-max-body-bytes=100000")
	file := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(in.DataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	adminPW, jwtSecret, pskKey := file("admin-password"), file("jwt-secret"), file("psk-key")
	caKey := strings.Split(file("ca.key"), "\n")[1] // a line of the key's base64

	// Secret files: 0600, in a 0700 data dir.
	if fi, err := os.Stat(in.DataDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir: %v %v; want 0700", fi.Mode().Perm(), err)
	}
	secretFiles := 0
	err := filepath.WalkDir(in.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		if !strings.Contains(name, "key") && !strings.Contains(name, "secret") && !strings.Contains(name, "password") {
			return nil
		}
		secretFiles++
		if fi, err := d.Info(); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v %v; want 0600", p, fi.Mode().Perm(), err)
		}
		return nil
	})
	if err != nil || secretFiles < 4 {
		t.Errorf("%d secret files checked (%v); want admin-password, jwt-secret, psk-key, ca.key at least", secretFiles, err)
	}

	// A session that handles every kind of secret.
	admin := in.Login("admin", adminPW)
	admin.Must(200, "POST", "/auth/user", map[string]string{"username": "bob", "service": "admin", "email": "bob@x.io", "name": "Bob", "profile": "admin"})
	const bobPW, wrongPW = "B0b-s3cret-Pa55word", "Wr0ng-guess-Pa55"
	bob := in.Login("bob", "temppwd")
	bob.Must(200, "POST", "/auth/password/update", map[string]string{"oldpasswd": "temppwd", "newpasswd": bobPW})
	if code, _ := in.Client().Do("POST", "/auth", map[string]string{"username": "bob", "passwd": wrongPW}); code != 403 {
		t.Errorf("wrong password = %d, want 403", code)
	}
	bob = in.Login("bob", bobPW)
	tmpl := admin.Must(200, "POST", "/template", map[string]any{"label": "keyed", "attrs": []map[string]any{
		{"label": "key", "type": "static", "value_type": "psk"}, {"label": "t", "type": "dynamic", "value_type": "float"}}})
	var tr struct{ Template struct{ ID int } }
	mustJSON(t, tmpl, &tr)
	var devs struct{ Devices []struct{ ID string } }
	mustJSON(t, admin.Must(200, "POST", "/device", map[string]any{"label": "d", "templates": []int{tr.Template.ID}}), &devs)
	id := devs.Devices[0].ID
	var psks []struct{ Attribute, PSK string }
	mustJSON(t, admin.Must(200, "POST", "/device/gen_psk/"+id+"?key_length=16", nil), &psks)
	if len(psks) != 1 || len(psks[0].PSK) != 32 {
		t.Fatalf("gen_psk = %+v", psks)
	}
	psk := psks[0].PSK
	var cred struct {
		Credentials struct{ Username, Password string }
		BasicAuth   string
	}
	mustJSON(t, admin.Must(200, "POST", "/basic-auth/v1/devices/"+id+"/basic-credentials", nil), &cred)
	internal := in.Client()
	internal.Base, internal.Token = "http://"+internalAddr, admin.Token
	internal.Must(200, "POST", "/basic-auth/v1/internal/authentication", map[string]string{"username": cred.Credentials.Username, "password": cred.Credentials.Password})
	internal.Must(401, "POST", "/basic-auth/v1/internal/authentication", map[string]string{"username": cred.Credentials.Username, "password": wrongPW})
	if got := internal.Must(200, "GET", "/internal/device/"+id, nil); !bytes.Contains(got, []byte(psk)) {
		t.Errorf("internal device %s lacks its key", got)
	}

	// Tokens: each refused with 401 and the same body, on a PEP route.
	const badToken = `{"message":"Invalid authentication token given","status":401}` + "\n"
	now := time.Now()
	claims := jwt.MapClaims{"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "userid": 1, "service": "admin", "username": "admin", "profile": "admin", "groups": []int{1}}
	sign := func(m jwt.SigningMethod, key any, mod func(jwt.MapClaims)) string {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		if mod != nil {
			mod(c)
		}
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if code, body := admin.With(sign(jwt.SigningMethodHS256, []byte(jwtSecret), nil)).Do("GET", "/device", nil); code != 200 {
		t.Fatalf("a token signed with the instance's secret = %d %s: the forgeries below would prove nothing", code, body)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(admin.Token, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var pm map[string]any
	_ = json.Unmarshal(payload, &pm)
	pm["service"], pm["userid"] = "bob", 2
	tampered, _ := json.Marshal(pm)
	bobToken := bob.Token
	for name, tok := range map[string]string{
		"alg none":           sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil),
		"alg none, unsigned": b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".",
		"RS256":              sign(jwt.SigningMethodRS256, rsaKey, nil),
		"HS256, another key": sign(jwt.SigningMethodHS256, []byte("not the instance's secret at all"), nil),
		"HS512, our key":     sign(jwt.SigningMethodHS512, []byte(jwtSecret), nil),
		"expired":            sign(jwt.SigningMethodHS256, []byte(jwtSecret), func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() }),
		"tampered payload":   parts[0] + "." + b64(tampered) + "." + parts[2],
		"unknown user":       sign(jwt.SigningMethodHS256, []byte(jwtSecret), func(c jwt.MapClaims) { c["userid"] = 999 }),
	} {
		if code, body := admin.With(tok).Do("GET", "/device", nil); code != 401 || string(body) != badToken {
			t.Errorf("%s: GET /device = %d %s; want 401 %s", name, code, body, badToken)
		}
	}
	admin.Must(200, "DELETE", "/auth/user/bob", nil)
	for _, path := range []string{"/device", "/topic/device-data"} {
		if code, body := bob.Do("GET", path, nil); code != 401 || string(body) != badToken {
			t.Errorf("deleted user's token: GET %s = %d %s; want 401 %s", path, code, body, badToken)
		}
	}

	// Login rate limit (-login-limit-user=3/1m): the 4th attempt is 429.
	for i := range 4 {
		req, _ := http.NewRequest("POST", in.URL+"/auth", strings.NewReader(`{"username":"carol","passwd":"`+wrongPW+`"}`))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := new(bytes.Buffer)
		_, _ = body.ReadFrom(res.Body)
		res.Body.Close()
		if i < 3 && res.StatusCode != 401 {
			t.Errorf("attempt %d = %d %s, want 401", i+1, res.StatusCode, body)
		}
		if i == 3 && (res.StatusCode != 429 || res.Header.Get("Retry-After") == "" || body.String() != `{"message":"API rate limit exceeded","status":429}`+"\n") {
			t.Errorf("4th attempt = %d %q Retry-After %q; want 429 with Retry-After", res.StatusCode, body, res.Header.Get("Retry-After"))
		}
	}

	// Size limits: a 100 KB header is 431; a body past -max-body-bytes 413.
	req, _ := http.NewRequest("GET", in.URL+"/device", nil)
	req.Header.Set("Authorization", "Bearer "+admin.Token)
	req.Header.Set("X-Padding", strings.Repeat("x", 100<<10))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KB header: %v %v; want 431", res, err)
	} else {
		res.Body.Close()
	}
	big := `{"label":"` + strings.Repeat("x", 200_000) + `","attrs":[]}`
	if code, body := admin.Do("POST", "/template", big); code != 413 || string(body) != `{"message":"Request body too large","status":413}`+"\n" {
		t.Errorf("200 KB body = %d %s; want 413", code, trunc(body))
	}

	// The key is not in NATS's files in clear, and reads back after a
	// restart (the log replayed, sealed keys opened).
	in.Stop()
	natsFiles, sawDevice := 0, false
	_ = filepath.WalkDir(filepath.Join(in.DataDir, "nats"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		natsFiles++
		sawDevice = sawDevice || bytes.Contains(b, []byte(`"psks_sealed":"v1.`)) && bytes.Contains(b, []byte(`"id":"`+id+`"`))
		if bytes.Contains(b, []byte(psk)) {
			t.Errorf("%s holds the device's key in clear", p)
		}
		return nil
	})
	if !sawDevice {
		t.Errorf("the device's sealed event not found in %d NATS files: the files are not what the search assumes", natsFiles)
	}
	in.Restart()
	admin = in.Login("admin", adminPW)
	internal.Token = admin.Token
	if got := internal.Must(200, "GET", "/internal/device/"+id, nil); !bytes.Contains(got, []byte(psk)) {
		t.Errorf("after a restart, internal device %s lacks its key", got)
	}
	in.Stop()

	// Another key: the instance refuses to start rather than serve (and
	// later rewrite) devices without their keys.
	wrong := dojottest.Launch(t, in.DataDir, "-admin-password=", "-ca-cert=", "-ca-key=", "-psk-key="+strings.Repeat("ab", 32))
	if stderr, ok := wrong.Exited(60 * time.Second); !ok || !strings.Contains(stderr, "-psk-key: the pre-shared keys of") {
		t.Errorf("start with another -psk-key: exited %v, stderr %q; want a refusal naming -psk-key", ok, stderr)
	}

	// No secret in the log.
	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(log, []byte(`"level":"DEBUG"`)) || !bytes.Contains(log, []byte(`"username":"bob"`)) {
		t.Fatalf("the log has no debug line or no login of bob: %.300s", log)
	}
	for name, secret := range map[string]string{
		"admin password": adminPW, "JWT secret": jwtSecret, "PSK key": pskKey, "CA key": caKey,
		"bob's password": bobPW, "temporary password": "temppwd", "a wrong password": wrongPW,
		"admin's token": admin.Token, "bob's token": bobToken, "token signature": parts[2],
		"device key": psk, "device password": cred.Credentials.Password, "basic auth header": strings.TrimPrefix(cred.BasicAuth, "Basic "),
	} {
		if i := bytes.Index(log, []byte(secret)); i >= 0 {
			t.Errorf("%s found in the log: %s", name, log[max(0, i-200):min(len(log), i+len(secret)+50)])
		}
	}
	t.Logf("%d log bytes checked for 13 secrets; %d NATS files for the device key; %d secret files' modes", len(log), natsFiles, secretFiles)
}

// TestPSKTwoInstances: instances given one -psk-key share the devices'
// keys (one generates, the other reads them back); an instance started
// with another key on the same NATS refuses to start.
func TestPSKTwoInstances(t *testing.T) {
	key := strings.Repeat("5a", 32)
	first, second := sharedNATS(t, []string{"-jwt-secret=shared-e2e-secret", "-psk-key=" + key})
	internalAddr := dojottest.FreeAddr(t)
	a := start(t, "", first...)
	b := start(t, "", append(second, "-internal-addr="+internalAddr)...)
	ca := a.Login("admin", adminPassword)
	var tr struct{ Template struct{ ID int } }
	mustJSON(t, ca.Must(200, "POST", "/template", map[string]any{"label": "keyed", "attrs": []map[string]any{
		{"label": "key", "type": "static", "value_type": "psk"}}}), &tr)
	var devs struct{ Devices []struct{ ID string } }
	mustJSON(t, ca.Must(200, "POST", "/device", map[string]any{"label": "d", "templates": []int{tr.Template.ID}}), &devs)
	id := devs.Devices[0].ID
	var psks []struct{ Attribute, PSK string }
	mustJSON(t, ca.Must(200, "POST", "/device/gen_psk/"+id+"?key_length=16", nil), &psks)
	internal := b.Login("admin", adminPassword)
	internal.Base = "http://" + internalAddr
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, got := internal.Do("GET", "/internal/device/"+id, nil)
		if code == 200 && bytes.Contains(got, []byte(psks[0].PSK)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other instance's internal device = %d %s; want the key %s", code, trunc(got), psks[0].PSK)
		}
		time.Sleep(50 * time.Millisecond)
	}
	other := append(slices.Clone(second), "-psk-key="+strings.Repeat("a5", 32))
	c := dojottest.Launch(t, "", other...)
	if stderr, ok := c.Exited(60 * time.Second); !ok || !strings.Contains(stderr, "-psk-key: the pre-shared keys of") {
		t.Errorf("a third instance with another key: exited %v, stderr %q; want a refusal naming -psk-key", ok, stderr)
	}
}
