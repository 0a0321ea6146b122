package postgres

import (
	"github.com/dojot-es/dojot"
)

// auth applies the tenants, users, groups and permissions events as the
// memory view does (projections/memory/auth.go): relations to a user,
// group or permission that is gone are not made, and deleting one takes
// its relations with it. Password hashes and keys are not kept.
func (a *applier) auth(ev dojot.Event) (refused, err error) {
	q := a.s.q
	switch ev.Type {
	case dojot.EventTenantCreated, dojot.EventTenantDeleted:
		var p dojot.TenantCreated
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		if hasNUL(p.Tenant) {
			return errNUL, nil
		}
		return nil, a.stmt(q(`INSERT INTO {s}.tenants (name, active) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET active = excluded.active`), p.Tenant, ev.Type == dojot.EventTenantCreated)
	case dojot.EventUserCreated:
		var p dojot.UserCreated
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		u := p.User
		if hasNUL(u.Name, u.Username, u.Service, u.Email, u.Profile) {
			return errNUL, nil
		}
		// A user of the same name (never expected: usernames are claimed
		// in the stream) or id is replaced, relations and all.
		if err := a.stmt(q(`WITH old AS (DELETE FROM {s}.users WHERE username = $1 OR id = $2 RETURNING id),
				g AS (DELETE FROM {s}.user_group WHERE user_id IN (SELECT id FROM old) OR user_id = $2)
			DELETE FROM {s}.user_perm WHERE user_id IN (SELECT id FROM old) OR user_id = $2`), u.Username, u.ID); err != nil {
			return nil, err
		}
		return nil, a.stmt(q(`WITH u AS (
				INSERT INTO {s}.users (id, name, username, service, email, profile, created_date, created_by)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8))
			INSERT INTO {s}.user_group (user_id, group_id)
			SELECT DISTINCT $1::bigint, g.id FROM {s}.groups g WHERE g.id = ANY($9::bigint[])`),
			u.ID, u.Name, u.Username, u.Service, u.Email, u.Profile, u.CreatedDate, u.CreatedBy, p.Groups)
	case dojot.EventUserUpdated:
		var p dojot.UserUpdated
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		if hasNUL(p.Name, p.Service, p.Email) {
			return errNUL, nil
		}
		return nil, a.stmt(q(`UPDATE {s}.users SET name = $2, service = $3, email = $4 WHERE id = $1`), p.ID, p.Name, p.Service, p.Email)
	case dojot.EventUserDeleted:
		var p dojot.UserDeleted
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		return nil, a.stmt(q(`WITH g AS (DELETE FROM {s}.user_group WHERE user_id = $1),
				p AS (DELETE FROM {s}.user_perm WHERE user_id = $1)
			DELETE FROM {s}.users WHERE id = $1`), p.ID)
	case dojot.EventUserPasswordChanged:
		var p dojot.UserPasswordChanged
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		return nil, nil // hashes are not kept here
	case dojot.EventUserGroupAdded, dojot.EventUserGroupRemoved:
		var p dojot.UserGroup
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		if ev.Type == dojot.EventUserGroupRemoved {
			return nil, a.stmt(q(`DELETE FROM {s}.user_group WHERE user_id = $1 AND group_id = $2`), p.UserID, p.GroupID)
		}
		return nil, a.stmt(q(`INSERT INTO {s}.user_group (user_id, group_id)
			SELECT $1, $2 WHERE EXISTS (SELECT FROM {s}.users WHERE id = $1) AND EXISTS (SELECT FROM {s}.groups WHERE id = $2)
			ON CONFLICT DO NOTHING`), p.UserID, p.GroupID)
	case dojot.EventUserPermissionAdded, dojot.EventUserPermissionRemoved:
		var p dojot.UserPermission
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		if ev.Type == dojot.EventUserPermissionRemoved {
			return nil, a.stmt(q(`DELETE FROM {s}.user_perm WHERE user_id = $1 AND permission_id = $2`), p.UserID, p.PermissionID)
		}
		return nil, a.stmt(q(`INSERT INTO {s}.user_perm (user_id, permission_id)
			SELECT $1, $2 WHERE EXISTS (SELECT FROM {s}.users WHERE id = $1) AND EXISTS (SELECT FROM {s}.permissions WHERE id = $2)
			ON CONFLICT DO NOTHING`), p.UserID, p.PermissionID)
	case dojot.EventGroupCreated:
		var p dojot.GroupCreated
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		g := p.Group
		if hasNUL(g.Name, g.Description) {
			return errNUL, nil
		}
		// A group created again starts without permissions (its members
		// stay), as in the memory view.
		return nil, a.stmt(q(`WITH p AS (DELETE FROM {s}.group_perm WHERE group_id = $1)
			INSERT INTO {s}.groups (id, name, description, created_date, created_by) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description,
				created_date = excluded.created_date, created_by = excluded.created_by`),
			g.ID, g.Name, g.Description, g.CreatedDate, g.CreatedBy)
	case dojot.EventGroupUpdated:
		var p dojot.GroupUpdated
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		if hasNUL(p.Name, p.Description) {
			return errNUL, nil
		}
		return nil, a.stmt(q(`UPDATE {s}.groups SET name = $2, description = $3 WHERE id = $1`), p.ID, p.Name, p.Description)
	case dojot.EventGroupDeleted:
		var p dojot.GroupDeleted
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		return nil, a.stmt(q(`WITH p AS (DELETE FROM {s}.group_perm WHERE group_id = $1),
				u AS (DELETE FROM {s}.user_group WHERE group_id = $1)
			DELETE FROM {s}.groups WHERE id = $1`), p.ID)
	case dojot.EventGroupPermissionAdded, dojot.EventGroupPermissionRemoved:
		var p dojot.GroupPermission
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		if ev.Type == dojot.EventGroupPermissionRemoved {
			return nil, a.stmt(q(`DELETE FROM {s}.group_perm WHERE group_id = $1 AND permission_id = $2`), p.GroupID, p.PermissionID)
		}
		return nil, a.stmt(q(`INSERT INTO {s}.group_perm (group_id, permission_id)
			SELECT $1, $2 WHERE EXISTS (SELECT FROM {s}.groups WHERE id = $1) AND EXISTS (SELECT FROM {s}.permissions WHERE id = $2)
			ON CONFLICT DO NOTHING`), p.GroupID, p.PermissionID)
	case dojot.EventPermissionCreated:
		var p dojot.PermissionCreated
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		pm := p.Permission
		if hasNUL(pm.Name, pm.Path, pm.Method, pm.Permission, pm.Type) {
			return errNUL, nil
		}
		return nil, a.stmt(q(`INSERT INTO {s}.permissions (id, name, path, method, permission, type, created_date, created_by)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, path = excluded.path, method = excluded.method,
				permission = excluded.permission, type = excluded.type, created_date = excluded.created_date, created_by = excluded.created_by`),
			pm.ID, pm.Name, pm.Path, pm.Method, pm.Permission, pm.Type, pm.CreatedDate, pm.CreatedBy)
	case dojot.EventPermissionUpdated:
		var p dojot.PermissionUpdated
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		if hasNUL(p.Path, p.Method, p.Permission, p.Type) {
			return errNUL, nil
		}
		return nil, a.stmt(q(`UPDATE {s}.permissions SET path = $2, method = $3, permission = $4, type = $5 WHERE id = $1`),
			p.ID, p.Path, p.Method, p.Permission, p.Type)
	case dojot.EventPermissionDeleted:
		var p dojot.PermissionDeleted
		if err := ev.Decode(&p); err != nil {
			return err, nil
		}
		return nil, a.stmt(q(`WITH g AS (DELETE FROM {s}.group_perm WHERE permission_id = $1),
				u AS (DELETE FROM {s}.user_perm WHERE permission_id = $1)
			DELETE FROM {s}.permissions WHERE id = $1`), p.ID)
	}
	return nil, nil // newer event types this version does not know
}
