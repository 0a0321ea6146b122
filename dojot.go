// Package dojot holds the vocabulary shared by every part of the platform:
// the event envelope, the domain payloads stored in events, error kinds and
// context values. It imports nothing else from this module, so commands
// (which decide events) and projections (which apply them) can both speak it.
package dojot

// ManagementTenant owns the platform-wide aggregates (users, groups,
// permissions) and the tenancy topic, as in dojot.
const ManagementTenant = "dojot-management"

// Aggregate kinds: the third token of an event subject evt.<tenant>.<kind>.<id>.
const (
	KindTenant     = "tenant"
	KindUser       = "user"
	KindGroup      = "group"
	KindPermission = "permission"
	KindTemplate   = "template"
	KindDevice     = "device"
)

// ValidTenant reports whether s can name a tenant: what dojot's auth
// accepts for a service name, ^[a-z][a-z0-9_]{0,63}$, which is also a safe
// NATS subject token (no '.', '*', '>' or spaces). Loops, not a regexp:
// every device reading is checked several times.
func ValidTenant(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// ValidToken reports whether s is safe as a single NATS subject token
// (aggregate ids): ^[A-Za-z0-9_-]{1,128}$.
func ValidToken(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}
