package memory_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/memory"
)

// authLog numbers events as a stream would.
type authLog struct {
	t   *testing.T
	v   *memory.View
	seq uint64
}

func (l *authLog) apply(typ, tenant, kind, id string, data any) {
	l.t.Helper()
	ev, err := dojot.NewEvent(typ, tenant, kind, id, time.Unix(0, 0), data)
	if err != nil {
		l.t.Fatal(err)
	}
	l.seq++
	ev.Seq = l.seq
	if err := l.v.Apply(l.t.Context(), ev); err != nil {
		l.t.Fatal(err)
	}
}

func (l *authLog) user(id int64, name, service string, groups ...int64) {
	l.apply(dojot.EventUserCreated, dojot.ManagementTenant, dojot.KindUser, name,
		dojot.UserCreated{User: dojot.User{ID: id, Username: name, Name: name, Service: service, Email: name + "@x.com"}, Hash: "h0", Groups: groups})
}

func (l *authLog) group(id int64, name string) {
	l.apply(dojot.EventGroupCreated, dojot.ManagementTenant, dojot.KindGroup, dojot.AggregateID(id), dojot.GroupCreated{Group: dojot.Group{ID: id, Name: name}})
}

func (l *authLog) perm(id int64, name, path, method, verdict string) {
	l.apply(dojot.EventPermissionCreated, dojot.ManagementTenant, dojot.KindPermission, dojot.AggregateID(id),
		dojot.PermissionCreated{Permission: dojot.Permission{ID: id, Name: name, Path: path, Method: method, Permission: verdict, Type: dojot.PermissionAPI}})
}

func (l *authLog) groupPerm(typ string, g, p int64) {
	l.apply(typ, dojot.ManagementTenant, dojot.KindGroup, dojot.AggregateID(g), dojot.GroupPermission{GroupID: g, PermissionID: p})
}

