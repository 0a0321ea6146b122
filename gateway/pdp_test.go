package gateway

import (
	"testing"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
)

func perm(path, method, verdict string) dojot.Permission {
	return dojot.Permission{Path: path, Method: method, Permission: verdict}
}

// seeded returns dojot's seeded permission by name.
func seeded(name string) dojot.Permission {
	for _, p := range commands.SeedPermissions {
		if p.Name == name {
			return perm(p.Path, p.Method, dojot.Permit)
		}
	}
	panic("no seeded permission " + name)
}

func seededGroup(name string) []dojot.Permission {
	for _, g := range commands.SeedGroups {
		if g.Name == name {
			var out []dojot.Permission
			for _, p := range g.Permissions {
				out = append(out, seeded(p))
			}
			return out
		}
	}
	panic("no seeded group " + name)
}

func TestDecide(t *testing.T) {
	admin, user := seededGroup("admin"), seededGroup("user")
	noDelete := perm("/device/(.*)", "DELETE", dojot.Deny)
	tests := []struct {
		name             string
		direct           []dojot.Permission
		groups           [][]dojot.Permission
		action, resource string
		want             bool
	}{
		{"admin anything", nil, [][]dojot.Permission{admin}, "DELETE", "/auth/user/3/", true},
		{"admin tenants", nil, [][]dojot.Permission{admin}, "GET", "/admin/tenants/", true},
		{"user devices", nil, [][]dojot.Permission{user}, "POST", "/device/", true},
		{"user templates", nil, [][]dojot.Permission{user}, "GET", "/template/3/", true},
		{"user history read", nil, [][]dojot.Permission{user}, "GET", "/history/device/a/history/", true},
		{"user history write", nil, [][]dojot.Permission{user}, "POST", "/history/device/", false},
		{"user users", nil, [][]dojot.Permission{user}, "GET", "/auth/user/", false},
		{"user tenants", nil, [][]dojot.Permission{user}, "GET", "/admin/tenants/", false},
		{"user socketio exact", nil, [][]dojot.Permission{user}, "GET", "/stream/socketio/", true},
		{"no groups: default deny", nil, nil, "GET", "/device/", false},
		{"anchored at the start", nil, [][]dojot.Permission{user}, "GET", "/x/device/", false},
		{"open at the end", []dojot.Permission{perm("/dev", "GET", dojot.Permit)}, nil, "GET", "/device/", true},
		{"method regex", []dojot.Permission{perm("/(.*)", "PUT|DELETE", dojot.Permit)}, nil, "DELETE", "/a/", true},
		{"method alternatives anchored", []dojot.Permission{perm("/(.*)", "PUT|GET", dojot.Permit)}, nil, "XGET", "/a/", false},
		{"method mismatch", []dojot.Permission{perm("/(.*)", "GET", dojot.Permit)}, nil, "POST", "/a/", false},
		{"group deny wins", nil, [][]dojot.Permission{admin, {noDelete}}, "DELETE", "/device/a/", false},
		{"group deny wins in any order", nil, [][]dojot.Permission{{noDelete}, admin}, "DELETE", "/device/a/", false},
		{"deny does not apply elsewhere", nil, [][]dojot.Permission{admin, {noDelete}}, "GET", "/device/a/", true},
		{"direct permit beats group deny", []dojot.Permission{perm("/device/(.*)", "(.*)", dojot.Permit)}, [][]dojot.Permission{{noDelete}}, "DELETE", "/device/a/", true},
		{"direct deny beats group permit", []dojot.Permission{noDelete}, [][]dojot.Permission{admin}, "DELETE", "/device/a/", false},
		{"first direct match decides", []dojot.Permission{perm("/(.*)", "GET", dojot.Permit), perm("/(.*)", "GET", dojot.Deny)}, nil, "GET", "/a/", true},
		{"invalid pattern never applies", []dojot.Permission{perm("/(", "GET", dojot.Permit)}, nil, "GET", "/(/", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decide(tt.direct, tt.groups, tt.action, tt.resource); got != tt.want {
				t.Errorf("decide(%s %s) = %v, want %v", tt.action, tt.resource, got, tt.want)
			}
		})
	}
}
