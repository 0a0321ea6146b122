package memory

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/dojot-es/dojot"
)

// passwdHistoryLen is how many former password hashes are kept per user, as
// dojot's AUTH_PASSWD_HISTORY_LEN default.
const passwdHistoryLen = 4

// authState is the tenants/users/groups/permissions part of the view.
type authState struct {
	users       map[int64]*userRec
	userByName  map[string]int64
	groups      map[int64]*dojot.Group
	groupByName map[string]int64
	perms       map[int64]*dojot.Permission
	permByName  map[string]int64

	groupPerms map[int64]map[int64]bool // group id -> permission ids

	tenants map[string]bool // active per the tenant events

	subjects map[string]subjectPos // per subject, for optimistic concurrency
	kinds    map[string]uint64     // last seq per management kind
	maxID    map[string]int64      // highest id ever used per kind
}

type userRec struct {
	dojot.User
	hash    string
	history []string // former hashes, newest first
	key     string
	groups  map[int64]bool
	perms   map[int64]bool
}

type subjectPos struct{ seq, version uint64 }

func (a *authState) init() {
	a.users = map[int64]*userRec{}
	a.userByName = map[string]int64{}
	a.groups = map[int64]*dojot.Group{}
	a.groupByName = map[string]int64{}
	a.perms = map[int64]*dojot.Permission{}
	a.permByName = map[string]int64{}
	a.groupPerms = map[int64]map[int64]bool{}
	a.tenants = map[string]bool{}
	a.subjects = map[string]subjectPos{}
	a.kinds = map[string]uint64{}
	a.maxID = map[string]int64{}
}

