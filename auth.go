package dojot

import (
	"fmt"
	"time"
)

// Auth: tenants, users, groups and permissions, as dojot's auth service
// keeps them. Users, groups and permissions are platform-wide aggregates
// stored under ManagementTenant:
//
//	evt.dojot-management.user.<username>
//	evt.dojot-management.group.<group id>
//	evt.dojot-management.permission.<permission id>
//
// A tenant's lifecycle is stored under its own name: evt.<t>.tenant.<t>.
// Integer ids are allocated per kind (max id seen + 1) by appending with the
// expectation on the whole kind (evt.dojot-management.<kind>.*), so two
// instances never hand out the same id, username or name.

// Event types of the auth aggregates.
const (
	EventTenantCreated = "tenant.created"
	EventTenantDeleted = "tenant.deleted"

	EventUserCreated           = "user.created"
	EventUserUpdated           = "user.updated"
	EventUserDeleted           = "user.deleted"
	EventUserPasswordChanged   = "user.password_changed"
	EventUserGroupAdded        = "user.group_added"
	EventUserGroupRemoved      = "user.group_removed"
	EventUserPermissionAdded   = "user.permission_added"
	EventUserPermissionRemoved = "user.permission_removed"

	EventGroupCreated           = "group.created"
	EventGroupUpdated           = "group.updated"
	EventGroupDeleted           = "group.deleted"
	EventGroupPermissionAdded   = "group.permission_added"
	EventGroupPermissionRemoved = "group.permission_removed"

	EventPermissionCreated = "permission.created"
	EventPermissionUpdated = "permission.updated"
	EventPermissionDeleted = "permission.deleted"
)

// Permission verdicts and types, as dojot's PermissionEnum and
// PermissionTypeEnum.
const (
	Permit = "permit"
	Deny   = "deny"

	PermissionSystem = "system" // seeded; cannot be edited or deleted
	PermissionAPI    = "api"    // created through /auth/pap
)

// AdminUser is the seeded superuser; it cannot be deleted nor moved to
// another service. AdminGroup is the seeded group that cannot be edited.
const (
	AdminUser  = "admin"
	AdminGroup = "admin"
)

// User is a platform account, without its secrets.
type User struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Username    string    `json:"username"`
	Service     string    `json:"service"` // the tenant
	Email       string    `json:"email"`
	Profile     string    `json:"profile"`
	CreatedDate time.Time `json:"created_date"`
	CreatedBy   int64     `json:"created_by"` // user id; 0: the platform itself
}

// Group is a named set of permissions users can be members of.
type Group struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedDate time.Time `json:"created_date"`
	CreatedBy   int64     `json:"created_by"`
}

// Permission is an access rule: requests whose path and method match the
// regular expressions (anchored at the start) get Permission (Permit or
// Deny).
type Permission struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Path        string    `json:"path"`
	Method      string    `json:"method"`
	Permission  string    `json:"permission"`
	Type        string    `json:"type"`
	CreatedDate time.Time `json:"created_date"`
	CreatedBy   int64     `json:"created_by"`
}

// AllPermissions is dojot's allpermissions report of a user: its direct
// permissions, then each group's in order, every permission once (the
// first time it appears).
func AllPermissions(direct []Permission, groups [][]Permission) []Permission {
	seen := map[int64]bool{}
	var out []Permission
	for _, ps := range append([][]Permission{direct}, groups...) {
		for _, p := range ps {
			if !seen[p.ID] {
				seen[p.ID] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// Principal is who a login token is issued to.
type Principal struct {
	User   User
	Groups []int64 // ids of the groups the user is a member of
	Issuer string  // the user's key: the JWT "iss" (dojot: the Kong consumer key)
}

// TenantCreated: the first user of a service was created (dojot's tenancy
// message {"type":"CREATE","tenant":..}).
type TenantCreated struct {
	Tenant string `json:"tenant"`
}

// TenantDeleted: the last user of a service was removed or moved away.
type TenantDeleted struct {
	Tenant string `json:"tenant"`
}

// UserCreated carries everything a view shows about a new user, including
// its initial password hash (bcrypt) and the groups it joined through its
// profile.
type UserCreated struct {
	User
	Hash   string  `json:"hash"`
	Key    string  `json:"key"`
	Groups []int64 `json:"groups,omitempty"`
}

// UserUpdated carries the user's new name, service and email.
type UserUpdated struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
	Service  string `json:"service"`
	Email    string `json:"email"`
}

// UserDeleted removes a user and its relations.
type UserDeleted struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Service  string `json:"service"`
}

// UserPasswordChanged replaces the user's password hash.
type UserPasswordChanged struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Hash     string `json:"hash"`
}

// UserGroup relates a user and a group (user.group_added/removed, stored on
// the user's subject).
type UserGroup struct {
	UserID   int64  `json:"user_id"`
	Username string `json:"username"`
	GroupID  int64  `json:"group_id"`
}

// UserPermission relates a user and a permission
// (user.permission_added/removed, stored on the user's subject).
type UserPermission struct {
	UserID       int64  `json:"user_id"`
	Username     string `json:"username"`
	PermissionID int64  `json:"permission_id"`
}

// GroupCreated carries the new group.
type GroupCreated struct {
	Group
}

// GroupUpdated carries the group's new name and description.
type GroupUpdated struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// GroupDeleted removes a group and its relations.
type GroupDeleted struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// GroupPermission relates a group and a permission
// (group.permission_added/removed, stored on the group's subject).
type GroupPermission struct {
	GroupID      int64 `json:"group_id"`
	PermissionID int64 `json:"permission_id"`
}

// PermissionCreated carries the new permission.
type PermissionCreated struct {
	Permission
}

// PermissionUpdated carries the permission's new rule.
type PermissionUpdated struct {
	ID         int64  `json:"id"`
	Path       string `json:"path"`
	Method     string `json:"method"`
	Permission string `json:"permission"`
	Type       string `json:"type"`
}

// PermissionDeleted removes a permission and its relations.
type PermissionDeleted struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// AggregateID is the subject token of a numeric aggregate id (groups,
// permissions).
func AggregateID(id int64) string { return fmt.Sprint(id) }
