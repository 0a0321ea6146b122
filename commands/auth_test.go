package commands_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
	"github.com/dojot-es/dojot/commands/commandstest"
	"github.com/dojot-es/dojot/projections/memory"
)

// given decides each command against the state the previous ones left and
// applies its events, numbered as a stream would: "given events".
func given(t *testing.T, cmds ...commands.AuthCommand) *memory.View {
	t.Helper()
	v := memory.New()
	seq := uint64(0)
	for _, c := range cmds {
		evs, err := commands.DecideAuth(v, c)
		if err != nil {
			t.Fatalf("given %T: %v", c, err)
		}
		for _, ev := range evs {
			seq++
			ev.Seq = seq
			if err := v.Apply(t.Context(), ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	return v
}

// summary is what an event's append depends on: type, subject and
// expectation.
func summary(evs []dojot.Event) []string {
	var out []string
	for _, ev := range evs {
		s := fmt.Sprintf("%s %s expect=%d", ev.Type, ev.Subject(), ev.Expect)
		if ev.ExpectSubject != "" {
			s += " on " + ev.ExpectSubject
		}
		out = append(out, s)
	}
	return out
}

// authCase is "given these commands, when this one, then these events (as
// summary shows them)", or an error of kind with msg.
type authCase struct {
	given []commands.AuthCommand
	when  commands.AuthCommand
	then  []string
	kind  error
	msg   string
}

func runAuthCases(t *testing.T, tests map[string]authCase) {
	t.Helper()
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := commands.DecideAuth(given(t, tt.given...), tt.when)
			checkErr(t, err, tt.kind, tt.msg)
			if !reflect.DeepEqual(summary(got), tt.then) {
				t.Errorf("DecideAuth(%T) =\n%s\nwant\n%s", tt.when, strings.Join(summary(got), "\n"), strings.Join(tt.then, "\n"))
			}
		})
	}
}

func checkErr(t *testing.T, err error, kind error, msg string) {
	t.Helper()
	if kind == nil {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, kind) || err.Error() != msg {
		t.Fatalf("err = %v, want %v %q", err, kind, msg)
	}
}

var (
	boot  = commands.Bootstrap{AuthMeta: commands.AuthMeta{At: t0}, Hash: "h", Key: "k"}
	byAdm = commands.AuthMeta{At: t0, By: 1, Actor: "admin"}
	bob   = commands.CreateUser{AuthMeta: byAdm, Username: "bob", Service: "acme", Email: "bob@x.com", Name: "Bob", Profile: "user", Hash: "h2", Key: "k2"}
	carol = commands.CreateUser{AuthMeta: byAdm, Username: "carol", Service: "acme", Email: "carol@x.com", Name: "Carol", Profile: "user"}
)

// After boot, the stream holds 40 events; user admin is the last (seq 40).
const (
	userKind  = " on evt.dojot-management.user.*"
	groupKind = " on evt.dojot-management.group.*"
	permKind  = " on evt.dojot-management.permission.*"
)

func TestDecideBootstrap(t *testing.T) {
	v := memory.New()
	evs, err := commands.DecideAuth(v, boot)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 40 {
		t.Fatalf("bootstrap decided %d events, want 40", len(evs))
	}
	v = given(t, boot)
	for name, id := range map[string]int64{"all_all": 1, "ro_template": 3, "all_backstage": 22} {
		if p, ok := v.Permission(name); !ok || p.ID != id || p.Type != dojot.PermissionSystem || p.Permission != dojot.Permit {
			t.Errorf("Permission(%s) = %+v, %v; want id %d, system, permit", name, p, ok, id)
		}
	}
	admin, _ := v.User("admin")
	if admin.ID != 1 || admin.Service != "admin" || admin.Profile != "admin" || admin.CreatedBy != 0 {
		t.Errorf("admin = %+v", admin)
	}
	if g := v.UserGroups(1); len(g) != 1 || g[0].Name != "admin" || g[0].ID != 1 {
		t.Errorf("admin groups = %+v", g)
	}
	if n := len(v.GroupPermissions(2)); n != 13 {
		t.Errorf("group user has %d permissions, want 13", n)
	}
	if got := v.Tenants(); !reflect.DeepEqual(got, []string{"admin"}) {
		t.Errorf("Tenants() = %v", got)
	}
	if evs, err := commands.DecideAuth(v, boot); err != nil || evs != nil {
		t.Errorf("second bootstrap = %v, %v; want nothing", summary(evs), err)
	}

	// A bootstrap cut short after 6 events is completed, reusing what exists.
	partial := memory.New()
	for i, ev := range evs0(t)[:6] {
		ev.Seq = uint64(i + 1)
		_ = partial.Apply(t.Context(), ev)
	}
	rest, err := commands.DecideAuth(partial, boot)
	if err != nil || len(rest) != 34 || rest[0].Type != dojot.EventPermissionCreated || rest[0].AggregateID != "6" {
		t.Fatalf("completing bootstrap = %v, %v", summary(rest[:1]), err)
	}
}

