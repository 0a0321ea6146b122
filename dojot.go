// Package dojot holds the vocabulary shared by every part of the platform:
// the event envelope, the domain payloads stored in events, error kinds and
// context values. It imports nothing else from this module, so commands
// (which decide events) and projections (which apply them) can both speak it.
package dojot

import "regexp"

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

// tenantRe accepts what dojot's auth accepts for a service name and is also a
// safe NATS subject token (no '.', '*', '>' or spaces).
var tenantRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// ValidTenant reports whether s can name a tenant.
func ValidTenant(s string) bool { return tenantRe.MatchString(s) }

// tokenRe is what may appear as one subject token (aggregate ids).
var tokenRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// ValidToken reports whether s is safe as a single NATS subject token.
func ValidToken(s string) bool { return tokenRe.MatchString(s) }