func (a *authState) apply(ev dojot.Event) error {
	subj := ev.Subject()
	pos := a.subjects[subj]
	pos.version++
	if ev.Seq > pos.seq {
		pos.seq = ev.Seq
	}
	a.subjects[subj] = pos
	if ev.Tenant == dojot.ManagementTenant && ev.Seq > a.kinds[ev.Kind] {
		a.kinds[ev.Kind] = ev.Seq
	}
	switch ev.Type {
	case dojot.EventTenantCreated, dojot.EventTenantDeleted:
		var p dojot.TenantCreated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		a.tenants[p.Tenant] = ev.Type == dojot.EventTenantCreated
	case dojot.EventUserCreated:
		var p dojot.UserCreated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		a.seeID(dojot.KindUser, p.ID)
		if old, ok := a.userByName[p.Username]; ok { // never expected: usernames are claimed in the stream
			a.dropUser(old)
		}
		u := &userRec{User: p.User, hash: p.Hash, key: p.Key, groups: map[int64]bool{}, perms: map[int64]bool{}}
		for _, g := range p.Groups {
			if a.groups[g] != nil {
				u.groups[g] = true
			}
		}
		a.users[p.ID] = u
		a.userByName[p.Username] = p.ID
	case dojot.EventUserUpdated:
		var p dojot.UserUpdated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		if u := a.users[p.ID]; u != nil {
			u.Name, u.Service, u.Email = p.Name, p.Service, p.Email
		}
	case dojot.EventUserDeleted:
		var p dojot.UserDeleted
		if err := ev.Decode(&p); err != nil {
			return err
		}
		a.dropUser(p.ID)
	case dojot.EventUserPasswordChanged:
		var p dojot.UserPasswordChanged
		if err := ev.Decode(&p); err != nil {
			return err
		}
		if u := a.users[p.ID]; u != nil {
			if u.hash != "" {
				u.history = append([]string{u.hash}, u.history...)
				if len(u.history) > passwdHistoryLen {
					u.history = u.history[:passwdHistoryLen]
				}
			}
			u.hash = p.Hash
		}
	case dojot.EventUserGroupAdded, dojot.EventUserGroupRemoved:
		var p dojot.UserGroup
		if err := ev.Decode(&p); err != nil {
			return err
		}
		u := a.users[p.UserID]
		if u == nil {
			return nil
		}
		if ev.Type == dojot.EventUserGroupRemoved {
			delete(u.groups, p.GroupID)
		} else if a.groups[p.GroupID] != nil { // a group deleted meanwhile stays deleted
			u.groups[p.GroupID] = true
		}
	case dojot.EventUserPermissionAdded, dojot.EventUserPermissionRemoved:
		var p dojot.UserPermission
		if err := ev.Decode(&p); err != nil {
			return err
		}
		u := a.users[p.UserID]
		if u == nil {
			return nil
		}
		if ev.Type == dojot.EventUserPermissionRemoved {
			delete(u.perms, p.PermissionID)
		} else if a.perms[p.PermissionID] != nil {
			u.perms[p.PermissionID] = true
		}
	case dojot.EventGroupCreated:
		var p dojot.GroupCreated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		a.seeID(dojot.KindGroup, p.ID)
		g := p.Group
		a.groups[g.ID] = &g
		a.groupByName[g.Name] = g.ID
		a.groupPerms[g.ID] = map[int64]bool{}
	case dojot.EventGroupUpdated:
		var p dojot.GroupUpdated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		if g := a.groups[p.ID]; g != nil {
			delete(a.groupByName, g.Name)
			g.Name, g.Description = p.Name, p.Description
			a.groupByName[g.Name] = g.ID
		}
	case dojot.EventGroupDeleted:
		var p dojot.GroupDeleted
		if err := ev.Decode(&p); err != nil {
			return err
		}
		if g := a.groups[p.ID]; g != nil {
			delete(a.groupByName, g.Name)
			delete(a.groups, p.ID)
			delete(a.groupPerms, p.ID)
			for _, u := range a.users {
				delete(u.groups, p.ID)
			}
		}
	case dojot.EventGroupPermissionAdded, dojot.EventGroupPermissionRemoved:
		var p dojot.GroupPermission
		if err := ev.Decode(&p); err != nil {
			return err
		}
		gp := a.groupPerms[p.GroupID]
		if gp == nil {
			return nil
		}
		if ev.Type == dojot.EventGroupPermissionRemoved {
			delete(gp, p.PermissionID)
		} else if a.perms[p.PermissionID] != nil {
			gp[p.PermissionID] = true
		}
	case dojot.EventPermissionCreated:
		var p dojot.PermissionCreated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		a.seeID(dojot.KindPermission, p.ID)
		perm := p.Permission
		a.perms[perm.ID] = &perm
		a.permByName[perm.Name] = perm.ID
	case dojot.EventPermissionUpdated:
		var p dojot.PermissionUpdated
		if err := ev.Decode(&p); err != nil {
			return err
		}
		if perm := a.perms[p.ID]; perm != nil {
			perm.Path, perm.Method, perm.Permission, perm.Type = p.Path, p.Method, p.Permission, p.Type
		}
	case dojot.EventPermissionDeleted:
		var p dojot.PermissionDeleted
		if err := ev.Decode(&p); err != nil {
			return err
		}
		if perm := a.perms[p.ID]; perm != nil {
			delete(a.permByName, perm.Name)
			delete(a.perms, p.ID)
			for _, gp := range a.groupPerms {
				delete(gp, p.ID)
			}
			for _, u := range a.users {
				delete(u.perms, p.ID)
			}
		}
	} // unknown types are newer events this version ignores
	return nil
}

func (a *authState) seeID(kind string, id int64) {
	if id > a.maxID[kind] {
		a.maxID[kind] = id
	}
}

func (a *authState) dropUser(id int64) {
	if u := a.users[id]; u != nil {
		delete(a.userByName, u.Username)
		delete(a.users, id)
	}
}

// user finds a user by id (a decimal ref) or username, as dojot's
// get_by_name_or_id.
func (a *authState) user(ref string) *userRec {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return a.users[id]
	}
	if id, ok := a.userByName[ref]; ok {
		return a.users[id]
	}
	return nil
}

func (a *authState) group(ref string) *dojot.Group {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return a.groups[id]
	}
	if id, ok := a.groupByName[ref]; ok {
		return a.groups[id]
	}
	return nil
}

