// Package pgtest gives tests a PostgreSQL database of their own on the
// server named by DOJOT_TEST_POSTGRES_URL (default: the local server of
// RECIPES.md), created for the test and dropped when it ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// EnvURL names the server (any database on it: it is used only to
	// create and drop the test's own).
	EnvURL = "DOJOT_TEST_POSTGRES_URL"
	// DefaultURL is the local server RECIPES.md describes.
	DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// ServerURL is the server's URL as configured for tests.
func ServerURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// URL returns the URL of a fresh, empty database created for tb and dropped
// (WITH (FORCE), so connections a test leaked do not keep it) in
// tb.Cleanup. When the server cannot be reached it skips tb, or fails it
// under CI=true: CI must never pass by skipping.
func URL(tb testing.TB) string {
	tb.Helper()
	base := ServerURL()
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("pgtest: %s=%q is not a URL: %v", EnvURL, base, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("pgtest: postgres unreachable at %s: %v", redact(u), err)
		}
		tb.Skipf("pgtest: postgres unreachable at %s (set %s): %v", redact(u), EnvURL, err)
	}
	defer conn.Close(context.Background())
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "t_" + hex.EncodeToString(rnd[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("pgtest: drop %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// redact leaves a password out of messages.
func redact(u *url.URL) string {
	c := *u
	if c.User != nil {
		if _, ok := c.User.Password(); ok {
			c.User = url.UserPassword(c.User.Username(), "xxxxx")
		}
	}
	return fmt.Sprint(&c)
}
