package commands

import (
	"regexp"
	"unicode/utf8"

	"github.com/dojot-es/dojot"
)

// Input limits of dojot's auth (database/inputConf.py).
const (
	maxUsernameLen = 40
	maxServiceLen  = 30
	maxEmailLen    = 254
	maxNameLen     = 90
	maxProfileLen  = 30
)

var (
	usernameStartRe = regexp.MustCompile(`^[a-z]+[a-z0-9_]`)
	usernameRe      = regexp.MustCompile(`^[a-z0-9_]+$`)
	emailRe         = regexp.MustCompile(`^[a-z0-9_.+-]+@[a-z0-9-]+\.[a-z0-9-.]+$`)
)

func invalid(msg string) error { return &dojot.Error{Kind: dojot.ErrInvalid, Message: msg} }

// checkUser validates a user's fields in dojot's order and with its
// messages. The service must also be a safe tenant name (dojot only limits
// its length).
func checkUser(username, service, email, name string) error {
	switch {
	case username == "":
		return invalid("Missing username")
	case utf8.RuneCountInString(username) > maxUsernameLen:
		return invalid("Username too long")
	case !usernameStartRe.MatchString(username):
		return invalid("Invalid username. Usernames should start with a letter and only lowercase, alphanumeric and underscores are allowed")
	case service == "":
		return invalid("Missing service")
	case utf8.RuneCountInString(service) > maxServiceLen:
		return invalid("Service too long")
	case !dojot.ValidTenant(service):
		return invalid("Invalid service. Services should start with a letter and only lowercase, alphanumeric and underscores are allowed")
	case !usernameRe.MatchString(username):
		return invalid("Invalid username, only alphanumeric and underscores allowed")
	case email == "":
		return invalid("Missing email")
	case utf8.RuneCountInString(email) > maxEmailLen:
		return invalid("E-mail too long")
	case !emailRe.MatchString(email):
		return invalid("Invalid e-mail address")
	case name == "":
		return invalid("Missing user's name (full name)")
	case utf8.RuneCountInString(name) > maxNameLen:
		return invalid("Name too long")
	}
	return nil
}

// CreateUser creates a user (POST /auth/user). Hash and Key are decided by
// the handler: the bcrypt hash of the initial password and the user's JWT
// issuer key.
type CreateUser struct {
	AuthMeta
	Username, Service, Email, Name, Profile string

	Hash, Key string
}

func (c CreateUser) validate() error {
	if err := checkUser(c.Username, c.Service, c.Email, c.Name); err != nil {
		return err
	}
	if c.Profile == "" {
		return invalid("Missing profile")
	}
	if utf8.RuneCountInString(c.Profile) > maxProfileLen {
		return invalid("Profile name too long")
	}
	return nil
}

func (c CreateUser) decideAuth(s AuthState) ([]dojot.Event, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if _, ok := s.User(c.Username); ok {
		return nil, dojot.Errorf(dojot.ErrInvalid, "Username %s is in use.", c.Username)
	}
	if _, ok := s.UserByEmail(c.Email); ok {
		return nil, dojot.Errorf(dojot.ErrInvalid, "E-mail %s is in use.", c.Email)
	}
	p := newAuthPlan(s, c.AuthMeta)
	u := dojot.User{
		ID: p.nextID(dojot.KindUser), Name: c.Name, Username: c.Username, Service: c.Service,
		Email: c.Email, Profile: c.Profile, CreatedDate: c.At.UTC(), CreatedBy: c.By,
	}
	var groups []int64
	if g, ok := s.Group(c.Profile); ok { // dojot adds the user to the group its profile names
		groups = []int64{g.ID}
	}
	p.tenantCreated(c.Service)
	p.onKind(dojot.EventUserCreated, dojot.KindUser, c.Username,
		dojot.UserCreated{User: u, Hash: c.Hash, Key: c.Key, Groups: groups})
	return p.done()
}

// UpdateUser changes a user's name, service and email (PUT /auth/user/<id>).
// Username, when set, must be the user's; profile cannot be changed.
type UpdateUser struct {
	AuthMeta
	Ref                            string // id or username
	Username, Service, Email, Name string
}

func (c UpdateUser) decideAuth(s AuthState) ([]dojot.Event, error) {
	u, ok := s.User(c.Ref)
	if !ok {
		return nil, &dojot.Error{Kind: dojot.ErrNotFound, Message: "Unknown user id"}
	}
	if c.Username != "" && c.Username != u.Username {
		return nil, invalid("usernames can't be updated")
	}
	if err := checkUser(u.Username, c.Service, c.Email, c.Name); err != nil {
		return nil, err
	}
	if c.Email != u.Email {
		if _, ok := s.UserByEmail(c.Email); ok {
			return nil, invalid("email already in use")
		}
	}
	if u.Username == dojot.AdminUser && c.Service != dojot.AdminUser {
		return nil, &dojot.Error{Kind: dojot.ErrNotAllowed, Message: "Can't edit service of admin"}
	}
	p := newAuthPlan(s, c.AuthMeta)
	moved := c.Service != u.Service
	if moved {
		p.tenantCreated(c.Service)
	}
	p.onKind(dojot.EventUserUpdated, dojot.KindUser, u.Username,
		dojot.UserUpdated{ID: u.ID, Username: u.Username, Name: c.Name, Service: c.Service, Email: c.Email})
	if moved {
		p.tenantDeleted(u.Service)
	}
	return p.done()
}

// DeleteUser removes a user (DELETE /auth/user/<id>).
type DeleteUser struct {
	AuthMeta
	Ref string // id or username
}

func (c DeleteUser) decideAuth(s AuthState) ([]dojot.Event, error) {
	u, ok := s.User(c.Ref)
	switch {
	case !ok:
		return nil, &dojot.Error{Kind: dojot.ErrNotFound, Message: "Unknown user id"}
	case u.ID == c.By:
		return nil, invalid("a user can't remove himself")
	case u.Username == dojot.AdminUser:
		return nil, &dojot.Error{Kind: dojot.ErrNotAllowed, Message: "Can't delete the admin user"}
	}
	p := newAuthPlan(s, c.AuthMeta)
	p.onKind(dojot.EventUserDeleted, dojot.KindUser, u.Username,
		dojot.UserDeleted{ID: u.ID, Username: u.Username, Service: u.Service})
	p.tenantDeleted(u.Service)
	return p.done()
}

// ChangePassword replaces a user's password hash. OldHash is the hash the
// old password was checked against: if it changed meanwhile, the old
// password is no longer the right one.
type ChangePassword struct {
	AuthMeta
	UserID        int64
	OldHash, Hash string
}

func (c ChangePassword) decideAuth(s AuthState) ([]dojot.Event, error) {
	u, ok := s.User(dojot.AggregateID(c.UserID))
	if !ok {
		return nil, &dojot.Error{Kind: dojot.ErrNotFound, Message: "User not found"}
	}
	if cur, _ := s.PasswordHashes(u.ID); cur != c.OldHash {
		return nil, invalid("Incorrect password")
	}
	p := newAuthPlan(s, c.AuthMeta)
	p.onSubject(dojot.EventUserPasswordChanged, dojot.ManagementTenant, dojot.KindUser, u.Username,
		dojot.UserPasswordChanged{ID: u.ID, Username: u.Username, Hash: c.Hash})
	return p.done()
}
