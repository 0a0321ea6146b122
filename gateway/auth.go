package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
)

// authCommands are the auth commands (*commands.Auth).
type authCommands interface {
	Login(ctx context.Context, username, passwd string) (dojot.Principal, error)
	Renew(ctx context.Context, userID int64) (dojot.Principal, error)
	CreateUser(ctx context.Context, cmd commands.CreateUser) (commands.CreatedUser, error)
	UpdateUser(ctx context.Context, cmd commands.UpdateUser) error
	DeleteUser(ctx context.Context, cmd commands.DeleteUser) error
	ChangePassword(ctx context.Context, userID int64, oldPasswd, newPasswd string) error
	CreateGroup(ctx context.Context, cmd commands.CreateGroup) (int64, error)
	UpdateGroup(ctx context.Context, cmd commands.UpdateGroup) error
	DeleteGroup(ctx context.Context, cmd commands.DeleteGroup) error
	CreatePermission(ctx context.Context, cmd commands.CreatePermission) (int64, error)
	UpdatePermission(ctx context.Context, cmd commands.UpdatePermission) error
	DeletePermission(ctx context.Context, cmd commands.DeletePermission) error
	Relate(ctx context.Context, cmd commands.Relation) error
}

// authView is what the auth routes and the PDP read (*memory.View).
type authView interface {
	User(ctx context.Context, ref string) (dojot.User, bool, error)
	Users(ctx context.Context, usernameSubstr string) ([]dojot.User, error)
	UserGroups(ctx context.Context, userID int64) ([]dojot.Group, error)
	UserPermissions(ctx context.Context, userID int64) ([]dojot.Permission, error)
	UserAllPermissions(ctx context.Context, userID int64) ([]dojot.Permission, error)
	Group(ctx context.Context, ref string) (dojot.Group, bool, error)
	Groups(ctx context.Context, nameSubstr string) ([]dojot.Group, error)
	GroupPermissions(ctx context.Context, groupID int64) ([]dojot.Permission, error)
	GroupUsers(ctx context.Context, groupID int64) ([]dojot.User, error)
	Permission(ctx context.Context, ref string) (dojot.Permission, bool, error)
	Permissions(ctx context.Context, path, method, permission, typ string) ([]dojot.Permission, error)
	Tenants(ctx context.Context) ([]string, error)
	PDPInputs(ctx context.Context, userID int64) (direct []dojot.Permission, groups [][]dojot.Permission, ok bool, err error)
}

