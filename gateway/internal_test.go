package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/projections/memory"
)

// fakeTopics records EnsureTopic's calls and fails with err.
type fakeTopics struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakeTopics) EnsureTopic(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	return f.err
}

func (f *fakeTopics) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// internalToken is the unsigned token dojot's services forge
// (dojot-module-nodejs lib/auth.js): standard base64 with padding.
func internalToken(claims string) string {
	b := base64.StdEncoding.EncodeToString
	return b([]byte("jwt schema")) + "." + b([]byte(claims)) + "." + b([]byte("dummy signature"))
}

func serviceToken(tenant string) string {
	return internalToken(`{"service":"` + tenant + `","username":"dojot-management"}`)
}

// platform is a bootstrapped platform (admin/admin, tenant admin) with user
// alice of tenant acme, device aa in tenant admin and bb in tenant acme:
// its public and internal gateways.
func platform(t *testing.T, topics Topics) (public, internal *Server) {
	t.Helper()
	v := memory.New()
	store := &commandstest.Store{View: v}
	opts := commands.Options{Store: store, Sync: commandstest.Syncer{}, Now: func() time.Time { return testNow }, Rand: rand.NewChaCha8([32]byte{2})}
	a := commands.NewAuth(opts, v)
	a.BcryptCost = bcrypt.MinCost
	ctx := t.Context()
	if _, err := a.Bootstrap(ctx, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateUser(ctx, commands.CreateUser{Username: "alice", Service: "acme", Email: "a@acme.org", Name: "Alice", Profile: "user"}); err != nil {
		t.Fatal(err)
	}
	d := commands.NewDevices(opts, v)
	d.BcryptCost = bcrypt.MinCost
	for tenant, id := range map[string]string{"admin": "aa", "acme": "bb"} {
		if _, err := d.CreateTemplate(ctx, tenant, []byte(lockTemplate)); err != nil {
			t.Fatal(err)
		}
		if _, err := d.CreateDevices(ctx, tenant, []byte(`{"label":"lock","id":"`+id+`","templates":[1]}`), 1); err != nil {
			t.Fatal(err)
		}
	}
	o := Options{AuthCommands: a, AuthView: v.Reads(), DeviceCommands: d, DeviceView: v.Reads(), JWTSecret: testSecret, Topics: topics}
	return New(o), NewInternal(o)
}

func TestInternalRoutes(t *testing.T) {
	topics := &fakeTopics{}
	_, in := platform(t, topics)
	admin, acme := serviceToken("admin"), serviceToken("acme")

	expect(t, in, "GET", "/topic/device-data", admin, "", 200, `{"topic":"admin.device-data"}`)
	expect(t, in, "GET", "/topic/dojot.tenancy", "Bearer "+serviceToken("dojot-management"), "", 200, `{"topic":"dojot-management.dojot.tenancy"}`)
	expect(t, in, "GET", "/admin/tenants", serviceToken("dojot-management"), "", 200, `{"tenants":["acme","admin"]}`)

	// Tenant isolation: each token sees its own tenant's devices only.
	for tok, want := range map[string][2]string{admin: {"aa", "bb"}, "Bearer " + acme: {"bb", "aa"}} {
		mine, theirs := want[0], want[1]
		b := expect(t, in, "GET", "/internal/device?idsOnly=true", tok, "", 200, "")
		var ids []string
		if err := json.Unmarshal([]byte(b), &ids); err != nil || !slices.Equal(ids, []string{mine}) {
			t.Errorf("GET /internal/device?idsOnly=true as %s = %s; want [%q]", mine, b, mine)
		}
		b = expect(t, in, "GET", "/internal/device", tok, "", 200, "")
		var page struct{ Devices []struct{ ID string } }
		if err := json.Unmarshal([]byte(b), &page); err != nil || len(page.Devices) != 1 || page.Devices[0].ID != mine {
			t.Errorf("GET /internal/device as %s = %s; want device %s only", mine, b, mine)
		}
		expect(t, in, "GET", "/internal/device/"+mine, tok, "", 200, "")
		expect(t, in, "GET", "/internal/device/"+theirs, tok, "", 404, `{"message":"No such device: `+theirs+`","status":404}`)
	}
	if got := topics.called(); !slices.Equal(got, []string{"admin.device-data", "dojot-management.dojot.tenancy"}) {
		t.Errorf("EnsureTopic calls = %q", got)
	}

	// Only these routes.
	for _, path := range []string{"/device", "/template", "/auth/user", "/healthz"} {
		expect(t, in, "GET", path, admin, "", 404, "")
	}
	expect(t, in, "POST", "/auth", "", `{"username":"admin","passwd":"admin"}`, 404, "")
}

func TestInternalTokens(t *testing.T) {
	_, in := platform(t, nil)
	invalidBroker := `{"message":"Invalid authentication token given"}`
	noService := `{"error":"Missing service in GET request header"}`
	noToken := `{"message":"No authorization token has been supplied","status":401}`
	invalidDM := `{"message":"Invalid authentication token","status":401}`
	b64 := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name, token string
		broker, dm  string // the 401 body of DataBroker's and DeviceManager's routes; "" = 200
	}{
		{"none", "", noService, noToken},
		{"two segments", b64([]byte("x")) + "." + b64([]byte(`{"service":"admin"}`)), invalidBroker, ""},
		{"four segments", serviceToken("admin") + ".x", invalidBroker, ""},
		{"one segment", "garbage", invalidBroker, invalidDM},
		{"payload not base64", "a.!!!.c", invalidBroker, invalidDM},
		{"payload not an object", "a." + b64([]byte(`"admin"`)) + ".c", invalidBroker, invalidDM},
		{"no service", internalToken(`{"username":"x"}`), noService, invalidDM},
		{"empty service", internalToken(`{"service":""}`), noService, invalidDM},
		{"service not a string", internalToken(`{"service":7}`), noService, invalidDM},
		{"url alphabet, no padding", "a." + b64([]byte(`{"service":"admin"}`)) + ".c", "", ""},
		{"bearer", "Bearer " + serviceToken("admin"), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, want := 200, ""
			if tt.broker != "" {
				code, want = 401, tt.broker
			}
			expect(t, in, "GET", "/topic/device-data", tt.token, "", code, want)
			if tt.broker == noService && tt.token != "" { // auth's route has no tenant: a parsed token will do
				code, want = 200, ""
			}
			expect(t, in, "GET", "/admin/tenants", tt.token, "", code, want)
			code, want = 200, "" // every token DeviceManager accepts here is tenant admin's, whose device aa is
			if tt.dm != "" {
				code, want = 401, tt.dm
			}
			expect(t, in, "GET", "/internal/device", tt.token, "", code, want)
			expect(t, in, "GET", "/internal/device/aa", tt.token, "", code, want)
		})
	}
}

