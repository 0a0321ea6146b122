package viewtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/projections/memory"
)

// Scenario returns the event log of a platform's life, decided by the real
// commands: the bootstrap; a second tenant with users, groups, permissions
// and relations; templates with metadata, psk and actuator attrs; devices
// with overrides, labels that sort apart from their ids and LIKE's special
// characters; keys generated and copied; template updates that drop attrs
// and keys; templates added to and removed from devices; deletes of one and
// of all; an import; an actuation; basic credentials set, replaced and
// dropped with their device; a user deleted. Every kind of event the
// views apply is in it. devices scales the number of plain devices.
func Scenario(t testing.TB, devices int) []dojot.Event {
	t.Helper()
	ctx := context.Background()
	view := memory.New()
	store := &commandstest.Store{View: view}
	clock := time.Date(2025, 3, 1, 10, 0, 0, 123456000, time.UTC)
	now := func() time.Time {
		clock = clock.Add(1500 * time.Millisecond) // some with microseconds, some without
		if clock.Nanosecond() == 0 {
			clock = clock.Add(7 * time.Microsecond)
		} else {
			clock = clock.Truncate(time.Second)
		}
		return clock
	}
	opts := commands.Options{Store: store, Sync: commandstest.Syncer{}, Now: now, Rand: rand.NewChaCha8([32]byte{7})}
	auth := commands.NewAuth(opts, view)
	auth.BcryptCost = bcrypt.MinCost
	dm := commands.NewDevices(opts, view)
	dm.BcryptCost = bcrypt.MinCost
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	adminCtx := dojot.WithIdentity(ctx, dojot.Identity{Tenant: "admin", Username: "admin", UserID: 1})
	_, err := auth.Bootstrap(adminCtx, "admin-pw")
	must(err)

	// Auth: a second tenant, users, groups, permissions, relations.
	for i, u := range []commands.CreateUser{
		{Username: "alice", Service: "acme", Email: "alice@acme.io", Name: "Alice", Profile: "admin"},
		{Username: "bob", Service: "acme", Email: "bob@acme.io", Name: "Bob Ávila", Profile: "user"},
		{Username: "carol", Service: "admin", Email: "carol@x.io", Name: "Carol", Profile: "user"},
		{Username: "dave", Service: "beta", Email: "dave@beta.io", Name: "Dave", Profile: "user"},
	} {
		_, err := auth.CreateUser(adminCtx, u)
		must(err)
		_ = i
	}
	_, err = auth.CreateGroup(adminCtx, commands.CreateGroup{Name: "ops", Description: "operators"})
	must(err)
	_, err = auth.CreateGroup(adminCtx, commands.CreateGroup{Name: "viewers", Description: "read only"})
	must(err)
	_, err = auth.CreatePermission(adminCtx, commands.CreatePermission{Name: "no-delete", Path: "/device/(.*)", Method: "DELETE", Permission: dojot.Deny, Type: dojot.PermissionAPI})
	must(err)
	_, err = auth.CreatePermission(adminCtx, commands.CreatePermission{Name: "read-history", Path: "/history/(.*)", Method: "GET", Permission: dojot.Permit, Type: dojot.PermissionAPI})
	must(err)
	for _, r := range []commands.Relation{
		{Kind: commands.UserGroupRelation, From: "bob", To: "ops"},
		{Kind: commands.UserGroupRelation, From: "dave", To: "viewers"},
		{Kind: commands.GroupPermissionRelation, From: "ops", To: "no-delete"},
		{Kind: commands.GroupPermissionRelation, From: "viewers", To: "read-history"},
		{Kind: commands.UserPermissionRelation, From: "carol", To: "read-history"},
		{Kind: commands.UserPermissionRelation, From: "alice", To: "no-delete"},
		{Kind: commands.UserPermissionRelation, From: "alice", To: "no-delete", Remove: true},
	} {
		must(auth.Relate(adminCtx, r))
	}
	must(auth.UpdateUser(adminCtx, commands.UpdateUser{Ref: "carol", Username: "carol", Service: "admin", Email: "carol@new.io", Name: "Carol N"}))
	must(auth.DeleteUser(adminCtx, commands.DeleteUser{Ref: "dave"}))

	// DeviceManager in two tenants.
	for _, tenant := range []string{"admin", "acme"} {
		sensor, err := dm.CreateTemplate(ctx, tenant, []byte(`{"label":"sensor","attrs":[
			{"label":"temperature","type":"dynamic","value_type":"float","metadata":[{"label":"unit","type":"meta","value_type":"string","static_value":"C"}]},
			{"label":"model","type":"static","value_type":"string","static_value":"m1"},
			{"label":"serial","type":"static","value_type":"string"},
			{"label":"key","type":"static","value_type":"psk"},
			{"label":"fan","type":"actuator","value_type":"bool"}]}`))
		must(err)
		pump, err := dm.CreateTemplate(ctx, tenant, []byte(`{"label":"pump_100%","attrs":[
			{"label":"rpm","type":"dynamic","value_type":"integer"},
			{"label":"vendor","type":"static","value_type":"string","static_value":"acme"}]}`))
		must(err)
		extra, err := dm.CreateTemplate(ctx, tenant, []byte(`{"label":"Zeta é","attrs":[{"label":"x","type":"static","value_type":"string","static_value":"1"}]}`))
		must(err)
		attrID := func(tid int, label string) int {
			tp, _ := view.Template(tenant, tid)
			for _, a := range tp.Attrs {
				if a.Label == label {
					return a.ID
				}
			}
			t.Fatalf("no attr %s in template %d", label, tid)
			return 0
		}
		body := fmt.Sprintf(`{"label":"dev","templates":[%d]}`, sensor)
		_, err = dm.CreateDevices(ctx, tenant, []byte(body), devices)
		must(err)
		named := []struct{ id, label, tpls, attrs string }{
			{"a1998e", "pump_1", fmt.Sprintf("[%d,%d]", pump, sensor), fmt.Sprintf(`,"attrs":[{"id":%d,"label":"model","template_id":"%d","static_value":"m9"}]`, attrID(sensor, "model"), sensor)},
			{"b00001", "Pump_2", fmt.Sprintf("[%d]", pump), ""},
			{"c0ffee", "ação%_x", fmt.Sprintf("[%d,%d]", sensor, extra), ""},
			{"000aaa", "zz-last", "[]", ""},
		}
		for _, n := range named {
			_, err := dm.CreateDevices(ctx, tenant, []byte(fmt.Sprintf(`{"id":%q,"label":%q,"templates":%s%s}`, n.id, n.label, n.tpls, n.attrs)), 1)
			must(err)
		}
		must(dm.UpdateDevice(ctx, tenant, "b00001", []byte(fmt.Sprintf(`{"label":"Pump_2b","templates":[%d],"attrs":[{"id":%d,"label":"vendor","template_id":"%d","static_value":"other"}]}`, pump, attrID(pump, "vendor"), pump))))
		_, err = dm.GenPSK(ctx, tenant, "a1998e", 16, nil)
		must(err)
		must(dm.CopyPSK(ctx, tenant, "c0ffee", "key", "a1998e", "key"))
		must(dm.AddTemplate(ctx, tenant, "b00001", fmt.Sprint(extra)))
		must(dm.RemoveTemplate(ctx, tenant, "c0ffee", fmt.Sprint(extra)))
		must(dm.Actuate(ctx, tenant, "a1998e", []byte(`{"attrs":{"fan":true}}`)))
		// Basic credentials: set, replaced, and set on a device deleted below.
		for _, id := range []string{"a1998e", "a1998e", "000aaa"} {
			_, _, err := dm.SetBasicCredentials(ctx, tenant, id)
			must(err)
		}
		// The key attr loses its psk type: keys of it go; serial is dropped.
		_, err = dm.UpdateTemplate(ctx, tenant, fmt.Sprint(sensor), []byte(`{"label":"sensor v2","attrs":[
			{"label":"temperature","type":"dynamic","value_type":"float","metadata":[{"label":"unit","type":"meta","value_type":"string","static_value":"K"}]},
			{"label":"model","type":"static","value_type":"string","static_value":"m2"},
			{"label":"key","type":"static","value_type":"string"},
			{"label":"fan","type":"actuator","value_type":"bool"},
			{"label":"color","type":"static","value_type":"string","static_value":"red"}]}`))
		must(err)
		_, err = dm.DeleteDevice(ctx, tenant, "000aaa")
		must(err)
	}
	// A template deleted while unused, then a tenant wiped and re-imported.
	tpl, err := dm.CreateTemplate(ctx, "acme", []byte(`{"label":"gone","attrs":[]}`))
	must(err)
	_, err = dm.DeleteTemplate(ctx, "acme", fmt.Sprint(tpl))
	must(err)
	_, err = dm.DeleteAllDevices(ctx, "acme")
	must(err)
	_, err = dm.DeleteAllTemplates(ctx, "acme")
	must(err)
	must(dm.Import(ctx, "acme", []byte(`{"templates":[{"id":3,"label":"I","attrs":[{"id":9,"label":"a","type":"static","value_type":"s","static_value":"v"}]}],
		"devices":[{"id":"cafe","label":"c","templates":[3],"attrs":[{"id":9,"label":"a","template_id":"3","static_value":"w"}]},
		{"id":"beef","label":"b","templates":[3]}]}`)))

	// Flows: created in two tenants, one renamed and disabled, one deleted,
	// every flow of a third tenant deleted at once.
	fl := commands.NewFlows(opts, view, nil)
	nodes := `[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"h","type":"event device in","z":"t1","device_id":"cafe","event_publish":true,"x":1.5,"wires":[["s"]]},` +
		`{"id":"s","type":"switch","z":"t1","property":"payload.data.attrs.a","rules":[{"t":"gt","v":"3","vt":"num"}],"checkall":"false","outputs":1,"wires":[[]]}]`
	var ids []string
	for _, c := range []struct{ tenant, body string }{
		{"admin", `{"name":"first","flow":` + nodes + `}`},
		{"admin", `{"name":"second \u00e9","flow":[],"enabled":false}`},
		{"acme", `{"name":"acme's","flow":` + nodes + `}`},
		{"admin", `{"name":"third","flow":[{"id":"x","type":"tab"}]}`},
		{"beta", `{"name":"b1","flow":[]}`},
		{"beta", `{"name":"b2","flow":[]}`},
	} {
		f, err := fl.Create(ctx, c.tenant, []byte(c.body))
		must(err)
		ids = append(ids, f.ID)
	}
	_, err = fl.Update(ctx, "admin", ids[0], []byte(`{"name":"first, renamed","enabled":false}`))
	must(err)
	_, err = fl.Delete(ctx, "admin", ids[1])
	must(err)
	must(fl.DeleteAll(ctx, "beta"))

	// Cron jobs: created through the API and by a flow's request, one
	// replaced (it moves to the end), one deleted, a tenant's all deleted.
	cr := commands.NewCron(opts, view, []string{"http://device-manager:5000"})
	configure := `"broker":{"subject":"dojot.device-manager.device","message":{"event":"configure","data":{"attrs":{"led":"on"},"id":"cafe"},"meta":{"service":"admin"}}}`
	var jobs []string
	for _, c := range []struct{ tenant, request, body string }{
		{"admin", "", `{"time":"0 */5 * * * *","timezone":"America/Sao_Paulo","name":"Keep alive","description":"every 5 minutes",` + configure + `}`},
		{"admin", "flow-1.n1.0", `{"time":"*/1 * * * * *",` + configure + `}`},
		{"acme", "", `{"time":"0 9 * * mon-fri","http":{"method":"POST","url":"http://device-manager:5000/device","headers":{"b":"2","a":"1"},"body":{"z":1,"a":[2]}}}`},
		{"admin", "", `{"time":"* * * * *","name":"ação","broker":{"subject":"device-data","message":{"metadata":{"deviceid":"cafe"},"attrs":{"t":1.50}}}}`},
		{"beta", "", `{"time":"* * * * *",` + configure + `}`},
	} {
		id, err := cr.Create(ctx, c.tenant, c.request, []byte(c.body))
		must(err)
		jobs = append(jobs, id)
	}
	_, err = cr.Put(ctx, "admin", jobs[0], []byte(`{"time":"0 0 * * *",`+configure+`}`))
	must(err)
	_, err = cr.Put(ctx, "acme", "my-job", []byte(`{"time":"0 0 1 * *",`+configure+`}`))
	must(err)
	must(cr.Delete(ctx, "admin", jobs[3]))
	must(cr.DeleteAll(ctx, "beta"))
	return store.Events()
}
