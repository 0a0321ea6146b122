package mongo

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/dojot-es/dojot"
)

// Reads of users, groups and permissions. They are few (a platform's
// staff, not its devices), so lists are read whole and filtered and sorted
// here, with the memory view's exact semantics (substring matches, byte
// order, nil for an empty list where it returns nil).

func findAll[T any](ctx context.Context, db *mongo.Database, coll string, filter bson.D) ([]T, error) {
	cur, err := db.Collection(coll).Find(ctx, filter)
	if err != nil {
		return nil, wrap("find "+coll, err)
	}
	var docs []T
	if err := cur.All(ctx, &docs); err != nil {
		return nil, wrap("read "+coll, err)
	}
	return docs, nil
}

func findOne[T any](ctx context.Context, db *mongo.Database, coll string, filter bson.D) (*T, error) {
	var d T
	err := db.Collection(coll).FindOne(ctx, filter).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("find "+coll, err)
	}
	return &d, nil
}

// byRef finds by id (a decimal ref) or else by name, as dojot's
// get_by_name_or_id.
func byRef(ref, nameField string) bson.D {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return byID(id)
	}
	return bson.D{{Key: nameField, Value: ref}}
}

func (v *View) userDoc(ctx context.Context, id int64) (*mongo.Database, *userDoc, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return nil, nil, err
	}
	u, err := findOne[userDoc](ctx, db, collUsers, byID(id))
	return db, u, err
}

// User returns the user with the given id or username.
func (v *View) User(ctx context.Context, ref string) (dojot.User, bool, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return dojot.User{}, false, err
	}
	u, err := findOne[userDoc](ctx, db, collUsers, byRef(ref, "username"))
	if err != nil || u == nil {
		return dojot.User{}, false, err
	}
	return u.user(), true, nil
}

// Users lists the users whose username contains substr, by name then id.
func (v *View) Users(ctx context.Context, substr string) ([]dojot.User, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return nil, err
	}
	docs, err := findAll[userDoc](ctx, db, collUsers, bson.D{})
	if err != nil {
		return nil, err
	}
	var out []dojot.User
	for i := range docs {
		if strings.Contains(docs[i].Username, substr) {
			out = append(out, docs[i].user())
		}
	}
	slices.SortFunc(out, func(x, y dojot.User) int { return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.ID, y.ID)) })
	return out, nil
}

// groupsByID returns the groups with the given ids, by id.
func groupsByID(ctx context.Context, db *mongo.Database, ids []int64) ([]dojot.Group, error) {
	docs, err := findAll[groupDoc](ctx, db, collGroups, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return nil, err
	}
	out := make([]dojot.Group, len(docs))
	for i := range docs {
		out[i] = docs[i].group()
	}
	slices.SortFunc(out, func(x, y dojot.Group) int { return cmp.Compare(x.ID, y.ID) })
	return out, nil
}

// permsByID returns the permissions with the given ids, by id, never nil.
func permsByID(ctx context.Context, db *mongo.Database, ids []int64) ([]dojot.Permission, error) {
	if len(ids) == 0 {
		return []dojot.Permission{}, nil
	}
	docs, err := findAll[permDoc](ctx, db, collPermissions, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return nil, err
	}
	out := make([]dojot.Permission, len(docs))
	for i := range docs {
		out[i] = docs[i].permission()
	}
	slices.SortFunc(out, func(x, y dojot.Permission) int { return cmp.Compare(x.ID, y.ID) })
	return out, nil
}

// UserGroups lists the groups the user is a member of, by id (nil: no
// such user).
func (v *View) UserGroups(ctx context.Context, userID int64) ([]dojot.Group, error) {
	db, u, err := v.userDoc(ctx, userID)
	if err != nil || u == nil {
		return nil, err
	}
	if len(u.Groups) == 0 {
		return []dojot.Group{}, nil
	}
	return groupsByID(ctx, db, u.Groups)
}

// UserPermissions lists the permissions given to the user directly.
func (v *View) UserPermissions(ctx context.Context, userID int64) ([]dojot.Permission, error) {
	db, u, err := v.userDoc(ctx, userID)
	if err != nil || u == nil {
		return nil, err
	}
	return permsByID(ctx, db, u.Perms)
}

// groupPerms returns the permissions of each group, in the order given.
func groupPerms(ctx context.Context, db *mongo.Database, groupIDs []int64) ([][]dojot.Permission, error) {
	if len(groupIDs) == 0 {
		return nil, nil
	}
	docs, err := findAll[groupDoc](ctx, db, collGroups, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: groupIDs}}}})
	if err != nil {
		return nil, err
	}
	var all []int64
	for _, d := range docs {
		all = append(all, d.Perms...)
	}
	perms, err := permsByID(ctx, db, all)
	if err != nil {
		return nil, err
	}
	byID := map[int64]dojot.Permission{}
	for _, p := range perms {
		byID[p.ID] = p
	}
	out := make([][]dojot.Permission, len(groupIDs))
	for i, gid := range groupIDs {
		out[i] = []dojot.Permission{}
		j := slices.IndexFunc(docs, func(d groupDoc) bool { return d.ID == gid })
		if j < 0 {
			continue
		}
		ids := slices.Clone(docs[j].Perms)
		slices.Sort(ids)
		for _, id := range ids {
			if p, ok := byID[id]; ok {
				out[i] = append(out[i], p)
			}
		}
	}
	return out, nil
}

