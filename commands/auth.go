package commands

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/dojot-es/dojot"
)

// AuthState is what the auth commands read: *memory.View implements it.
type AuthState interface {
	// Checkpoint advances with every applied event; deciding reads it
	// before and after, and decides again if it moved, so a decision never
	// mixes two states of the view.
	Checkpoint(ctx context.Context) (uint64, error)

	User(ref string) (dojot.User, bool) // by id or username
	UserByEmail(email string) (dojot.User, bool)
	Principal(username string) (dojot.Principal, bool)
	PasswordHashes(userID int64) (current string, former []string)
	ServiceUsers(service string) int
	TenantActive(tenant string) bool
	Group(ref string) (dojot.Group, bool)           // by id or name
	Permission(ref string) (dojot.Permission, bool) // by id or name
	HasUserGroup(userID, groupID int64) bool
	HasUserPermission(userID, permID int64) bool
	HasGroupPermission(groupID, permID int64) bool

	SubjectPos(subject string) (seq, version uint64)
	KindSeq(kind string) uint64
	MaxID(kind string) int64
}

// AuthCommand is a command on tenants, users, groups or permissions.
type AuthCommand interface {
	decideAuth(s AuthState) ([]dojot.Event, error)
}

// DecideAuth decides the events that follow from cmd in state s. It is pure:
// time, the requester, hashes and keys come in the command.
func DecideAuth(s AuthState, cmd AuthCommand) ([]dojot.Event, error) { return cmd.decideAuth(s) }

// AuthMeta is who asks for a command and when; it is part of every auth
// command so that deciding stays pure.
type AuthMeta struct {
	At    time.Time
	By    int64  // requester's user id: created_by (0: the platform)
	Actor string // requester's username, stored as the event's actor
}

// Auth handles the auth commands: it hashes passwords, decides, and appends
// with optimistic concurrency.
type Auth struct {
	opts  Options
	state AuthState

	// BcryptCost is the cost of new password hashes (default
	// bcrypt.DefaultCost: about 50-100 ms per hash on a current core, which
	// keeps a login cheap enough for an API gateway while making an offline
	// guess as expensive; tests use bcrypt.MinCost). Set before use.
	BcryptCost int
	// TemporaryPassword is the password of users created through the API,
	// as dojot's AUTH_USER_TMP_PWD when no e-mail server is configured
	// (default "temppwd"). Set before use.
	TemporaryPassword string
}

// NewAuth returns the auth command handler.
func NewAuth(opts Options, state AuthState) *Auth {
	opts.setDefaults()
	return &Auth{opts: opts, state: state}
}

func (a *Auth) cost() int {
	if a.BcryptCost == 0 {
		return bcrypt.DefaultCost
	}
	return a.BcryptCost
}