// mountAuth serves dojot's auth under Kong's paths: POST /auth is public,
// /auth/user and /auth/pap go through the PEP, /auth/password/update needs
// a valid token only (dojot reads its userid), as /auth/renew (ours), and /admin/tenants (also at
// Kong's /auth/admin/tenants), internal in dojot, goes through the PEP here
// since it is on the public port.
func (s *Server) mountAuth(r chi.Router) {
	r.Method(http.MethodPost, "/auth", errorHandler(s.login))
	r.Method(http.MethodPost, "/auth/", errorHandler(s.login))
	r.HandleFunc("/auth/revoke", s.revoke)
	r.HandleFunc("/auth/revoke/*", s.revoke)
	r.With(s.authenticate).Method(http.MethodPost, "/auth/password/update", errorHandler(s.updatePassword))
	r.With(s.authenticate).Method(http.MethodPost, "/auth/renew", errorHandler(s.renew))
	r.Group(func(r chi.Router) {
		r.Use(s.pep)
		r.Method(http.MethodGet, "/admin/tenants", errorHandler(s.listTenants))
		// Kong routes /auth/* to auth with the prefix stripped, so dojot's
		// clients (and auth's apib) call it here. dojot answered it
		// without a token; here the PEP decides, as on /admin/tenants.
		r.Method(http.MethodGet, "/auth/admin/tenants", errorHandler(s.listTenants))

		r.Method(http.MethodGet, "/auth/user", errorHandler(s.listUsers))
		r.Method(http.MethodPost, "/auth/user", errorHandler(s.createUser))
		r.Method(http.MethodGet, "/auth/user/{user}", errorHandler(s.getUser))
		r.Method(http.MethodPut, "/auth/user/{user}", errorHandler(s.updateUser))
		r.Method(http.MethodDelete, "/auth/user/{user}", errorHandler(s.deleteUser))

		r.Route("/auth/pap", func(r chi.Router) {
			r.Method(http.MethodPost, "/permission", errorHandler(s.createPermission))
			r.Method(http.MethodGet, "/permission", errorHandler(s.listPermissions))
			r.Method(http.MethodGet, "/permission/{perm}", errorHandler(s.getPermission))
			r.Method(http.MethodPut, "/permission/{perm}", errorHandler(s.updatePermission))
			r.Method(http.MethodDelete, "/permission/{perm}", errorHandler(s.deletePermission))

			r.Method(http.MethodPost, "/group", errorHandler(s.createGroup))
			r.Method(http.MethodGet, "/group", errorHandler(s.listGroups))
			r.Method(http.MethodGet, "/group/{group}", errorHandler(s.getGroup))
			r.Method(http.MethodPut, "/group/{group}", errorHandler(s.updateGroup))
			r.Method(http.MethodDelete, "/group/{group}", errorHandler(s.deleteGroup))
			r.Method(http.MethodGet, "/group/{group}/permissions", errorHandler(s.groupPermissions))
			r.Method(http.MethodGet, "/group/{group}/users", errorHandler(s.groupUsers))

			r.Method(http.MethodGet, "/user/{user}/directpermissions", s.userPermissions(false))
			r.Method(http.MethodGet, "/user/{user}/allpermissions", s.userPermissions(true))
			r.Method(http.MethodGet, "/user/{user}/groups", errorHandler(s.userGroups))

			r.Method(http.MethodPost, "/usergroup/{from}/{to}", s.relate(commands.UserGroupRelation, false))
			r.Method(http.MethodDelete, "/usergroup/{from}/{to}", s.relate(commands.UserGroupRelation, true))
			r.Method(http.MethodPost, "/grouppermissions/{from}/{to}", s.relate(commands.GroupPermissionRelation, false))
			r.Method(http.MethodDelete, "/grouppermissions/{from}/{to}", s.relate(commands.GroupPermissionRelation, true))
			r.Method(http.MethodPost, "/userpermissions/{from}/{to}", s.relate(commands.UserPermissionRelation, false))
			r.Method(http.MethodDelete, "/userpermissions/{from}/{to}", s.relate(commands.UserPermissionRelation, true))
		})
	})
}

var (
	errSessionOver = &dojot.Error{Kind: dojot.ErrUnauthorized, Message: "Session too old to renew: log in again"}
	errMimetype    = &dojot.Error{Kind: dojot.ErrInvalid, Message: "invalid mimetype"}
	errBadPayload  = &dojot.Error{Kind: dojot.ErrInvalid, Message: "Failed to decode JSON object"}
	errNoResults   = &dojot.Error{Kind: dojot.ErrNotFound, Message: "No results found with these filters"}
	errNoUser      = &dojot.Error{Kind: dojot.ErrNotFound, Message: "Unknown user id"}
)

// readAuthJSON decodes a JSON body into v, as auth's load_json_from_request:
// a body not declared as application/json is 400 "invalid mimetype".
func readAuthJSON(r *http.Request, v any) error {
	if !isJSON(r) {
		return errMimetype
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if json.Unmarshal(b, v) != nil {
		return errBadPayload
	}
	return nil
}

// okBody is auth's body-less success.
func okBody(msg string) errBody { return errBody{Message: msg, Status: http.StatusOK} }

// login is POST /auth: {"username","passwd"} -> {"jwt"}.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var body map[string]json.RawMessage
	if err := readAuthJSON(r, &body); err != nil {
		return err
	}
	var username, passwd string
	if raw, ok := body["username"]; !ok || json.Unmarshal(raw, &username) != nil {
		return &dojot.Error{Kind: dojot.ErrInvalid, Message: "missing username"}
	}
	if raw, ok := body["passwd"]; !ok || json.Unmarshal(raw, &passwd) != nil {
		return &dojot.Error{Kind: dojot.ErrInvalid, Message: "missing password"}
	}
	if err := s.loginAllowed(r.Context(), username, r.RemoteAddr); err != nil {
		return err
	}
	p, err := s.opts.AuthCommands.Login(r.Context(), username, passwd)
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "user logged in", "username", p.User.Username, "tenant", p.User.Service)
	return s.answerToken(w, p, s.opts.Now())
}

// answerToken answers {"jwt"}: a token signed for p, of a session that
// logged in at authTime.
func (s *Server) answerToken(w http.ResponseWriter, p dojot.Principal, authTime time.Time) error {
	tok, err := s.issueToken(p, authTime)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"jwt": tok})
	return nil
}