// UserAllPermissions lists the user's direct permissions followed by its
// groups' ones, without repeats.
func (v *View) UserAllPermissions(ctx context.Context, userID int64) ([]dojot.Permission, error) {
	direct, groups, ok, err := v.PDPInputs(ctx, userID)
	if err != nil || !ok {
		return nil, err
	}
	return dojot.AllPermissions(direct, groups), nil
}

// PDPInputs returns a user's direct permissions and, per group it is a
// member of (by id), the group's permissions; ok is false when the user
// does not exist.
func (v *View) PDPInputs(ctx context.Context, userID int64) ([]dojot.Permission, [][]dojot.Permission, bool, error) {
	db, u, err := v.userDoc(ctx, userID)
	if err != nil || u == nil {
		return nil, nil, false, err
	}
	direct, err := permsByID(ctx, db, u.Perms)
	if err != nil {
		return nil, nil, false, err
	}
	gids := slices.Clone(u.Groups)
	slices.Sort(gids)
	groups, err := groupPerms(ctx, db, gids)
	if err != nil {
		return nil, nil, false, err
	}
	return direct, groups, true, nil
}

// Group returns the group with the given id or name.
func (v *View) Group(ctx context.Context, ref string) (dojot.Group, bool, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return dojot.Group{}, false, err
	}
	g, err := findOne[groupDoc](ctx, db, collGroups, byRef(ref, "name"))
	if err != nil || g == nil {
		return dojot.Group{}, false, err
	}
	return g.group(), true, nil
}

// Groups lists the groups whose name contains substr, by name.
func (v *View) Groups(ctx context.Context, substr string) ([]dojot.Group, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return nil, err
	}
	docs, err := findAll[groupDoc](ctx, db, collGroups, bson.D{})
	if err != nil {
		return nil, err
	}
	var out []dojot.Group
	for i := range docs {
		if strings.Contains(docs[i].Name, substr) {
			out = append(out, docs[i].group())
		}
	}
	slices.SortFunc(out, func(x, y dojot.Group) int { return cmp.Compare(x.Name, y.Name) })
	return out, nil
}

// GroupPermissions lists the permissions of a group (empty, not nil, for
// no such group, as the memory view answers).
func (v *View) GroupPermissions(ctx context.Context, groupID int64) ([]dojot.Permission, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return nil, err
	}
	ps, err := groupPerms(ctx, db, []int64{groupID})
	if err != nil {
		return nil, err
	}
	return ps[0], nil
}

// GroupUsers lists the members of a group, by id.
func (v *View) GroupUsers(ctx context.Context, groupID int64) ([]dojot.User, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return nil, err
	}
	docs, err := findAll[userDoc](ctx, db, collUsers, bson.D{{Key: "groups", Value: groupID}})
	if err != nil {
		return nil, err
	}
	var out []dojot.User
	for i := range docs {
		out = append(out, docs[i].user())
	}
	slices.SortFunc(out, func(x, y dojot.User) int { return cmp.Compare(x.ID, y.ID) })
	return out, nil
}

// Permission returns the permission with the given id or name.
func (v *View) Permission(ctx context.Context, ref string) (dojot.Permission, bool, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return dojot.Permission{}, false, err
	}
	p, err := findOne[permDoc](ctx, db, collPermissions, byRef(ref, "name"))
	if err != nil || p == nil {
		return dojot.Permission{}, false, err
	}
	return p.permission(), true, nil
}

// Permissions lists the permissions matching the filter, by id: path and
// method are substrings, permission and type exact values; "" matches all.
func (v *View) Permissions(ctx context.Context, path, method, permission, typ string) ([]dojot.Permission, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return nil, err
	}
	docs, err := findAll[permDoc](ctx, db, collPermissions, bson.D{})
	if err != nil {
		return nil, err
	}
	var out []dojot.Permission
	for i := range docs {
		p := docs[i].permission()
		if strings.Contains(p.Path, path) && strings.Contains(p.Method, method) &&
			(permission == "" || p.Permission == permission) && (typ == "" || p.Type == typ) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(x, y dojot.Permission) int { return cmp.Compare(x.ID, y.ID) })
	return out, nil
}

// Tenants lists the distinct services of all users, sorted.
func (v *View) Tenants(ctx context.Context) ([]string, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return nil, err
	}
	docs, err := findAll[userDoc](ctx, db, collUsers, bson.D{})
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, d := range docs {
		if !slices.Contains(out, d.Service) {
			out = append(out, d.Service)
		}
	}
	slices.Sort(out)
	return out, nil
}