func (a *authState) perm(ref string) *dojot.Permission {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return a.perms[id]
	}
	if id, ok := a.permByName[ref]; ok {
		return a.perms[id]
	}
	return nil
}

func sortedIDs(set map[int64]bool) []int64 {
	ids := make([]int64, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (a *authState) permsOf(set map[int64]bool) []dojot.Permission {
	out := make([]dojot.Permission, 0, len(set))
	for _, id := range sortedIDs(set) {
		if p := a.perms[id]; p != nil {
			out = append(out, *p)
		}
	}
	return out
}

// --- reads ---

// User returns the user with the given id or username.
func (v *View) User(ref string) (dojot.User, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if u := v.auth.user(ref); u != nil {
		return u.User, true
	}
	return dojot.User{}, false
}

// UserByEmail returns the user with the given email.
func (v *View) UserByEmail(email string) (dojot.User, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	for _, u := range v.auth.users {
		if u.Email == email {
			return u.User, true
		}
	}
	return dojot.User{}, false
}

// Users lists the users whose username contains substr, ordered by name (as
// dojot's search_user).
func (v *View) Users(substr string) []dojot.User {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []dojot.User
	for _, u := range v.auth.users {
		if strings.Contains(u.Username, substr) {
			out = append(out, u.User)
		}
	}
	slices.SortFunc(out, func(x, y dojot.User) int {
		return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.ID, y.ID))
	})
	return out
}

// PasswordHashes returns the user's current password hash ("" when it has
// none) and its former hashes, newest first.
func (v *View) PasswordHashes(userID int64) (current string, former []string) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	u := v.auth.users[userID]
	if u == nil {
		return "", nil
	}
	return u.hash, slices.Clone(u.history)
}

// Principal returns who a token for username would be issued to.
func (v *View) Principal(username string) (dojot.Principal, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	id, ok := v.auth.userByName[username]
	if !ok {
		return dojot.Principal{}, false
	}
	u := v.auth.users[id]
	return dojot.Principal{User: u.User, Groups: sortedIDs(u.groups), Issuer: u.key}, true
}

// UserGroups lists the groups the user is a member of, by id.
func (v *View) UserGroups(userID int64) []dojot.Group {
	v.mu.RLock()
	defer v.mu.RUnlock()
	u := v.auth.users[userID]
	if u == nil {
		return nil
	}
	out := make([]dojot.Group, 0, len(u.groups))
	for _, id := range sortedIDs(u.groups) {
		out = append(out, *v.auth.groups[id])
	}
	return out
}

// UserPermissions lists the permissions given to the user directly.
func (v *View) UserPermissions(userID int64) []dojot.Permission {
	v.mu.RLock()
	defer v.mu.RUnlock()
	u := v.auth.users[userID]
	if u == nil {
		return nil
	}
	return v.auth.permsOf(u.perms)
}

// UserAllPermissions lists the user's direct permissions followed by its
// groups' ones, without duplicates (dojot's allpermissions report).
func (v *View) UserAllPermissions(userID int64) []dojot.Permission {
	v.mu.RLock()
	defer v.mu.RUnlock()
	u := v.auth.users[userID]
	if u == nil {
		return nil
	}
	var groups [][]dojot.Permission
	for _, g := range sortedIDs(u.groups) {
		groups = append(groups, v.auth.permsOf(v.auth.groupPerms[g]))
	}
	return dojot.AllPermissions(v.auth.permsOf(u.perms), groups)
}

// ServiceUsers counts the users of a service.
func (v *View) ServiceUsers(service string) int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	n := 0
	for _, u := range v.auth.users {
		if u.Service == service {
			n++
		}
	}
	return n
}

// TenantActive reports whether the last tenant event of t created it.
func (v *View) TenantActive(t string) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.auth.tenants[t]
}

