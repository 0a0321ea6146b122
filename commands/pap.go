package commands

import (
	"regexp"
	"unicode/utf8"

	"github.com/dojot-es/dojot"
)

// Input limits of dojot's auth (database/inputConf.py).
const (
	maxPermPathLen   = 254
	maxPermMethodLen = 30
	maxPermNameLen   = 30
	maxGroupNameLen  = 30
	maxGroupDescLen  = 254
)

var (
	permNameRe  = regexp.MustCompile(`^[a-z]+[a-z0-9_]`)
	groupNameRe = regexp.MustCompile(`^[a-zA-Z0-9]+$`)
)

func notFound(msg string) error { return &dojot.Error{Kind: dojot.ErrNotFound, Message: msg} }

func notAllowed(msg string) error { return &dojot.Error{Kind: dojot.ErrNotAllowed, Message: msg} }

// CompileRule compiles a permission's path or method pattern as dojot's PDP
// applies it: Python's re.match(r'(^' + pattern + ')', s), that is anchored
// at the start (every alternative) and open at the end.
func CompileRule(pattern string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:(` + pattern + `))`)
}

// permRule is what dojot's check_perm validates.
type permRule struct {
	Name, Path, Method, Permission string
}

// check validates the rule and fills in the default verdict (permit).
func (r *permRule) check() error {
	switch {
	case r.Name == "":
		return invalid("Missing permission name")
	case utf8.RuneCountInString(r.Path) > maxPermPathLen:
		return invalid("Path too long")
	case !permNameRe.MatchString(r.Name):
		return invalid("Invalid name. permission names should start with a letter and only lowercase, alhpanumeric and underscores are allowed")
	case utf8.RuneCountInString(r.Name) > maxPermNameLen:
		return invalid("Permission name too long")
	}
	if r.Permission == "" {
		r.Permission = dojot.Permit
	} else if r.Permission != dojot.Permit && r.Permission != dojot.Deny {
		return invalid("An access control rule can not return '" + r.Permission + "'")
	}
	switch {
	case r.Path == "":
		return invalid("Missing permission Path")
	case r.Method == "":
		return invalid("Missing permission method")
	case utf8.RuneCountInString(r.Method) > maxPermMethodLen:
		return invalid("Method too long")
	}
	if _, err := CompileRule(r.Method); err != nil {
		return invalid(r.Method + " is not a valid regular expression.")
	}
	if _, err := CompileRule(r.Path); err != nil {
		return invalid(r.Path + " is not a valid regular expression.")
	}
	return nil
}

func checkPermType(t string) (string, error) {
	switch t {
	case "":
		return dojot.PermissionAPI, nil
	case dojot.PermissionAPI, dojot.PermissionSystem:
		return t, nil
	}
	return "", invalid("Invalid permission type '" + t + "'")
}

// CreatePermission creates a permission (POST /auth/pap/permission).
type CreatePermission struct {
	AuthMeta
	Name, Path, Method, Permission, Type string
}

func (c CreatePermission) decideAuth(s AuthState) ([]dojot.Event, error) {
	r := permRule{Name: c.Name, Path: c.Path, Method: c.Method, Permission: c.Permission}
	if err := r.check(); err != nil {
		return nil, err
	}
	typ, err := checkPermType(c.Type)
	if err != nil {
		return nil, err
	}
	if _, ok := s.Permission(c.Name); ok {
		return nil, dojot.Errorf(dojot.ErrInvalid, "Permission name %s is in use.", c.Name)
	}
	p := newAuthPlan(s, c.AuthMeta)
	p.createPermission(dojot.Permission{Name: r.Name, Path: r.Path, Method: r.Method, Permission: r.Permission, Type: typ, CreatedBy: c.By})
	return p.done()
}

func (p *authPlan) createPermission(perm dojot.Permission) int64 {
	perm.ID = p.nextID(dojot.KindPermission)
	perm.CreatedDate = p.meta.At.UTC()
	p.onKind(dojot.EventPermissionCreated, dojot.KindPermission, dojot.AggregateID(perm.ID), dojot.PermissionCreated{Permission: perm})
	return perm.ID
}

// UpdatePermission changes an API permission's rule (PUT
// /auth/pap/permission/<id>); its name cannot change.
type UpdatePermission struct {
	AuthMeta
	Ref                                  string // id or name
	Name, Path, Method, Permission, Type string
}

func (c UpdatePermission) decideAuth(s AuthState) ([]dojot.Event, error) {
	r := permRule{Name: c.Name, Path: c.Path, Method: c.Method, Permission: c.Permission}
	if err := r.check(); err != nil {
		return nil, err
	}
	perm, ok := s.Permission(c.Ref)
	switch {
	case !ok:
		return nil, notFound("No permission found with this ID")
	case perm.Type != dojot.PermissionAPI:
		return nil, notAllowed("Can't edit a system permission ")
	case r.Name != perm.Name:
		return nil, invalid("permission name can't be changed")
	}
	typ := perm.Type
	if c.Type != "" {
		var err error
		if typ, err = checkPermType(c.Type); err != nil {
			return nil, err
		}
	}
	p := newAuthPlan(s, c.AuthMeta)
	p.onKind(dojot.EventPermissionUpdated, dojot.KindPermission, dojot.AggregateID(perm.ID),
		dojot.PermissionUpdated{ID: perm.ID, Path: r.Path, Method: r.Method, Permission: r.Permission, Type: typ})
	return p.done()
}

// DeletePermission removes an API permission (DELETE
// /auth/pap/permission/<id>).
type DeletePermission struct {
	AuthMeta
	Ref string // id or name
}

func (c DeletePermission) decideAuth(s AuthState) ([]dojot.Event, error) {
	perm, ok := s.Permission(c.Ref)
	switch {
	case !ok:
		return nil, notFound("No permission found with this ID or name")
	case perm.Type != dojot.PermissionAPI:
		return nil, notAllowed("Can't delete a system permission")
	}
	p := newAuthPlan(s, c.AuthMeta)
	p.onKind(dojot.EventPermissionDeleted, dojot.KindPermission, dojot.AggregateID(perm.ID),
		dojot.PermissionDeleted{ID: perm.ID, Name: perm.Name})
	return p.done()
}

func checkGroup(name, desc string) error {
	switch {
	case name == "":
		return invalid("Missing group name")
	case utf8.RuneCountInString(name) > maxGroupNameLen:
		return invalid("Group name too long")
	case !groupNameRe.MatchString(name):
		return invalid("Invalid group name, only alphanumeric allowed")
	case utf8.RuneCountInString(desc) > maxGroupDescLen:
		return invalid("Group description is too long")
	}
	return nil
}

// CreateGroup creates a group (POST /auth/pap/group).
type CreateGroup struct {
	AuthMeta
	Name, Description string
}

func (c CreateGroup) decideAuth(s AuthState) ([]dojot.Event, error) {
	if err := checkGroup(c.Name, c.Description); err != nil {
		return nil, err
	}
	if _, ok := s.Group(c.Name); ok {
		return nil, dojot.Errorf(dojot.ErrInvalid, "Group name %s is in use.", c.Name)
	}
	p := newAuthPlan(s, c.AuthMeta)
	p.createGroup(dojot.Group{Name: c.Name, Description: c.Description, CreatedBy: c.By})
	return p.done()
}

func (p *authPlan) createGroup(g dojot.Group) int64 {
	g.ID = p.nextID(dojot.KindGroup)
	g.CreatedDate = p.meta.At.UTC()
	p.onKind(dojot.EventGroupCreated, dojot.KindGroup, dojot.AggregateID(g.ID), dojot.GroupCreated{Group: g})
	return g.ID
}

// UpdateGroup renames a group and/or changes its description (PUT
// /auth/pap/group/<id>); a nil Description keeps it.
type UpdateGroup struct {
	AuthMeta
	Ref         string // id or name
	Name        string
	Description *string
}

func (c UpdateGroup) decideAuth(s AuthState) ([]dojot.Event, error) {
	desc := ""
	if c.Description != nil {
		desc = *c.Description
	}
	if err := checkGroup(c.Name, desc); err != nil {
		return nil, err
	}
	g, ok := s.Group(c.Ref)
	switch {
	case !ok:
		return nil, notFound("No group found with this ID")
	case g.Name == dojot.AdminGroup:
		return nil, notAllowed("Can't edit admin group")
	}
	if other, ok := s.Group(c.Name); ok && other.ID != g.ID {
		return nil, dojot.Errorf(dojot.ErrInvalid, "Group name %s is in use.", c.Name)
	}
	if c.Description != nil {
		g.Description = desc
	}
	p := newAuthPlan(s, c.AuthMeta)
	p.onKind(dojot.EventGroupUpdated, dojot.KindGroup, dojot.AggregateID(g.ID),
		dojot.GroupUpdated{ID: g.ID, Name: c.Name, Description: g.Description})
	return p.done()
}

// DeleteGroup removes a group (DELETE /auth/pap/group/<id>).
type DeleteGroup struct {
	AuthMeta
	Ref string // id or name
}

func (c DeleteGroup) decideAuth(s AuthState) ([]dojot.Event, error) {
	g, ok := s.Group(c.Ref)
	switch {
	case !ok:
		return nil, notFound("No group found with this ID")
	case g.Name == dojot.AdminGroup:
		return nil, notAllowed("Can't delete admin group")
	}
	p := newAuthPlan(s, c.AuthMeta)
	p.onKind(dojot.EventGroupDeleted, dojot.KindGroup, dojot.AggregateID(g.ID), dojot.GroupDeleted{ID: g.ID, Name: g.Name})
	return p.done()
}

// RelationKind names one of dojot's /pap relations.
type RelationKind int

// The relations, as dojot's /pap/usergroup, /pap/grouppermissions and
// /pap/userpermissions.
const (
	UserGroupRelation RelationKind = iota
	GroupPermissionRelation
	UserPermissionRelation
)

// Relation adds (Remove false) or removes a relation between From and To
// (ids or names): user and group, group and permission, or user and
// permission.
type Relation struct {
	AuthMeta
	Kind     RelationKind
	From, To string
	Remove   bool
}

func (c Relation) decideAuth(s AuthState) ([]dojot.Event, error) {
	p := newAuthPlan(s, c.AuthMeta)
	switch c.Kind {
	case UserGroupRelation:
		u, ok := s.User(c.From)
		if !ok {
			return nil, notFound("Unknown user id")
		}
		g, ok := s.Group(c.To)
		if !ok {
			if c.Remove {
				return nil, notFound("No group found with this ID or name")
			}
			return nil, notFound("No group found with this ID or name: " + c.To)
		}
		has := s.HasUserGroup(u.ID, g.ID)
		typ := dojot.EventUserGroupAdded
		switch {
		case c.Remove && !has:
			return nil, notFound("User is not a member of the group")
		case c.Remove:
			typ = dojot.EventUserGroupRemoved
		case has:
			return nil, &dojot.Error{Kind: dojot.ErrConflict, Message: "User is already a member of the group"}
		}
		p.onSubject(typ, dojot.ManagementTenant, dojot.KindUser, u.Username, dojot.UserGroup{UserID: u.ID, Username: u.Username, GroupID: g.ID})
	case GroupPermissionRelation:
		g, ok := s.Group(c.From)
		if !ok {
			return nil, notFound("No group found with this ID or name")
		}
		perm, ok := s.Permission(c.To)
		if !ok {
			if c.Remove {
				return nil, notFound("No permission found with this ID")
			}
			return nil, notFound("No permission found with this ID or name")
		}
		has := s.HasGroupPermission(g.ID, perm.ID)
		typ := dojot.EventGroupPermissionAdded
		switch {
		case c.Remove && !has:
			return nil, notFound("Group does not have this permission")
		case c.Remove:
			typ = dojot.EventGroupPermissionRemoved
		case has:
			return nil, &dojot.Error{Kind: dojot.ErrConflict, Message: "Group already have this permission"}
		}
		p.onSubject(typ, dojot.ManagementTenant, dojot.KindGroup, dojot.AggregateID(g.ID), dojot.GroupPermission{GroupID: g.ID, PermissionID: perm.ID})
	case UserPermissionRelation:
		u, ok := s.User(c.From)
		if !ok {
			return nil, notFound("Unknown user id")
		}
		perm, ok := s.Permission(c.To)
		if !ok {
			return nil, notFound("No permission found with this ID")
		}
		has := s.HasUserPermission(u.ID, perm.ID)
		typ := dojot.EventUserPermissionAdded
		switch {
		case c.Remove && !has:
			return nil, notFound("User does not have this permission")
		case c.Remove:
			typ = dojot.EventUserPermissionRemoved
		case has:
			return nil, &dojot.Error{Kind: dojot.ErrConflict, Message: "User already have this permission"}
		}
		p.onSubject(typ, dojot.ManagementTenant, dojot.KindUser, u.Username, dojot.UserPermission{UserID: u.ID, Username: u.Username, PermissionID: perm.ID})
	default:
		return nil, invalid("unknown relation")
	}
	return p.done()
}
