package commands

import (
	"github.com/dojot-es/dojot"
)

// SeedPermission is one of the system permissions dojot's auth creates on
// its first run (auth/initialConf.py), in its order, so ids match dojot's.
type SeedPermission struct{ Name, Path, Method string }

// SeedPermissions are dojot's predefined permissions (all permit, type
// system).
var SeedPermissions = []SeedPermission{
	{"all_all", "/(.*)", "(.*)"},
	{"all_template", "/template/(.*)", "(.*)"},
	{"ro_template", "/template/(.*)", "GET"},
	{"all_device", "/device/(.*)", "(.*)"},
	{"ro_device", "/device/(.*)", "GET"},
	{"all_flows", "/flows/(.*)", "(.*)"},
	{"ro_flows", "/flows/(.*)", "GET"},
	{"ro_history", "/history/(.*)", "GET"},
	{"all_user", "/auth/user/(.*)", "(.*)"},
	{"ro_user", "/auth/user/(.*)", "GET"},
	{"all_pap", "/auth/pap/(.*)", "(.*)"},
	{"ro_pap", "/auth/pap/(.*)", "GET"},
	{"all_x509_ca", "/x509/v1/ca/(.*)", "(.*)"},
	{"ro_x509_ca", "/x509/v1/ca/(.*)", "GET"},
	{"all_x509_certificates", "/x509/v1/certificates/(.*)", "(.*)"},
	{"ro_x509_certificates", "/x509/v1/certificates/(.*)", "GET"},
	{"ro_socketio", "/stream/socketio/", "GET"},
	{"wo_import", "/import/(.*)", "POST"},
	{"ro_export", "/export/(.*)", "GET"},
	{"ro_image", "/fw-image/(.*)", "GET"},
	{"all_image", "/fw-image/(.*)", "(.*)"},
	{"all_backstage", "/graphql/(.*)", "(.*)"},
}

// SeedGroup is one of dojot's predefined groups with its permissions.
type SeedGroup struct {
	Name, Description string
	Permissions       []string
}

// SeedGroups are dojot's predefined groups.
var SeedGroups = []SeedGroup{
	{"admin", "Group with the highest access privilege", []string{"all_all"}},
	{"user", "This groups can do anything, except manage users", []string{
		"all_template", "all_device", "all_flows", "ro_history", "all_x509_ca", "ro_x509_ca",
		"all_x509_certificates", "ro_x509_certificates", "ro_socketio", "wo_import", "ro_export",
		"all_backstage", "all_image",
	}},
}

// Bootstrap seeds an empty platform (see Auth.Bootstrap). It decides only
// what is still missing, and nothing once user admin exists.
type Bootstrap struct {
	AuthMeta
	Hash, Key string // admin's password hash and JWT issuer key
}

func (c Bootstrap) decideAuth(s AuthState) ([]dojot.Event, error) {
	if _, ok := s.User(dojot.AdminUser); ok {
		return nil, nil
	}
	m := c.AuthMeta
	m.By = 0 // created by the platform, as dojot marks its seeds
	p := newAuthPlan(s, m)
	p.tenantCreated(dojot.AdminUser)
	perms := map[string]int64{}
	for _, sp := range SeedPermissions {
		if perm, ok := s.Permission(sp.Name); ok {
			perms[sp.Name] = perm.ID
			continue
		}
		perms[sp.Name] = p.createPermission(dojot.Permission{
			Name: sp.Name, Path: sp.Path, Method: sp.Method, Permission: dojot.Permit, Type: dojot.PermissionSystem,
		})
	}
	groups := map[string]int64{}
	for _, sg := range SeedGroups {
		if g, ok := s.Group(sg.Name); ok {
			groups[sg.Name] = g.ID
			continue
		}
		groups[sg.Name] = p.createGroup(dojot.Group{Name: sg.Name, Description: sg.Description})
	}
	for _, sg := range SeedGroups {
		g := groups[sg.Name]
		for _, name := range sg.Permissions {
			if s.HasGroupPermission(g, perms[name]) {
				continue
			}
			p.onSubject(dojot.EventGroupPermissionAdded, dojot.ManagementTenant, dojot.KindGroup, dojot.AggregateID(g),
				dojot.GroupPermission{GroupID: g, PermissionID: perms[name]})
		}
	}
	admin := dojot.User{
		ID: p.nextID(dojot.KindUser), Name: "Admin (superuser)", Username: dojot.AdminUser, Service: dojot.AdminUser,
		Email: "admin@noemail.com", Profile: "admin", CreatedDate: c.At.UTC(),
	}
	p.onKind(dojot.EventUserCreated, dojot.KindUser, admin.Username,
		dojot.UserCreated{User: admin, Hash: c.Hash, Key: c.Key, Groups: []int64{groups[dojot.AdminGroup]}})
	return p.done()
}
