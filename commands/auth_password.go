package commands

import (
	"strings"

	"github.com/dojot-es/dojot"
)

// Password policy of dojot's auth (PasswordController.check_password_format,
// AUTH_PASSWD_MIN_LEN default).
const (
	minPasswdLen = 8
	maxPasswdLen = 512
	// bcrypt reads at most 72 bytes; longer passwords are refused rather
	// than silently truncated.
	maxPasswdBytes = 72
)

// CheckPassword applies dojot's password policy to a new password of u: a
// length between 8 and 512 characters, nothing longer than 4 characters in
// common with the username, email or name, and no run of three equal,
// ascending or descending characters.
func CheckPassword(u dojot.User, passwd string) error {
	rs := []rune(passwd)
	switch {
	case len(rs) < minPasswdLen:
		return dojot.Errorf(dojot.ErrInvalid, "password must have at least %d characters", minPasswdLen)
	case len(rs) > maxPasswdLen:
		return invalid("Calm down! 512 characters is the  maximum password length")
	case len(passwd) > maxPasswdBytes:
		return dojot.Errorf(dojot.ErrInvalid, "password must have at most %d bytes", maxPasswdBytes)
	}
	lower := strings.ToLower(passwd)
	if commonRun(lower, u.Username) > 4 || commonRun(lower, u.Email) > 4 || commonRun(lower, strings.ToLower(u.Name)) > 4 {
		return invalid("Please, choose a password that is harder to guess. Your user info may give hints on this password")
	}
	var last rune
	up, down, same := 1, 1, 1
	for _, c := range rs {
		up = bump(c == last+1, up)
		down = bump(c == last-1, down)
		same = bump(c == last, same)
		if up == 3 || down == 3 || same == 3 {
			return invalid("do not use passwords with  easy to guess character sequences")
		}
		last = c
	}
	return nil
}

func bump(cond bool, n int) int {
	if cond {
		return n + 1
	}
	return 1
}

// commonRun is the length of the longest common substring of a and b, in
// runes.
func commonRun(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	best := 0
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			if ra[i-1] == rb[j-1] {
				cur[j] = prev[j-1] + 1
				best = max(best, cur[j])
			} else {
				cur[j] = 0
			}
		}
		prev, cur = cur, prev
	}
	return best
}