func TestTopicCreation(t *testing.T) {
	topics := &fakeTopics{}
	pub, in := platform(t, topics)
	admin := login(t, pub, "admin", "admin")
	for range 2 { // each call asks Kafka; a repeat is the topics' no-op
		expect(t, pub, "GET", "/topic/device-data", admin, "", 200, `{"topic":"admin.device-data"}`)
	}
	expect(t, in, "GET", "/topic/device-data", serviceToken("acme"), "", 200, `{"topic":"acme.device-data"}`)
	if got, want := topics.called(), []string{"admin.device-data", "admin.device-data", "acme.device-data"}; !slices.Equal(got, want) {
		t.Errorf("EnsureTopic calls = %q; want %q", got, want)
	}

	// A percent-encoded subject is decoded once, as Express does.
	expect(t, pub, "GET", "/topic/device%2Ddata", admin, "", 200, `{"topic":"admin.device-data"}`)
	expect(t, pub, "GET", "/topic/device%252Ddata", admin, "", 400, "") // device%2Ddata: decoded once, not twice
	// A name Kafka refuses is the client's error, and is not asked for.
	invalid := `{"error":"Invalid subject: a topic name is 1 to 249 letters, digits, '.', '_' or '-'"}`
	expect(t, pub, "GET", "/topic/a%20b", admin, "", 400, invalid)
	expect(t, pub, "GET", "/topic/a%2Fb", admin, "", 400, invalid)
	expect(t, in, "GET", "/topic/a%20b", serviceToken("acme"), "", 400, invalid)
	if got, want := topics.called(), []string{"admin.device-data", "admin.device-data", "acme.device-data", "admin.device-data"}; !slices.Equal(got, want) {
		t.Errorf("EnsureTopic calls = %q; want %q (no call for refused names)", got, want)
	}

	failed := `{"error":"Failed to process topic"}`

	topics.err = errors.New("kafka: broker down")
	expect(t, pub, "GET", "/topic/device-data", admin, "", 500, failed)
	expect(t, in, "GET", "/topic/device-data", serviceToken("admin"), "", 500, failed)

	// Kafka off: the topic is only named.
	pub, _ = platform(t, nil)
	expect(t, pub, "GET", "/topic/device-data", login(t, pub, "admin", "admin"), "", 200, `{"topic":"admin.device-data"}`)
}

// TestPublicRefusesUnsignedTokens: the internal listener's tokens get 401 on
// the public port, on the same paths.
func TestPublicRefusesUnsignedTokens(t *testing.T) {
	pub, _ := platform(t, &fakeTopics{})
	for _, tok := range []string{serviceToken("admin"), "Bearer " + serviceToken("admin"),
		internalToken(`{"service":"admin","username":"admin","userid":1,"profile":"admin","exp":9999999999}`)} {
		for _, path := range []string{"/topic/device-data", "/admin/tenants", "/internal/device", "/internal/device/aa"} {
			if code, body := call(t, pub, "GET", path, tok, ""); code != 401 {
				t.Errorf("public GET %s with an unsigned token = %d %s; want 401", path, code, body)
			}
		}
	}
}
