package chaos

import (
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
)

// TestPostgresOutage: the Postgres view's database goes away under a
// running binary (its connections cut, new ones refused) and comes back.
// Meanwhile requests answer 503: reads, and writes too, since the PEP's
// permissions come from the view (it fails closed). Afterwards the binary
// recovers by itself: it takes the applier lease again, applies, and
// answers writes and reads as before, with nothing lost or doubled.
func TestPostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	p, pgURL := dojottest.PostgresProxy(t)
	in := dojottest.Start(t, "", "-view=postgres", "-postgres-url="+pgURL, "-wait-timeout=2s")
	c := in.Login("admin", dojottest.AdminPassword)
	tmpl := dojottest.CreateTemplate(c, "Outage")
	dojottest.CreateDevice(c, "before", tmpl)

	p.Cut()
	for _, req := range [][2]string{{"GET", "/device"}, {"POST", "/device"}} {
		if code, body := c.Do(req[0], req[1], map[string]any{"label": "during", "templates": []int{tmpl}}); code != 503 {
			t.Errorf("%s %s with the view's database down: %d %s; want 503", req[0], req[1], code, body)
		}
	}
	time.Sleep(1500 * time.Millisecond) // past the lease's ping: the lease is lost
	p.Restore()

	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := c.Do("POST", "/device", map[string]any{"label": "after", "id": "afaf", "templates": []int{tmpl}})
		if code == 200 {
			break
		}
		if code != 503 || time.Now().After(deadline) {
			t.Fatalf("write after the database came back: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var ids []string
	dojottest.MustJSON(t, c.Must(200, "GET", "/device?idsOnly=true", nil), &ids)
	if len(ids) != 2 {
		t.Errorf("devices after the outage: %v; want the one before and afaf, once each", ids)
	}
}