// renew is POST /auth/renew (ours: dojot's tokens lived 420 s and its GUI
// sent users back to the login page): a valid token of an existing user is
// exchanged for a new one, issued from the user's record as it is now, so a
// profile, tenant or group changed since the login shows in it. It asks for
// no password, so it is not a login attempt and is not counted by the login
// rate limit; it cannot guess a password either.
//
// A session lives Options.SessionMax from its login at most, however often
// renewed: a stolen token cannot be kept alive for ever by renewing it.
func (s *Server) renew(w http.ResponseWriter, r *http.Request) error {
	id, _ := dojot.IdentityFrom(r.Context())
	login := time.Unix(id.AuthTime, 0)
	if s.opts.SessionMax > 0 && s.opts.Now().Sub(login) >= s.opts.SessionMax {
		return errSessionOver
	}
	p, err := s.opts.AuthCommands.Renew(r.Context(), id.UserID)
	if err != nil {
		return err
	}
	s.log.DebugContext(r.Context(), "token renewed", "username", p.User.Username, "tenant", p.User.Service)
	return s.answerToken(w, p, login)
}

// revoke is /auth/revoke: Kong terminates it with 403.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, &dojot.Error{Kind: dojot.ErrForbidden, Body: map[string]string{"message": "Forbidden"}})
}

// updatePassword is POST /auth/password/update {"oldpasswd","newpasswd"}.
func (s *Server) updatePassword(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Old *string `json:"oldpasswd"`
		New *string `json:"newpasswd"`
	}
	if err := readAuthJSON(r, &body); err != nil {
		return err
	}
	if body.Old == nil {
		return &dojot.Error{Kind: dojot.ErrInvalid, Message: "Missing user's oldpasswd"}
	}
	if body.New == nil {
		return &dojot.Error{Kind: dojot.ErrInvalid, Message: "Missing user's newpasswd"}
	}
	id, _ := dojot.IdentityFrom(r.Context())
	if err := s.opts.AuthCommands.ChangePassword(r.Context(), id.UserID, *body.Old, *body.New); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okBody("ok"))
	return nil
}

// listTenants is GET /admin/tenants: the distinct services of all users.
func (s *Server) listTenants(w http.ResponseWriter, r *http.Request) error {
	tenants, err := s.opts.AuthView.Tenants(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string][]string{"tenants": tenants})
	return nil
}

// --- users ---

// userJSON is auth's User.safe_dict: every value a string.
type userJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Username    string `json:"username"`
	Service     string `json:"service"`
	Email       string `json:"email"`
	Profile     string `json:"profile"`
	CreatedDate string `json:"created_date"`
	CreatedBy   string `json:"created_by"`
}

func renderUser(u dojot.User) userJSON {
	return userJSON{
		ID: strconv.FormatInt(u.ID, 10), Name: u.Name, Username: u.Username, Service: u.Service,
		Email: u.Email, Profile: u.Profile, CreatedDate: pyTime(u.CreatedDate, " "),
		CreatedBy: strconv.FormatInt(u.CreatedBy, 10),
	}
}

func renderUsers(us []dojot.User) []userJSON {
	out := make([]userJSON, 0, len(us))
	for _, u := range us {
		out = append(out, renderUser(u))
	}
	return out
}

