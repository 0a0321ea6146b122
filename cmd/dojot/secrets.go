package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// fileSecret returns the secret kept in dir/name, creating it (mode 0600)
// from gen when absent. created tells whether this call made it.
func fileSecret(dir, name string, gen func() string) (secret string, created bool, err error) {
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, false, private(path)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("read %s: %w", path, err)
	}
	s := gen()
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("write %s: %w", path, err)
	}
	return s, true, private(path) // WriteFile keeps the mode of a file that existed (empty)
}

// private makes a secret file readable by its owner only (0600): one left
// readable by others (copied in, or made by an older release) is
// tightened, not trusted as it is.
func private(path string) error {
	return restrict(path, 0o600)
}

// privateDir makes the data dir accessible to its owner only (0700): it
// holds the secrets, the CA key and the event log.
func privateDir(dir string) error {
	return restrict(dir, 0o700)
}

func restrict(path string, mode fs.FileMode) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if fi.Mode().Perm()&^mode == 0 {
		return nil
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("%s is %v, readable by others, and could not be restricted to %v: %w", path, fi.Mode().Perm(), mode, err)
	}
	return nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux
	return hex.EncodeToString(b)
}

// randomPassword is 20 characters a user can type.
func randomPassword() string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