func evs0(t *testing.T) []dojot.Event {
	evs, err := commands.DecideAuth(memory.New(), boot)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestDecideUsers(t *testing.T) {
	deleteBob := commands.DeleteUser{AuthMeta: byAdm, Ref: "bob"}
	tests := map[string]authCase{
		"first user of a service": {[]commands.AuthCommand{boot}, bob, []string{
			"tenant.created evt.acme.tenant.acme expect=0",
			"user.created evt.dojot-management.user.bob expect=40" + userKind,
		}, nil, ""},
		"second user": {[]commands.AuthCommand{boot, bob}, carol, []string{
			"user.created evt.dojot-management.user.carol expect=42" + userKind,
		}, nil, ""},
		"service again after its deletion": {[]commands.AuthCommand{boot, bob, deleteBob}, carol, []string{
			"tenant.created evt.acme.tenant.acme expect=44",
			"user.created evt.dojot-management.user.carol expect=43" + userKind,
		}, nil, ""},
		"username in use": {[]commands.AuthCommand{boot, bob}, bob, nil, dojot.ErrInvalid, "Username bob is in use."},
		"email in use": {[]commands.AuthCommand{boot, bob}, commands.CreateUser{Username: "bob2", Service: "acme", Email: "bob@x.com", Name: "B", Profile: "user"},
			nil, dojot.ErrInvalid, "E-mail bob@x.com is in use."},
		"upper case username": {nil, commands.CreateUser{Username: "Bob", Service: "acme", Email: "b@x.com", Name: "B", Profile: "p"},
			nil, dojot.ErrInvalid, "Invalid username. Usernames should start with a letter and only lowercase, alphanumeric and underscores are allowed"},
		"username with a dash": {nil, commands.CreateUser{Username: "bo-b", Service: "acme", Email: "b@x.com", Name: "B", Profile: "p"},
			nil, dojot.ErrInvalid, "Invalid username, only alphanumeric and underscores allowed"},
		"no service": {nil, commands.CreateUser{Username: "bob", Email: "b@x.com", Name: "B", Profile: "p"}, nil, dojot.ErrInvalid, "Missing service"},
		"service not a subject token": {nil, commands.CreateUser{Username: "bob", Service: "a.b", Email: "b@x.com", Name: "B", Profile: "p"},
			nil, dojot.ErrInvalid, "Invalid service. Services should start with a letter and only lowercase, alphanumeric and underscores are allowed"},
		"bad email": {nil, commands.CreateUser{Username: "bob", Service: "acme", Email: "bob", Name: "B", Profile: "p"}, nil, dojot.ErrInvalid, "Invalid e-mail address"},
		"no name":   {nil, commands.CreateUser{Username: "bob", Service: "acme", Email: "b@x.com", Profile: "p"}, nil, dojot.ErrInvalid, "Missing user's name (full name)"},
		"no profile": {nil, commands.CreateUser{Username: "bob", Service: "acme", Email: "b@x.com", Name: "B"},
			nil, dojot.ErrInvalid, "Missing profile"},

		"delete the last user of a service": {[]commands.AuthCommand{boot, bob}, deleteBob, []string{
			"user.deleted evt.dojot-management.user.bob expect=42" + userKind,
			"tenant.deleted evt.acme.tenant.acme expect=41",
		}, nil, ""},
		"delete one of two users": {[]commands.AuthCommand{boot, bob, carol}, deleteBob, []string{
			"user.deleted evt.dojot-management.user.bob expect=43" + userKind,
		}, nil, ""},
		"delete oneself": {[]commands.AuthCommand{boot, bob}, commands.DeleteUser{AuthMeta: commands.AuthMeta{By: 2}, Ref: "2"},
			nil, dojot.ErrInvalid, "a user can't remove himself"},
		"delete admin": {[]commands.AuthCommand{boot, bob}, commands.DeleteUser{AuthMeta: commands.AuthMeta{By: 2}, Ref: "admin"},
			nil, dojot.ErrNotAllowed, "Can't delete the admin user"},
		"delete unknown": {[]commands.AuthCommand{boot}, deleteBob, nil, dojot.ErrNotFound, "Unknown user id"},

		"move the last user to a new service": {[]commands.AuthCommand{boot, bob},
			commands.UpdateUser{Ref: "bob", Service: "beta", Email: "bob@x.com", Name: "Bob"}, []string{
				"tenant.created evt.beta.tenant.beta expect=0",
				"user.updated evt.dojot-management.user.bob expect=42" + userKind,
				"tenant.deleted evt.acme.tenant.acme expect=41",
			}, nil, ""},
		"rename": {[]commands.AuthCommand{boot, bob}, commands.UpdateUser{Ref: "2", Service: "acme", Email: "bob@x.com", Name: "Robert"}, []string{
			"user.updated evt.dojot-management.user.bob expect=42" + userKind,
		}, nil, ""},
		"change a username": {[]commands.AuthCommand{boot, bob}, commands.UpdateUser{Ref: "bob", Username: "rob", Service: "acme", Email: "bob@x.com", Name: "Bob"},
			nil, dojot.ErrInvalid, "usernames can't be updated"},
		"take another's email": {[]commands.AuthCommand{boot, bob}, commands.UpdateUser{Ref: "bob", Service: "acme", Email: "admin@noemail.com", Name: "Bob"},
			nil, dojot.ErrInvalid, "email already in use"},
		"move admin": {[]commands.AuthCommand{boot}, commands.UpdateUser{Ref: "admin", Service: "acme", Email: "admin@noemail.com", Name: "A"},
			nil, dojot.ErrNotAllowed, "Can't edit service of admin"},
		"update unknown": {[]commands.AuthCommand{boot}, commands.UpdateUser{Ref: "zed"}, nil, dojot.ErrNotFound, "Unknown user id"},
	}
	runAuthCases(t, tests)
}

func TestDecideCreateUserPayload(t *testing.T) {
	evs, err := commands.DecideAuth(given(t, boot), bob)
	if err != nil {
		t.Fatal(err)
	}
	var p dojot.UserCreated
	if err := evs[1].Decode(&p); err != nil {
		t.Fatal(err)
	}
	want := dojot.UserCreated{
		User: dojot.User{ID: 2, Name: "Bob", Username: "bob", Service: "acme", Email: "bob@x.com", Profile: "user", CreatedDate: t0, CreatedBy: 1},
		Hash: "h2", Key: "k2", Groups: []int64{2},
	}
	if !reflect.DeepEqual(p, want) || evs[1].Actor != "admin" || evs[1].Version != 1 {
		t.Errorf("user.created = %+v (actor %q, version %d), want %+v", p, evs[1].Actor, evs[1].Version, want)
	}
}

func TestDecidePap(t *testing.T) {
	newPerm := commands.CreatePermission{AuthMeta: byAdm, Name: "dev_ro", Path: "/device/(.*)", Method: "GET"}
	tests := map[string]authCase{
		"create permission": {[]commands.AuthCommand{boot}, newPerm, []string{
			"permission.created evt.dojot-management.permission.23 expect=23" + permKind}, nil, ""},
		"permission name in use": {[]commands.AuthCommand{boot}, commands.CreatePermission{Name: "all_all", Path: "/", Method: "GET"},
			nil, dojot.ErrInvalid, "Permission name all_all is in use."},
		"bad verdict": {nil, commands.CreatePermission{Name: "xx", Path: "/", Method: "GET", Permission: "maybe"},
			nil, dojot.ErrInvalid, "An access control rule can not return 'maybe'"},
		"bad regex": {nil, commands.CreatePermission{Name: "xx", Path: "/(", Method: "GET"}, nil, dojot.ErrInvalid, "/( is not a valid regular expression."},
		"no method": {nil, commands.CreatePermission{Name: "xx", Path: "/"}, nil, dojot.ErrInvalid, "Missing permission method"},
		"edit a system permission": {[]commands.AuthCommand{boot}, commands.UpdatePermission{Ref: "1", Name: "all_all", Path: "/", Method: "GET"},
			nil, dojot.ErrNotAllowed, "Can't edit a system permission "},
		"rename a permission": {[]commands.AuthCommand{boot, newPerm}, commands.UpdatePermission{Ref: "dev_ro", Name: "other", Path: "/", Method: "GET"},
			nil, dojot.ErrInvalid, "permission name can't be changed"},
		"delete a system permission": {[]commands.AuthCommand{boot}, commands.DeletePermission{Ref: "all_all"},
			nil, dojot.ErrNotAllowed, "Can't delete a system permission"},
		"delete unknown permission": {[]commands.AuthCommand{boot}, commands.DeletePermission{Ref: "99"},
			nil, dojot.ErrNotFound, "No permission found with this ID or name"},

		"create group": {[]commands.AuthCommand{boot}, commands.CreateGroup{Name: "ops"}, []string{
			"group.created evt.dojot-management.group.3 expect=39" + groupKind}, nil, ""},
		"group name in use":           {[]commands.AuthCommand{boot}, commands.CreateGroup{Name: "user"}, nil, dojot.ErrInvalid, "Group name user is in use."},
		"group name not alphanumeric": {nil, commands.CreateGroup{Name: "a_b"}, nil, dojot.ErrInvalid, "Invalid group name, only alphanumeric allowed"},
		"edit admin group":            {[]commands.AuthCommand{boot}, commands.UpdateGroup{Ref: "1", Name: "root"}, nil, dojot.ErrNotAllowed, "Can't edit admin group"},
		"delete admin group":          {[]commands.AuthCommand{boot}, commands.DeleteGroup{Ref: "admin"}, nil, dojot.ErrNotAllowed, "Can't delete admin group"},
		"delete unknown group":        {[]commands.AuthCommand{boot}, commands.DeleteGroup{Ref: "7"}, nil, dojot.ErrNotFound, "No group found with this ID"},

		"add a user to a group": {[]commands.AuthCommand{boot}, commands.Relation{Kind: commands.UserGroupRelation, From: "admin", To: "user"}, []string{
			"user.group_added evt.dojot-management.user.admin expect=40"}, nil, ""},
		"add a member again": {[]commands.AuthCommand{boot}, commands.Relation{Kind: commands.UserGroupRelation, From: "1", To: "admin"},
			nil, dojot.ErrConflict, "User is already a member of the group"},
		"add to an unknown group": {[]commands.AuthCommand{boot}, commands.Relation{Kind: commands.UserGroupRelation, From: "admin", To: "ops"},
			nil, dojot.ErrNotFound, "No group found with this ID or name: ops"},
		"remove a non-member": {[]commands.AuthCommand{boot}, commands.Relation{Kind: commands.UserGroupRelation, From: "admin", To: "user", Remove: true},
			nil, dojot.ErrNotFound, "User is not a member of the group"},
		"give a group a permission": {[]commands.AuthCommand{boot}, commands.Relation{Kind: commands.GroupPermissionRelation, From: "user", To: "ro_user"}, []string{
			"group.permission_added evt.dojot-management.group.2 expect=39"}, nil, ""},
		"give it twice": {[]commands.AuthCommand{boot}, commands.Relation{Kind: commands.GroupPermissionRelation, From: "1", To: "1"},
			nil, dojot.ErrConflict, "Group already have this permission"},
		"take a permission from a user": {[]commands.AuthCommand{boot}, commands.Relation{Kind: commands.UserPermissionRelation, From: "admin", To: "1", Remove: true},
			nil, dojot.ErrNotFound, "User does not have this permission"},
	}
	runAuthCases(t, tests)
}

func TestCheckPassword(t *testing.T) {
	u := dojot.User{Username: "bobby", Email: "bobby@x.com", Name: "Robert Smith"}
	tests := map[string]struct {
		passwd string
		ok     bool
	}{
		"good":            {"Tr0ub4dor&3", true},
		"short":           {"aB3$x", false},
		"has the name":    {"xxsmithxx", false},
		"has the user":    {"9Bobbyz7q", false},
		"ascending run":   {"qz8abcw5r", false},
		"descending run":  {"qz8cbaw5r", false},
		"repeated chars":  {"qz8aaaw5r", false},
		"two in a row ok": {"qz8aaw5rk", true},
		"long":            {strings.Repeat("ab", 260), false},
		"over 72 bytes":   {strings.Repeat("ab1", 25), false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if err := commands.CheckPassword(u, tt.passwd); (err == nil) != tt.ok {
				t.Errorf("CheckPassword(%q) = %v, want ok %v", tt.passwd, err, tt.ok)
			}
		})
	}
}

