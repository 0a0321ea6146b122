package dojottest

import (
	"testing"
)

// NewPassword is what new users choose; dojot refuses one that contains
// the username.
const NewPassword = "Quartz-Lamp-42"

// LoginNewUser logs in a user just created by admin: as in dojot without a
// mail server, a new user's password is the temporary "temppwd", which the
// user then changes.
func LoginNewUser(t *testing.T, in *Instance, _ *Client, username string) *Client {
	t.Helper()
	u := in.Login(username, "temppwd")
	u.Must(200, "POST", "/auth/password/update", map[string]string{"oldpasswd": "temppwd", "newpasswd": NewPassword})
	return in.Login(username, NewPassword)
}