// Tenants lists the distinct services of all users, sorted (dojot's
// GET /admin/tenants).
func (v *View) Tenants() []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	set := map[string]bool{}
	for _, u := range v.auth.users {
		set[u.Service] = true
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Group returns the group with the given id or name.
func (v *View) Group(ref string) (dojot.Group, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if g := v.auth.group(ref); g != nil {
		return *g, true
	}
	return dojot.Group{}, false
}

// Groups lists the groups whose name contains substr, ordered by name.
func (v *View) Groups(substr string) []dojot.Group {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []dojot.Group
	for _, g := range v.auth.groups {
		if strings.Contains(g.Name, substr) {
			out = append(out, *g)
		}
	}
	slices.SortFunc(out, func(x, y dojot.Group) int { return cmp.Compare(x.Name, y.Name) })
	return out
}

// GroupPermissions lists the permissions of a group.
func (v *View) GroupPermissions(groupID int64) []dojot.Permission {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.auth.permsOf(v.auth.groupPerms[groupID])
}

// GroupUsers lists the members of a group, by id.
func (v *View) GroupUsers(groupID int64) []dojot.User {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []dojot.User
	for _, u := range v.auth.users {
		if u.groups[groupID] {
			out = append(out, u.User)
		}
	}
	slices.SortFunc(out, func(x, y dojot.User) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

// Permission returns the permission with the given id or name.
func (v *View) Permission(ref string) (dojot.Permission, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if p := v.auth.perm(ref); p != nil {
		return *p, true
	}
	return dojot.Permission{}, false
}

// Permissions lists the permissions matching the filter, by id: path and
// method are substrings, permission and type exact values; "" matches all.
func (v *View) Permissions(path, method, permission, typ string) []dojot.Permission {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []dojot.Permission
	for _, p := range v.auth.perms {
		if strings.Contains(p.Path, path) && strings.Contains(p.Method, method) &&
			(permission == "" || p.Permission == permission) && (typ == "" || p.Type == typ) {
			out = append(out, *p)
		}
	}
	slices.SortFunc(out, func(x, y dojot.Permission) int { return cmp.Compare(x.ID, y.ID) })
	return out
}

// HasUserGroup, HasUserPermission and HasGroupPermission report a relation.
func (v *View) HasUserGroup(userID, groupID int64) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	u := v.auth.users[userID]
	return u != nil && u.groups[groupID]
}

// HasUserPermission reports whether the permission is given to the user
// directly.
func (v *View) HasUserPermission(userID, permID int64) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	u := v.auth.users[userID]
	return u != nil && u.perms[permID]
}

// HasGroupPermission reports whether the group has the permission.
func (v *View) HasGroupPermission(groupID, permID int64) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.auth.groupPerms[groupID][permID]
}

// PDPInputs returns what the policy decision point weighs for a user: its
// direct permissions and, per group it is a member of (by id), the group's
// permissions. ok is false when the user no longer exists.
func (v *View) PDPInputs(userID int64) (direct []dojot.Permission, groups [][]dojot.Permission, ok bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	u := v.auth.users[userID]
	if u == nil {
		return nil, nil, false
	}
	direct = v.auth.permsOf(u.perms)
	for _, g := range sortedIDs(u.groups) {
		groups = append(groups, v.auth.permsOf(v.auth.groupPerms[g]))
	}
	return direct, groups, true
}

// SubjectPos returns the last stream sequence and the version (number of
// events) known for a subject: the expectation of the next append on it.
func (v *View) SubjectPos(subject string) (seq, version uint64) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	p := v.auth.subjects[subject]
	return p.seq, p.version
}

// KindSeq returns the last sequence of any event of a management kind
// (user, group, permission): the expectation on evt.dojot-management.<kind>.*
// that allocates ids and claims names.
func (v *View) KindSeq(kind string) uint64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.auth.kinds[kind]
}

// MaxID returns the highest id ever used for a kind (0: none); ids are not
// reused after a delete, as a Postgres serial.
func (v *View) MaxID(kind string) int64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.auth.maxID[kind]
}

// ActiveTenants lists the tenants whose last tenant event created them,
// sorted.
func (v *View) ActiveTenants() []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]string, 0, len(v.auth.tenants))
	for t, ok := range v.auth.tenants {
		if ok {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}
