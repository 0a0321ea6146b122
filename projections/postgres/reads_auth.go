package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dojot-es/dojot"
)

// Reads of users, groups and permissions. Each answers as the memory
// view's method of the same name, nil and empty slices included (they
// differ in JSON): a missing user is nil, an existing one without groups
// an empty list.

const (
	userCols  = "u.id, u.name, u.username, u.service, u.email, u.profile, u.created_date, u.created_by"
	groupCols = "g.id, g.name, g.description, g.created_date, g.created_by"
	permCols  = "p.id, p.name, p.path, p.method, p.permission, p.type, p.created_date, p.created_by"
)

func scanUser(row pgx.CollectableRow) (dojot.User, error) {
	var u dojot.User
	err := row.Scan(&u.ID, &u.Name, &u.Username, &u.Service, &u.Email, &u.Profile, &u.CreatedDate, &u.CreatedBy)
	u.CreatedDate = u.CreatedDate.UTC()
	return u, err
}

func scanGroup(row pgx.CollectableRow) (dojot.Group, error) {
	var g dojot.Group
	err := row.Scan(&g.ID, &g.Name, &g.Description, &g.CreatedDate, &g.CreatedBy)
	g.CreatedDate = g.CreatedDate.UTC()
	return g, err
}

func scanPerm(row pgx.CollectableRow) (dojot.Permission, error) {
	var p dojot.Permission
	err := row.Scan(&p.ID, &p.Name, &p.Path, &p.Method, &p.Permission, &p.Type, &p.CreatedDate, &p.CreatedBy)
	p.CreatedDate = p.CreatedDate.UTC()
	return p, err
}

// collect reads every row, nil when there is none.
func collect[T any](rows pgx.Rows, scan func(pgx.CollectableRow) (T, error)) ([]T, error) {
	var out []T
	defer rows.Close()
	for rows.Next() {
		x, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// byRef is the condition finding a row by id (a decimal ref) or name, as
// dojot's get_by_name_or_id.
func byRef(ref, nameCol string) (string, any) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return "id = $1", id
	}
	return nameCol + " = $1", ref
}

// one reads at most one row.
func one[T any](ctx context.Context, v *View, op, sql string, scan func(pgx.CollectableRow) (T, error), args ...any) (T, bool, error) {
	var x T
	var found bool
	err := v.read(ctx, op, func(s *schema) error {
		rows, _ := v.pool.Query(ctx, s.q(sql), args...)
		xs, err := collect(rows, scan)
		if err != nil || len(xs) == 0 {
			return err
		}
		x, found = xs[0], true
		return nil
	})
	return x, found, err
}

// list reads every row.
func list[T any](ctx context.Context, v *View, op, sql string, scan func(pgx.CollectableRow) (T, error), args ...any) ([]T, error) {
	var xs []T
	err := v.read(ctx, op, func(s *schema) error {
		rows, _ := v.pool.Query(ctx, s.q(sql), args...)
		var err error
		xs, err = collect(rows, scan)
		return err
	})
	return xs, err
}

// User returns the user with the given id or username.
func (v *View) User(ctx context.Context, ref string) (dojot.User, bool, error) {
	cond, arg := byRef(ref, "username")
	return one(ctx, v, "user", "SELECT "+userCols+" FROM {s}.users u WHERE u."+cond+" ORDER BY u.id DESC LIMIT 1", scanUser, arg)
}

// Users lists the users whose username contains substr, by name.
func (v *View) Users(ctx context.Context, substr string) ([]dojot.User, error) {
	return list(ctx, v, "users", "SELECT "+userCols+" FROM {s}.users u WHERE strpos(u.username, $1) > 0 ORDER BY u.name, u.id", scanUser, substr)
}

// userExists runs fn only when the user exists: the memory view answers
// nil for a missing user.
func (v *View) userExists(ctx context.Context, s *schema, userID int64) (bool, error) {
	var ok bool
	err := v.pool.QueryRow(ctx, s.q("SELECT EXISTS (SELECT FROM {s}.users WHERE id = $1)"), userID).Scan(&ok)
	return ok, err
}

// UserGroups lists the groups the user is a member of, by id.
func (v *View) UserGroups(ctx context.Context, userID int64) ([]dojot.Group, error) {
	var out []dojot.Group
	err := v.read(ctx, "user groups", func(s *schema) error {
		ok, err := v.userExists(ctx, s, userID)
		if err != nil || !ok {
			return err
		}
		rows, _ := v.pool.Query(ctx, s.q("SELECT "+groupCols+` FROM {s}.user_group ug JOIN {s}.groups g ON g.id = ug.group_id
			WHERE ug.user_id = $1 ORDER BY g.id`), userID)
		if out, err = collect(rows, scanGroup); err == nil && out == nil {
			out = []dojot.Group{}
		}
		return err
	})
	return out, err
}

// UserPermissions lists the permissions given to the user directly.
func (v *View) UserPermissions(ctx context.Context, userID int64) ([]dojot.Permission, error) {
	var out []dojot.Permission
	err := v.read(ctx, "user permissions", func(s *schema) error {
		ok, err := v.userExists(ctx, s, userID)
		if err != nil || !ok {
			return err
		}
		out, err = v.userPerms(ctx, s, userID)
		return err
	})
	return out, err
}

func (v *View) userPerms(ctx context.Context, s *schema, userID int64) ([]dojot.Permission, error) {
	rows, _ := v.pool.Query(ctx, s.q("SELECT "+permCols+` FROM {s}.user_perm up JOIN {s}.permissions p ON p.id = up.permission_id
		WHERE up.user_id = $1 ORDER BY p.id`), userID)
	out, err := collect(rows, scanPerm)
	if err == nil && out == nil {
		out = []dojot.Permission{}
	}
	return out, err
}