func (a *Auth) hash(passwd string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(passwd), a.cost())
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// key returns a random 32-hex-digit key, as a Kong consumer key.
func (a *Auth) key() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(a.opts.Rand, b); err != nil {
		return "", fmt.Errorf("random key: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func (a *Auth) meta(ctx context.Context) AuthMeta {
	// Microseconds, as the device commands: every view (Postgres keeps no
	// finer) then holds the very time the event does.
	m := AuthMeta{At: a.opts.Now().UTC().Truncate(time.Microsecond)}
	if id, ok := dojot.IdentityFrom(ctx); ok {
		m.By, m.Actor = id.UserID, id.Username
	}
	return m
}

// decide decides cmd against a consistent state of the view (see
// AuthState.Checkpoint).
func (a *Auth) decide(ctx context.Context, cmd AuthCommand) ([]dojot.Event, error) {
	for {
		before, err := a.state.Checkpoint(ctx)
		if err != nil {
			return nil, err
		}
		evs, derr := cmd.decideAuth(a.state)
		after, err := a.state.Checkpoint(ctx)
		if err != nil {
			return nil, err
		}
		if before == after {
			return evs, derr
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// run decides and appends cmd, deciding again after a conflict, and returns
// the events stored. A tenant lifecycle event that follows the stored user
// event is a consequence: if only it fails, the command has happened and
// reconcileTenants repairs the tenant.
func (a *Auth) run(ctx context.Context, cmd AuthCommand) ([]dojot.Event, error) {
	var stored []dojot.Event
	err := retry(ctx, &a.opts, func() (uint64, error) {
		evs, err := a.decide(ctx, cmd)
		if err != nil || len(evs) == 0 {
			stored = nil
			return 0, err
		}
		seqs, err := authAppend(ctx, a.opts.Store, evs)
		n := len(seqs)
		if err != nil && !(n > 0 && evs[n-1].Kind != dojot.KindTenant && onlyTenants(evs[n:])) {
			return 0, err
		}
		stored = evs[:n]
		return seqs[n-1], nil
	})
	return stored, err
}

func onlyTenants(evs []dojot.Event) bool {
	for _, ev := range evs {
		if ev.Kind != dojot.KindTenant {
			return false
		}
	}
	return true
}

// authAppend appends evs in order and returns the sequences of those
// stored. An event whose expectation covers an event appended before it in
// the same batch (the same subject, or a kind wildcard) expects that event's
// sequence: deciding computed expectations as if the batch were one write.
func authAppend(ctx context.Context, st Store, evs []dojot.Event) ([]uint64, error) {
	seqs := make([]uint64, 0, len(evs))
	for j, ev := range evs {
		if !ev.NoExpect {
			filter := ev.ExpectSubject
			if filter == "" {
				filter = ev.Subject()
			}
			for i := j - 1; i >= 0; i-- {
				if subjectMatches(filter, evs[i].Subject()) {
					ev.Expect = seqs[i]
					break
				}
			}
		}
		seq, err := st.Append(ctx, ev)
		if err != nil {
			return seqs, fmt.Errorf("append %s %s: %w", ev.Type, ev.AggregateID, err)
		}
		seqs = append(seqs, seq)
	}
	return seqs, nil
}

// subjectMatches reports whether a NATS subject matches a filter with the
// '*' (one token) and '>' (the rest) wildcards.
func subjectMatches(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range ft {
		if f == ">" {
			return len(st) > i
		}
		if i >= len(st) || (f != "*" && f != st[i]) {
			return false
		}
	}
	return len(ft) == len(st)
}

// Login checks a user's credentials as dojot's auth does: unknown user 401
// AuthenticationError, no password 401 "This user is inactive", wrong
// password 403 AuthorizationError.
func (a *Auth) Login(ctx context.Context, username, passwd string) (dojot.Principal, error) {
	p, ok := a.state.Principal(strings.ToLower(username))
	if !ok {
		return dojot.Principal{}, &dojot.Error{Kind: dojot.ErrUnauthorized, Message: "AuthenticationError"}
	}
	hash, _ := a.state.PasswordHashes(p.User.ID)
	if hash == "" {
		return dojot.Principal{}, &dojot.Error{Kind: dojot.ErrUnauthorized, Message: "This user is inactive"}
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(passwd)) != nil {
		return dojot.Principal{}, &dojot.Error{Kind: dojot.ErrForbidden, Message: "AuthorizationError"}
	}
	return p, nil
}

// Renew answers who a renewed token of user userID is issued to: the user as
// it is now (profile, service, groups), never the old token's claims, so a
// renewal carries no right the user lost since. A user removed, or left
// without a password (as Login: inactive), gets no token.
func (a *Auth) Renew(ctx context.Context, userID int64) (dojot.Principal, error) {
	u, ok := a.state.User(fmt.Sprint(userID))
	if !ok || u.ID != userID {
		return dojot.Principal{}, &dojot.Error{Kind: dojot.ErrUnauthorized, Message: "AuthenticationError"}
	}
	p, ok := a.state.Principal(u.Username)
	if !ok || p.User.ID != userID { // renamed or removed meanwhile
		return dojot.Principal{}, &dojot.Error{Kind: dojot.ErrUnauthorized, Message: "AuthenticationError"}
	}
	if hash, _ := a.state.PasswordHashes(userID); hash == "" {
		return dojot.Principal{}, &dojot.Error{Kind: dojot.ErrUnauthorized, Message: "This user is inactive"}
	}
	return p, nil
}

// CreatedUser is the outcome of CreateUser: the user, and the profile
// groups it was or could not be added to (dojot's "groups" and "could not
// add").
type CreatedUser struct {
	User   dojot.User
	Groups []string
	Failed []string
}

// CreateUser creates a user with the temporary password, in the group named
// by its profile; the first user of a service creates the tenant.
func (a *Auth) CreateUser(ctx context.Context, cmd CreateUser) (CreatedUser, error) {
	cmd.AuthMeta = a.meta(ctx)
	if err := cmd.validate(); err != nil { // before spending a hash on it
		return CreatedUser{}, err
	}
	tmp := a.TemporaryPassword
	if tmp == "" {
		tmp = "temppwd"
	}
	var err error
	if cmd.Hash, err = a.hash(tmp); err != nil {
		return CreatedUser{}, err
	}
	if cmd.Key, err = a.key(); err != nil {
		return CreatedUser{}, err
	}
	evs, err := a.run(ctx, cmd)
	if err != nil {
		return CreatedUser{}, err
	}
	a.reconcileTenants(ctx, cmd.Service)
	var out CreatedUser
	for _, ev := range evs {
		if ev.Type != dojot.EventUserCreated {
			continue
		}
		var p dojot.UserCreated
		if err := ev.Decode(&p); err != nil {
			return CreatedUser{}, err
		}
		out.User = p.User
		out.Groups, out.Failed = []string{}, []string{}
		if len(p.Groups) > 0 {
			out.Groups = append(out.Groups, cmd.Profile)
		} else {
			out.Failed = append(out.Failed, cmd.Profile)
		}
	}
	return out, nil
}

// UpdateUser changes a user's name, service and email.
func (a *Auth) UpdateUser(ctx context.Context, cmd UpdateUser) error {
	cmd.AuthMeta = a.meta(ctx)
	old, _ := a.state.User(cmd.Ref)
	if _, err := a.run(ctx, cmd); err != nil {
		return err
	}
	a.reconcileTenants(ctx, old.Service, cmd.Service)
	return nil
}

// DeleteUser removes a user; removing the last user of a service deletes
// the tenant.
func (a *Auth) DeleteUser(ctx context.Context, cmd DeleteUser) error {
	cmd.AuthMeta = a.meta(ctx)
	u, _ := a.state.User(cmd.Ref)
	if _, err := a.run(ctx, cmd); err != nil {
		return err
	}
	a.reconcileTenants(ctx, u.Service)
	return nil
}

// ChangePassword replaces the password of user userID (dojot's POST
// /password/update) after checking the old one and dojot's password policy.
func (a *Auth) ChangePassword(ctx context.Context, userID int64, oldPasswd, newPasswd string) error {
	u, ok := a.state.User(fmt.Sprint(userID))
	if !ok {
		return &dojot.Error{Kind: dojot.ErrNotFound, Message: "User not found"}
	}
	current, former := a.state.PasswordHashes(userID)
	if current == "" || bcrypt.CompareHashAndPassword([]byte(current), []byte(oldPasswd)) != nil {
		return &dojot.Error{Kind: dojot.ErrInvalid, Message: "Incorrect password"}
	}
	if err := CheckPassword(u, newPasswd); err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(current), []byte(newPasswd)) == nil {
		return &dojot.Error{Kind: dojot.ErrInvalid, Message: "Please, choose a password that was not used before."}
	}
	for _, h := range former {
		if bcrypt.CompareHashAndPassword([]byte(h), []byte(newPasswd)) == nil {
			return &dojot.Error{Kind: dojot.ErrInvalid, Message: "Please, choose a password that was not used before"}
		}
	}
	hash, err := a.hash(newPasswd)
	if err != nil {
		return err
	}
	_, err = a.run(ctx, ChangePassword{AuthMeta: a.meta(ctx), UserID: userID, OldHash: current, Hash: hash})
	return err
}

// CreateGroup creates a group and returns its id.
func (a *Auth) CreateGroup(ctx context.Context, cmd CreateGroup) (int64, error) {
	cmd.AuthMeta = a.meta(ctx)
	evs, err := a.run(ctx, cmd)
	if err != nil {
		return 0, err
	}
	return createdID(evs, dojot.EventGroupCreated)
}

// UpdateGroup renames a group or changes its description.
func (a *Auth) UpdateGroup(ctx context.Context, cmd UpdateGroup) error {
	cmd.AuthMeta = a.meta(ctx)
	_, err := a.run(ctx, cmd)
	return err
}

// DeleteGroup removes a group and its relations.
func (a *Auth) DeleteGroup(ctx context.Context, cmd DeleteGroup) error {
	cmd.AuthMeta = a.meta(ctx)
	_, err := a.run(ctx, cmd)
	return err
}

// CreatePermission creates a permission and returns its id.
func (a *Auth) CreatePermission(ctx context.Context, cmd CreatePermission) (int64, error) {
	cmd.AuthMeta = a.meta(ctx)
	evs, err := a.run(ctx, cmd)
	if err != nil {
		return 0, err
	}
	return createdID(evs, dojot.EventPermissionCreated)
}

// UpdatePermission changes an API permission's rule.
func (a *Auth) UpdatePermission(ctx context.Context, cmd UpdatePermission) error {
	cmd.AuthMeta = a.meta(ctx)
	_, err := a.run(ctx, cmd)
	return err
}

// DeletePermission removes an API permission and its relations.
func (a *Auth) DeletePermission(ctx context.Context, cmd DeletePermission) error {
	cmd.AuthMeta = a.meta(ctx)
	_, err := a.run(ctx, cmd)
	return err
}

// Relate adds or removes a relation (AddUserGroup, RemoveUserGroup,
// AddGroupPermission, RemoveGroupPermission, AddUserPermission,
// RemoveUserPermission).
func (a *Auth) Relate(ctx context.Context, cmd Relation) error {
	cmd.AuthMeta = a.meta(ctx)
	_, err := a.run(ctx, cmd)
	return err
}

func createdID(evs []dojot.Event, typ string) (int64, error) {
	for _, ev := range evs {
		if ev.Type == typ {
			var p struct {
				ID int64 `json:"id"`
			}
			err := ev.Decode(&p)
			return p.ID, err
		}
	}
	return 0, errors.New("no created event")
}

// reconcileTenants makes each tenant's lifecycle follow its users: active
// when it has users, deleted when it has none. Commands already decide the
// lifecycle events; this repairs the rare interleavings where two instances
// changed the same service's users at once. The view has applied our own
// write, and so everything stored before it: the last writer sees all.
func (a *Auth) reconcileTenants(ctx context.Context, tenants ...string) {
	seen := map[string]bool{}
	for _, t := range tenants {
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		if _, err := a.run(ctx, reconcileTenant{AuthMeta: a.meta(ctx), Tenant: t}); err != nil {
			a.opts.Logger.WarnContext(ctx, "reconcile tenant", "tenant", t, "err", err)
		}
	}
}

// Bootstrap seeds an empty platform as dojot's initialConf.py does: tenant
// admin, the system permissions, groups admin and user with their
// permissions, and user admin (service admin, profile admin, in group admin)
// with adminPassword. It is a no-op once user admin exists, and safe when
// several instances bootstrap at once: every event claims its name in the
// stream, a loser of a race decides again what is still missing, and user
// admin comes last, so a bootstrap cut short is completed by the next one.
// created reports whether this call created user admin.
func (a *Auth) Bootstrap(ctx context.Context, adminPassword string) (created bool, err error) {
	if _, ok := a.state.User(dojot.AdminUser); ok {
		return false, nil
	}
	cmd := Bootstrap{AuthMeta: AuthMeta{At: a.opts.Now(), Actor: "auth"}}
	if cmd.Hash, err = a.hash(adminPassword); err != nil {
		return false, err
	}
	if cmd.Key, err = a.key(); err != nil {
		return false, err
	}
	// Each conflict means another instance made progress, and there are
	// finitely many seeds: keep going until done or ctx ends.
	for attempt := 0; ; attempt++ {
		evs, err := a.decide(ctx, cmd)
		if err != nil || len(evs) == 0 {
			return false, err
		}
		seqs, err := authAppend(ctx, a.opts.Store, evs)
		if err == nil {
			return true, a.opts.Sync.WaitFor(ctx, seqs[len(seqs)-1])
		}
		if !errors.Is(err, dojot.ErrConflict) || attempt > 100 {
			return false, err
		}
		if err := a.opts.Sync.Sync(ctx); err != nil {
			return false, fmt.Errorf("sync after conflict: %w", err)
		}
	}
}