func ids[T any](xs []T, id func(T) int64) []int64 {
	out := []int64{}
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func permID(p dojot.Permission) int64 { return p.ID }
func userID(u dojot.User) int64       { return u.ID }

func TestAuthView(t *testing.T) {
	l := &authLog{t: t, v: memory.New()}
	l.group(1, "admin")
	l.group(2, "ops")
	l.perm(1, "all", "/(.*)", "(.*)", dojot.Permit)
	l.perm(2, "nodev", "/device/(.*)", "DELETE", dojot.Deny)
	l.groupPerm(dojot.EventGroupPermissionAdded, 1, 1)
	l.groupPerm(dojot.EventGroupPermissionAdded, 2, 1)
	l.groupPerm(dojot.EventGroupPermissionAdded, 2, 2)
	l.user(1, "admin", "admin", 1)
	l.user(2, "bob", "acme", 2, 9) // group 9 does not exist
	l.user(3, "carol", "acme")
	l.apply(dojot.EventUserPermissionAdded, dojot.ManagementTenant, dojot.KindUser, "carol", dojot.UserPermission{UserID: 3, Username: "carol", PermissionID: 2})
	v := l.v

	if got := ids(v.UserGroups(2), func(g dojot.Group) int64 { return g.ID }); !reflect.DeepEqual(got, []int64{2}) {
		t.Errorf("UserGroups(bob) = %v, want [2]", got)
	}
	if got := v.Tenants(); !reflect.DeepEqual(got, []string{"acme", "admin"}) {
		t.Errorf("Tenants() = %v", got)
	}
	if n := v.ServiceUsers("acme"); n != 2 {
		t.Errorf("ServiceUsers(acme) = %d", n)
	}
	if got := ids(v.Users("o"), userID); !reflect.DeepEqual(got, []int64{2, 3}) {
		t.Errorf("Users(o) = %v", got)
	}
	direct, groups, ok := v.PDPInputs(2)
	if !ok || len(direct) != 0 || len(groups) != 1 || !reflect.DeepEqual(ids(groups[0], permID), []int64{1, 2}) {
		t.Errorf("PDPInputs(bob) = %v, %v, %v", direct, groups, ok)
	}
	if got := ids(v.UserAllPermissions(3), permID); !reflect.DeepEqual(got, []int64{2}) {
		t.Errorf("UserAllPermissions(carol) = %v", got)
	}
	if seq, version := v.SubjectPos("evt.dojot-management.user.carol"); seq != 11 || version != 2 {
		t.Errorf("SubjectPos(carol) = %d, %d; want 11, 2", seq, version)
	}
	if seq := v.KindSeq(dojot.KindGroup); seq != 7 {
		t.Errorf("KindSeq(group) = %d, want 7", seq)
	}

	// Deleting a permission or a group removes its relations; ids are not
	// reused.
	l.apply(dojot.EventPermissionDeleted, dojot.ManagementTenant, dojot.KindPermission, "2", dojot.PermissionDeleted{ID: 2, Name: "nodev"})
	if _, _, ok := v.PDPInputs(3); !ok || len(v.UserPermissions(3)) != 0 || len(v.GroupPermissions(2)) != 1 {
		t.Errorf("permission 2 still related: %v %v", v.UserPermissions(3), v.GroupPermissions(2))
	}
	l.apply(dojot.EventGroupDeleted, dojot.ManagementTenant, dojot.KindGroup, "2", dojot.GroupDeleted{ID: 2, Name: "ops"})
	l.apply(dojot.EventUserGroupAdded, dojot.ManagementTenant, dojot.KindUser, "bob", dojot.UserGroup{UserID: 2, Username: "bob", GroupID: 2})
	if g := v.UserGroups(2); len(g) != 0 {
		t.Errorf("bob in deleted group: %v", g)
	}
	if v.MaxID(dojot.KindGroup) != 2 || v.MaxID(dojot.KindPermission) != 2 {
		t.Errorf("MaxID = %d, %d; want 2, 2", v.MaxID(dojot.KindGroup), v.MaxID(dojot.KindPermission))
	}

	// Moving and deleting users changes the tenant list; a deleted user has
	// no PDP inputs (its tokens are denied).
	l.apply(dojot.EventUserUpdated, dojot.ManagementTenant, dojot.KindUser, "carol", dojot.UserUpdated{ID: 3, Username: "carol", Name: "C", Service: "beta", Email: "c@x.com"})
	l.apply(dojot.EventUserDeleted, dojot.ManagementTenant, dojot.KindUser, "bob", dojot.UserDeleted{ID: 2, Username: "bob", Service: "acme"})
	if got := v.Tenants(); !reflect.DeepEqual(got, []string{"admin", "beta"}) {
		t.Errorf("Tenants() = %v", got)
	}
	if _, _, ok := v.PDPInputs(2); ok {
		t.Error("deleted bob still has PDP inputs")
	}
	if _, ok := v.User("bob"); ok {
		t.Error("User(bob) after delete")
	}

	// Password history keeps the 4 former hashes, newest first.
	for _, h := range []string{"h1", "h2", "h3", "h4", "h5"} {
		l.apply(dojot.EventUserPasswordChanged, dojot.ManagementTenant, dojot.KindUser, "carol", dojot.UserPasswordChanged{ID: 3, Username: "carol", Hash: h})
	}
	if cur, former := v.PasswordHashes(3); cur != "h5" || !reflect.DeepEqual(former, []string{"h4", "h3", "h2", "h1"}) {
		t.Errorf("PasswordHashes(carol) = %q, %v", cur, former)
	}

	// Tenant lifecycle.
	l.apply(dojot.EventTenantCreated, "beta", dojot.KindTenant, "beta", dojot.TenantCreated{Tenant: "beta"})
	if !v.TenantActive("beta") || v.TenantActive("acme") {
		t.Error("TenantActive wrong")
	}

	// Applying an event again changes nothing.
	ev, _ := dojot.NewEvent(dojot.EventTenantDeleted, "beta", dojot.KindTenant, "beta", time.Unix(0, 0), dojot.TenantDeleted{Tenant: "beta"})
	ev.Seq = 3
	if err := v.Apply(t.Context(), ev); err != nil || !v.TenantActive("beta") {
		t.Errorf("replayed seq 3 applied: %v", err)
	}
}