// groupPerms is the permissions of each group the user is a member of,
// by group id (an empty list for a group without any).
func (v *View) groupPerms(ctx context.Context, s *schema, userID int64) ([][]dojot.Permission, error) {
	rows, _ := v.pool.Query(ctx, s.q(`SELECT ug.group_id, `+permCols+` FROM {s}.user_group ug
		LEFT JOIN {s}.group_perm gp ON gp.group_id = ug.group_id
		LEFT JOIN {s}.permissions p ON p.id = gp.permission_id
		WHERE ug.user_id = $1 ORDER BY ug.group_id, p.id`), userID)
	defer rows.Close()
	var out [][]dojot.Permission
	last := int64(-1)
	for rows.Next() {
		var gid int64
		var id, createdBy *int64
		var name, path, method, perm, typ *string
		var created *time.Time
		if err := rows.Scan(&gid, &id, &name, &path, &method, &perm, &typ, &created, &createdBy); err != nil {
			return nil, err
		}
		if len(out) == 0 || gid != last {
			out = append(out, []dojot.Permission{})
			last = gid
		}
		if id != nil {
			out[len(out)-1] = append(out[len(out)-1], dojot.Permission{
				ID: *id, Name: *name, Path: *path, Method: *method, Permission: *perm, Type: *typ,
				CreatedDate: created.UTC(), CreatedBy: *createdBy,
			})
		}
	}
	return out, rows.Err()
}

// UserAllPermissions lists the user's direct permissions followed by its
// groups' ones, without duplicates.
func (v *View) UserAllPermissions(ctx context.Context, userID int64) ([]dojot.Permission, error) {
	direct, groups, ok, err := v.PDPInputs(ctx, userID)
	if err != nil || !ok {
		return nil, err
	}
	return dojot.AllPermissions(direct, groups), nil
}

// PDPInputs returns the user's direct permissions and, per group it is a
// member of (by id), the group's permissions; ok is false when the user
// does not exist.
func (v *View) PDPInputs(ctx context.Context, userID int64) (direct []dojot.Permission, groups [][]dojot.Permission, ok bool, err error) {
	err = v.read(ctx, "pdp inputs", func(s *schema) error {
		direct, groups, ok = nil, nil, false
		exists, err := v.userExists(ctx, s, userID)
		if err != nil || !exists {
			return err
		}
		if direct, err = v.userPerms(ctx, s, userID); err != nil {
			return err
		}
		groups, err = v.groupPerms(ctx, s, userID)
		ok = err == nil
		return err
	})
	return direct, groups, ok, err
}

// Group returns the group with the given id or name.
func (v *View) Group(ctx context.Context, ref string) (dojot.Group, bool, error) {
	cond, arg := byRef(ref, "name")
	return one(ctx, v, "group", "SELECT "+groupCols+" FROM {s}.groups g WHERE g."+cond+" ORDER BY g.id DESC LIMIT 1", scanGroup, arg)
}

// Groups lists the groups whose name contains substr, by name.
func (v *View) Groups(ctx context.Context, substr string) ([]dojot.Group, error) {
	return list(ctx, v, "groups", "SELECT "+groupCols+" FROM {s}.groups g WHERE strpos(g.name, $1) > 0 ORDER BY g.name, g.id", scanGroup, substr)
}

// GroupPermissions lists the permissions of a group (empty, not nil, for
// a group that does not exist, as the memory view answers).
func (v *View) GroupPermissions(ctx context.Context, groupID int64) ([]dojot.Permission, error) {
	out, err := list(ctx, v, "group permissions", "SELECT "+permCols+` FROM {s}.group_perm gp JOIN {s}.permissions p ON p.id = gp.permission_id
		WHERE gp.group_id = $1 ORDER BY p.id`, scanPerm, groupID)
	if err == nil && out == nil {
		out = []dojot.Permission{}
	}
	return out, err
}

// GroupUsers lists the members of a group, by id.
func (v *View) GroupUsers(ctx context.Context, groupID int64) ([]dojot.User, error) {
	return list(ctx, v, "group users", "SELECT "+userCols+` FROM {s}.user_group ug JOIN {s}.users u ON u.id = ug.user_id
		WHERE ug.group_id = $1 ORDER BY u.id`, scanUser, groupID)
}

// Permission returns the permission with the given id or name.
func (v *View) Permission(ctx context.Context, ref string) (dojot.Permission, bool, error) {
	cond, arg := byRef(ref, "name")
	return one(ctx, v, "permission", "SELECT "+permCols+" FROM {s}.permissions p WHERE p."+cond+" ORDER BY p.id DESC LIMIT 1", scanPerm, arg)
}

// Permissions lists the permissions matching the filter, by id: path and
// method are substrings, permission and type exact values; "" matches all.
func (v *View) Permissions(ctx context.Context, path, method, permission, typ string) ([]dojot.Permission, error) {
	return list(ctx, v, "permissions", "SELECT "+permCols+` FROM {s}.permissions p
		WHERE strpos(p.path, $1) > 0 AND strpos(p.method, $2) > 0 AND ($3 = '' OR p.permission = $3) AND ($4 = '' OR p.type = $4)
		ORDER BY p.id`, scanPerm, path, method, permission, typ)
}

// Tenants lists the distinct services of all users, sorted.
func (v *View) Tenants(ctx context.Context) ([]string, error) {
	out := []string{}
	err := v.read(ctx, "tenants", func(s *schema) error {
		rows, _ := v.pool.Query(ctx, s.q("SELECT DISTINCT service FROM {s}.users ORDER BY service"))
		ts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err == nil && ts != nil {
			out = ts
		}
		return err
	})
	return out, err
}
