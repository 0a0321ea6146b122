package e2e

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/dojot-es/dojot/e2e/dojottest"
	"github.com/dojot-es/dojot/projections/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

const rebuilding = "rebuilding the view from the event log"

// TestUntrustedViewIsRebuilt: a Postgres view whose checkpoint is missing,
// beyond the log, recorded from another log, or of another schema version
// is rebuilt at start, not trusted, and then answers as before; a sound one
// is trusted as it is.
func TestUntrustedViewIsRebuilt(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	pgURL := pgtest.URL(t)
	dataDir := t.TempDir()
	flags := []string{"-view=postgres", "-postgres-url=" + pgURL, "-view-name=v"}
	in := start(t, dataDir, flags...)
	c := in.Login("admin", adminPassword)
	tmpl := dojottest.CreateTemplate(c, "Trust")
	c.Must(200, "POST", "/device?count=5", map[string]any{"label": "trust", "templates": []int{tmpl}})
	want := dojottest.Snapshot(c)
	in.Stop()

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, tt := range []struct {
		name, tamper string // tamper: SQL on the served generation's schema (%s)
		rebuilt      bool
	}{
		{"sound", "", false},
		{"checkpoint missing", `DELETE FROM %s.checkpoint`, true},
		{"beyond the log", `UPDATE %s.checkpoint SET seq = seq + 1000`, true},
		{"another log", `UPDATE %s.checkpoint SET event_id = 'not-from-this-log'`, true},
		{"other schema version", `UPDATE %s.checkpoint SET schema_version = schema_version + 1`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := dojottest.ServedSchema(t, conn, "v")
			if tt.tamper != "" {
				if _, err := conn.Exec(ctx, fmt.Sprintf(tt.tamper, pgx.Identifier{before}.Sanitize())); err != nil {
					t.Fatal(err)
				}
			}
			in := start(t, dataDir, flags...)
			defer in.Stop()
			if got := in.Logged(rebuilding); got != tt.rebuilt {
				t.Errorf("rebuilt = %v; want %v", got, tt.rebuilt)
			}
			if after := dojottest.ServedSchema(t, conn, "v"); (after != before) != tt.rebuilt {
				t.Errorf("served schema %s -> %s; rebuilt want %v", before, after, tt.rebuilt)
			}
			got := dojottest.Snapshot(in.Login("admin", adminPassword))
			for k, w := range want {
				if !bytes.Equal(got[k], w) {
					t.Errorf("%s after restart:\n got  %s\n want %s", k, trunc(got[k]), trunc(w))
				}
			}
		})
	}
}