// pyTime formats t as Python formats a naive UTC datetime: str() with sep
// " ", isoformat() with "T"; microseconds only when not zero.
func pyTime(t time.Time, sep string) string {
	t = t.UTC()
	layout := "2006-01-02" + sep + "15:04:05"
	if t.Nanosecond()/1000 != 0 {
		layout += ".000000"
	}
	return t.Format(layout)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	users, err := s.opts.AuthView.Users(r.Context(), r.URL.Query().Get("username"))
	if err != nil {
		return err
	}
	if len(users) == 0 {
		return errNoResults
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": renderUsers(users)})
	return nil
}

type userBody struct {
	Username string `json:"username"`
	Service  string `json:"service"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Profile  string `json:"profile"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	var b userBody
	if err := readAuthJSON(r, &b); err != nil {
		return err
	}
	res, err := s.opts.AuthCommands.CreateUser(r.Context(), commands.CreateUser{
		Username: b.Username, Service: b.Service, Email: b.Email, Name: b.Name, Profile: b.Profile,
	})
	if err != nil {
		return err
	}
	// Flask's jsonify(result, 200) answers a two-item array.
	writeJSON(w, http.StatusOK, []any{map[string]any{
		"user": renderUser(res.User), "groups": res.Groups, "could not add": res.Failed, "message": "user created",
	}, http.StatusOK})
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) error {
	u, ok, err := s.opts.AuthView.User(r.Context(), pathParam(r, "user"))
	if err != nil {
		return err
	}
	if !ok {
		return errNoUser
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": renderUser(u)})
	return nil
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) error {
	var b userBody
	if err := readAuthJSON(r, &b); err != nil {
		return err
	}
	err := s.opts.AuthCommands.UpdateUser(r.Context(), commands.UpdateUser{
		Ref: pathParam(r, "user"), Username: b.Username, Service: b.Service, Email: b.Email, Name: b.Name,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okBody("ok"))
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := s.opts.AuthCommands.DeleteUser(r.Context(), commands.DeleteUser{Ref: pathParam(r, "user")}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okBody("User removed"))
	return nil
}

// --- permissions ---

// permissionJSON is auth's Permission.as_dict.
type permissionJSON struct {
	ID          int64  `json:"id"`
	Path        string `json:"path"`
	Name        string `json:"name"`
	Method      string `json:"method"`
	Permission  string `json:"permission"`
	Type        string `json:"type"`
	CreatedDate string `json:"created_date"`
	CreatedBy   int64  `json:"created_by"`
}

func renderPermissions(ps []dojot.Permission) []permissionJSON {
	out := make([]permissionJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, permissionJSON{
			ID: p.ID, Path: p.Path, Name: p.Name, Method: p.Method, Permission: p.Permission, Type: p.Type,
			CreatedDate: pyTime(p.CreatedDate, "T"), CreatedBy: p.CreatedBy,
		})
	}
	return out
}

type permissionBody struct {
	Name       string `json:"name"`
	Path       string `json:"path"`
	Method     string `json:"method"`
	Permission string `json:"permission"`
	Type       string `json:"type"`
}

func (s *Server) createPermission(w http.ResponseWriter, r *http.Request) error {
	var b permissionBody
	if err := readAuthJSON(r, &b); err != nil {
		return err
	}
	id, err := s.opts.AuthCommands.CreatePermission(r.Context(), commands.CreatePermission{
		Name: b.Name, Path: b.Path, Method: b.Method, Permission: b.Permission, Type: b.Type,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int64{"status": http.StatusOK, "id": id})
	return nil
}

func (s *Server) listPermissions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	perm, typ := q.Get("permission"), q.Get("type")
	switch perm {
	case "", dojot.Permit, dojot.Deny, "notApplicable":
	default:
		return dojot.Errorf(dojot.ErrInvalid, "Invalid filter. Permission can't be %s", perm)
	}
	switch typ {
	case "", dojot.PermissionAPI, dojot.PermissionSystem, "notApplicable":
	default:
		return dojot.Errorf(dojot.ErrInvalid, "Invalid filter. Permission type can't be %s", typ)
	}
	perms, err := s.opts.AuthView.Permissions(r.Context(), q.Get("path"), q.Get("method"), perm, typ)
	if err != nil {
		return err
	}
	if len(perms) == 0 {
		return errNoResults
	}
	writeJSON(w, http.StatusOK, map[string]any{"permissions": renderPermissions(perms)})
	return nil
}

func (s *Server) getPermission(w http.ResponseWriter, r *http.Request) error {
	p, ok, err := s.opts.AuthView.Permission(r.Context(), pathParam(r, "perm"))
	if err != nil {
		return err
	}
	if !ok {
		return &dojot.Error{Kind: dojot.ErrNotFound, Message: "No permission found with this ID"}
	}
	writeJSON(w, http.StatusOK, renderPermissions([]dojot.Permission{p})[0])
	return nil
}

func (s *Server) updatePermission(w http.ResponseWriter, r *http.Request) error {
	var b permissionBody
	if err := readAuthJSON(r, &b); err != nil {
		return err
	}
	err := s.opts.AuthCommands.UpdatePermission(r.Context(), commands.UpdatePermission{
		Ref: pathParam(r, "perm"), Name: b.Name, Path: b.Path, Method: b.Method, Permission: b.Permission, Type: b.Type,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okBody("ok"))
	return nil
}

func (s *Server) deletePermission(w http.ResponseWriter, r *http.Request) error {
	if err := s.opts.AuthCommands.DeletePermission(r.Context(), commands.DeletePermission{Ref: pathParam(r, "perm")}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okBody("ok"))
	return nil
}

// --- groups ---

// groupJSON is auth's Group.safe_dict with an ISO created_date.
type groupJSON struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	CreatedDate string  `json:"created_date"`
	CreatedBy   int64   `json:"created_by"`
}

func renderGroups(gs []dojot.Group) []groupJSON {
	out := make([]groupJSON, 0, len(gs))
	for _, g := range gs {
		j := groupJSON{ID: g.ID, Name: g.Name, CreatedDate: pyTime(g.CreatedDate, "T"), CreatedBy: g.CreatedBy}
		if g.Description != "" { // a group created without one has NULL
			j.Description = &g.Description
		}
		out = append(out, j)
	}
	return out
}

type groupBody struct {
	Name        string  `json:"name"`
	Description *string `json:"description"`
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) error {
	var b groupBody
	if err := readAuthJSON(r, &b); err != nil {
		return err
	}
	cmd := commands.CreateGroup{Name: b.Name}
	if b.Description != nil {
		cmd.Description = *b.Description
	}
	id, err := s.opts.AuthCommands.CreateGroup(r.Context(), cmd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int64{"status": http.StatusOK, "id": id})
	return nil
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) error {
	groups, err := s.opts.AuthView.Groups(r.Context(), r.URL.Query().Get("name"))
	if err != nil {
		return err
	}
	if len(groups) == 0 {
		return errNoResults
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": renderGroups(groups)})
	return nil
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, ok, err := s.opts.AuthView.Group(r.Context(), pathParam(r, "group"))
	if err != nil {
		return err
	}
	if !ok {
		return &dojot.Error{Kind: dojot.ErrNotFound, Message: "No group found with this ID"}
	}
	writeJSON(w, http.StatusOK, renderGroups([]dojot.Group{g})[0])
	return nil
}

func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request) error {
	var b groupBody
	if err := readAuthJSON(r, &b); err != nil {
		return err
	}
	err := s.opts.AuthCommands.UpdateGroup(r.Context(), commands.UpdateGroup{
		Ref: pathParam(r, "group"), Name: b.Name, Description: b.Description,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okBody("ok"))
	return nil
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	if err := s.opts.AuthCommands.DeleteGroup(r.Context(), commands.DeleteGroup{Ref: pathParam(r, "group")}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, okBody("ok"))
	return nil
}

// --- reports and relations ---

var errNoGroupReport = &dojot.Error{Kind: dojot.ErrNotFound, Message: "No group found with this name or ID"}

func (s *Server) groupPermissions(w http.ResponseWriter, r *http.Request) error {
	g, ok, err := s.opts.AuthView.Group(r.Context(), pathParam(r, "group"))
	if err != nil {
		return err
	}
	if !ok {
		return errNoGroupReport
	}
	perms, err := s.opts.AuthView.GroupPermissions(r.Context(), g.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"permissions": renderPermissions(perms)})
	return nil
}

func (s *Server) groupUsers(w http.ResponseWriter, r *http.Request) error {
	g, ok, err := s.opts.AuthView.Group(r.Context(), pathParam(r, "group"))
	if err != nil {
		return err
	}
	if !ok {
		return errNoGroupReport
	}
	users, err := s.opts.AuthView.GroupUsers(r.Context(), g.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": renderUsers(users)})
	return nil
}

func (s *Server) userPermissions(all bool) errorHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, ok, err := s.opts.AuthView.User(r.Context(), pathParam(r, "user"))
		if err != nil {
			return err
		}
		if !ok {
			return errNoUser
		}
		list := s.opts.AuthView.UserPermissions
		if all {
			list = s.opts.AuthView.UserAllPermissions
		}
		perms, err := list(r.Context(), u.ID)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"permissions": renderPermissions(perms)})
		return nil
	}
}

func (s *Server) userGroups(w http.ResponseWriter, r *http.Request) error {
	u, ok, err := s.opts.AuthView.User(r.Context(), pathParam(r, "user"))
	if err != nil {
		return err
	}
	if !ok {
		return errNoUser
	}
	groups, err := s.opts.AuthView.UserGroups(r.Context(), u.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": renderGroups(groups)})
	return nil
}

func (s *Server) relate(kind commands.RelationKind, remove bool) errorHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		err := s.opts.AuthCommands.Relate(r.Context(), commands.Relation{
			Kind: kind, From: pathParam(r, "from"), To: pathParam(r, "to"), Remove: remove,
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, okBody("ok"))
		return nil
	}
}