func TestAuthLogin(t *testing.T) {
	log := &commandstest.Store{}
	a, _ := instance(t, log)
	if created, err := a.Bootstrap(t.Context(), "admin"); !created || err != nil {
		t.Fatalf("Bootstrap = %v, %v", created, err)
	}
	if created, err := a.Bootstrap(t.Context(), "other"); created || err != nil {
		t.Fatalf("second Bootstrap = %v, %v; want a no-op", created, err)
	}
	p, err := a.Login(t.Context(), "ADMIN", "admin")
	if err != nil || p.User.ID != 1 || !reflect.DeepEqual(p.Groups, []int64{1}) || len(p.Issuer) != 32 {
		t.Fatalf("Login(admin) = %+v, %v", p, err)
	}
	_, err = a.Login(t.Context(), "admin", "wrong")
	checkErr(t, err, dojot.ErrForbidden, "AuthorizationError")
	_, err = a.Login(t.Context(), "nobody", "x")
	checkErr(t, err, dojot.ErrUnauthorized, "AuthenticationError")

	// Users created through the API get dojot's temporary password.
	if _, err := a.CreateUser(asAdmin(t), commands.CreateUser{Username: "bob", Service: "acme", Email: "b@x.com", Name: "Bob", Profile: "user"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Login(t.Context(), "bob", "temppwd"); err != nil {
		t.Fatalf("Login(bob, temppwd) = %v", err)
	}
	err = a.ChangePassword(t.Context(), 2, "wrong", "Tr0ub4dor&3")
	checkErr(t, err, dojot.ErrInvalid, "Incorrect password")
	err = a.ChangePassword(t.Context(), 2, "temppwd", "short")
	checkErr(t, err, dojot.ErrInvalid, "password must have at least 8 characters")
	if err := a.ChangePassword(t.Context(), 2, "temppwd", "Tr0ub4dor&3"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Login(t.Context(), "bob", "Tr0ub4dor&3"); err != nil {
		t.Fatalf("Login with the new password = %v", err)
	}
	err = a.ChangePassword(t.Context(), 2, "Tr0ub4dor&3", "Tr0ub4dor&3")
	checkErr(t, err, dojot.ErrInvalid, "Please, choose a password that was not used before.")
	if err := a.ChangePassword(t.Context(), 2, "Tr0ub4dor&3", "C0rrect#Horse"); err != nil {
		t.Fatal(err)
	}
	err = a.ChangePassword(t.Context(), 2, "C0rrect#Horse", "Tr0ub4dor&3")
	checkErr(t, err, dojot.ErrInvalid, "Please, choose a password that was not used before")
}

// TestAuthRenew: a renewal answers the user as it is now (groups joined and
// tenant changed since the login show), and refuses a user that is gone.
func TestAuthRenew(t *testing.T) {
	log := &commandstest.Store{}
	a, _ := instance(t, log)
	if _, err := a.Bootstrap(t.Context(), "admin"); err != nil {
		t.Fatal(err)
	}
	ctx := asAdmin(t)
	res, err := a.CreateUser(ctx, commands.CreateUser{Username: "dora", Service: "acme", Email: "d@x.com", Name: "Dora", Profile: "user"})
	if err != nil {
		t.Fatal(err)
	}
	login, err := a.Login(t.Context(), "dora", "temppwd")
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Renew(t.Context(), res.User.ID)
	if err != nil || !reflect.DeepEqual(p, login) {
		t.Fatalf("Renew = %+v, %v; want the login's %+v", p, err, login)
	}
	if err := a.Relate(ctx, commands.Relation{Kind: commands.UserGroupRelation, From: "dora", To: "admin"}); err != nil {
		t.Fatal(err)
	}
	if err := a.UpdateUser(ctx, commands.UpdateUser{Ref: "dora", Service: "umbrella", Email: "d@x.com", Name: "Dora"}); err != nil {
		t.Fatal(err)
	}
	p, err = a.Renew(t.Context(), res.User.ID)
	if err != nil || p.User.Service != "umbrella" || !reflect.DeepEqual(p.Groups, append([]int64{1}, login.Groups...)) {
		t.Fatalf("Renew after the change = %+v, %v", p, err)
	}
	if err := a.DeleteUser(ctx, commands.DeleteUser{Ref: "dora"}); err != nil {
		t.Fatal(err)
	}
	_, err = a.Renew(t.Context(), res.User.ID)
	checkErr(t, err, dojot.ErrUnauthorized, "AuthenticationError")
	_, err = a.Renew(t.Context(), 999)
	checkErr(t, err, dojot.ErrUnauthorized, "AuthenticationError")
}

func TestAuthTenantLifecycle(t *testing.T) {
	log := &commandstest.Store{}
	a, v := instance(t, log)
	if _, err := a.Bootstrap(t.Context(), "admin"); err != nil {
		t.Fatal(err)
	}
	ctx := asAdmin(t)
	res, err := a.CreateUser(ctx, bob)
	if err != nil || res.User.ID != 2 || !reflect.DeepEqual(res.Groups, []string{"user"}) || len(res.Failed) != 0 {
		t.Fatalf("CreateUser(bob) = %+v, %v", res, err)
	}
	res, err = a.CreateUser(ctx, commands.CreateUser{Username: "carol", Service: "acme", Email: "c@x.com", Name: "C", Profile: "nogroup"})
	if err != nil || !reflect.DeepEqual(res.Failed, []string{"nogroup"}) {
		t.Fatalf("CreateUser(carol) = %+v, %v", res, err)
	}
	if n := log.Count(dojot.EventTenantCreated); n != 2 { // admin, acme
		t.Errorf("%d tenant.created, want 2", n)
	}
	if got := v.Tenants(); !reflect.DeepEqual(got, []string{"acme", "admin"}) {
		t.Errorf("Tenants() = %v", got)
	}
	for _, ref := range []string{"bob", "3"} {
		if err := a.DeleteUser(ctx, commands.DeleteUser{Ref: ref}); err != nil {
			t.Fatal(err)
		}
	}
	evs := log.Events()
	if last := evs[len(evs)-1]; last.Type != dojot.EventTenantDeleted || last.Tenant != "acme" || log.Count(dojot.EventTenantDeleted) != 1 {
		t.Errorf("last event %s %s; %d tenant.deleted, want 1 for acme", last.Type, last.Tenant, log.Count(dojot.EventTenantDeleted))
	}
	if v.TenantActive("acme") || !reflect.DeepEqual(v.Tenants(), []string{"admin"}) {
		t.Errorf("acme still active: %v", v.Tenants())
	}
}

// Two instances on one log: whatever the interleaving, names and ids are
// claimed once and the log says the same thing as one instance would.
func TestAuthConcurrentInstances(t *testing.T) {
	for range 10 {
		log := &commandstest.Store{}
		a1, _ := instance(t, log)
		a2, v2 := instance(t, log)
		var wg sync.WaitGroup
		created := make([]bool, 2)
		errs := make([]error, 4)
		for i, a := range []*commands.Auth{a1, a2} {
			wg.Go(func() { created[i], errs[i] = a.Bootstrap(t.Context(), "admin") })
		}
		wg.Wait()
		if created[0] == created[1] || errs[0] != nil || errs[1] != nil {
			t.Fatalf("Bootstrap = %v, %v", created, errs[:2])
		}
		if log.Count(dojot.EventUserCreated) != 1 || log.Count(dojot.EventPermissionCreated) != 22 || log.Count(dojot.EventGroupCreated) != 2 ||
			log.Count(dojot.EventGroupPermissionAdded) != 14 || log.Count(dojot.EventTenantCreated) != 1 {
			t.Fatalf("log after two bootstraps: %v", summary(log.Events()))
		}

		// The same username at once: one wins, the other is told it is in use.
		for i, a := range []*commands.Auth{a1, a2} {
			wg.Go(func() {
				_, errs[i] = a.CreateUser(asAdmin(t), commands.CreateUser{Username: "bob", Service: "acme", Email: fmt.Sprintf("b%d@x.com", i), Name: "B", Profile: "user"})
			})
			// Different usernames in a new service at once: distinct ids, one tenant.created.
			wg.Go(func() {
				_, errs[2+i] = a.CreateUser(asAdmin(t), commands.CreateUser{Username: fmt.Sprintf("u%d", i), Service: "zeta", Email: fmt.Sprintf("u%d@x.com", i), Name: "U", Profile: "user"})
			})
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("two CreateUser(bob) = %v, %v; want one in use", errs[0], errs[1])
		}
		if errs[2] != nil || errs[3] != nil {
			t.Fatalf("CreateUser(u0, u1) = %v, %v", errs[2], errs[3])
		}
		_ = a2 // v2 follows the same log
		if err := (&follower{log: log, view: v2}).Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		ids := map[int64]bool{}
		for _, u := range v2.Users("") {
			if ids[u.ID] {
				t.Fatalf("id %d allocated twice", u.ID)
			}
			ids[u.ID] = true
		}
		if len(ids) != 4 || log.Count(dojot.EventTenantCreated) != 3 {
			t.Fatalf("users %v, %d tenant.created; want 4 users, 3 tenants", ids, log.Count(dojot.EventTenantCreated))
		}
	}
}
