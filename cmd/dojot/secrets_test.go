package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestSecretFilesPrivate: a generated secret is 0600; one found readable
// by others (an older release, a copy) is tightened to 0600, as is the data
// dir to 0700.
func TestSecretFilesPrivate(t *testing.T) {
	dir := t.TempDir()
	mode := func(p string) fs.FileMode {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	gen := func() string { return "generated" }
	for name, before := range map[string]struct {
		content string
		mode    fs.FileMode
		exists  bool
	}{
		"absent":         {},
		"world readable": {"kept", 0o644, true},
		"empty, 0666":    {"", 0o666, true},
	} {
		p := filepath.Join(dir, name)
		if before.exists {
			if err := os.WriteFile(p, []byte(before.content), before.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, before.mode); err != nil { // past the umask
				t.Fatal(err)
			}
		}
		s, _, err := fileSecret(dir, name, gen)
		want := "generated"
		if before.content != "" {
			want = before.content
		}
		if err != nil || s != want {
			t.Errorf("%s: fileSecret = %q, %v; want %q", name, s, err, want)
		}
		if m := mode(p); m != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, m)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := privateDir(dir); err != nil || mode(dir) != 0o700 {
		t.Errorf("privateDir: %v, mode %v; want 0700", err, mode(dir))
	}
}
