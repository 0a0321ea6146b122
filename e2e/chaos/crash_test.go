package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dojot-es/dojot/e2e/dojottest"
	"github.com/dojot-es/dojot/projections/postgres/pgtest"
)

// TestCrashWhileProjecting: the binary is SIGKILLed while it projects a log
// of 100,000 events into Postgres, one to three times per cycle, at random
// moments; restarted, it finishes, and its view holds exactly the rows a
// fresh replay of the log makes: none missing, none twice. Each cycle
// projects into an empty view of its own. CI runs 2 cycles;
// DOJOT_CRASH_CYCLES=20 runs the long test (crashCycles).
func TestCrashWhileProjecting(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	t.Parallel()                // see TestMain
	cycles := crashCycles(t, 2) // a cycle rebuilds a view of 100,000 events
	pgURL := pgtest.URL(t)
	dataDir := t.TempDir()

	// The log: 100,000 device.created events and a few more.
	in := dojottest.Start(t, dataDir)
	c := in.Login("admin", dojottest.AdminPassword)
	tmpl := dojottest.CreateTemplate(c, "Crash")
	for range 10 {
		c.Must(200, "POST", "/device?count=10000", map[string]any{"label": "crash", "templates": []int{tmpl}})
	}
	id := dojottest.CreateDevice(c, "updated", tmpl)
	c.Must(200, "PUT", "/device/"+id, map[string]any{"label": "updated-2", "templates": []int{tmpl}})
	in.Stop()

	// The reference: a replay into a view of its own.
	replay := exec.Command(dojottest.Binary(t), "replay", "-data-dir="+dataDir, "-view=postgres",
		"-postgres-url="+pgURL, "-view-name=reference", "-log-format=json")
	if out, err := replay.CombinedOutput(); err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	want := viewRows(t, pgURL, "reference")
	if n := want["devices"]; n.count < 100_000 {
		t.Fatalf("reference view has %d devices; want 100,001", n.count)
	}

	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	midway := 0
	for cycle := range cycles {
		name := fmt.Sprintf("crash%d", cycle)
		flags := []string{"-view=postgres", "-postgres-url=" + pgURL, "-view-name=" + name}
		for range 1 + rnd.IntN(3) {
			in := dojottest.Launch(t, dataDir, flags...)
			if !in.WaitLog("projection lease taken: this instance applies events to the view", 60*time.Second) {
				t.Fatalf("cycle %d: the view's applier never started", cycle)
			}
			time.Sleep(time.Duration(rnd.IntN(600)) * time.Millisecond)
			in.Kill()
			if cp := checkpoint(t, pgURL, name); cp > 0 && cp < 100_000 {
				midway++
			}
		}
		in := dojottest.Start(t, dataDir, flags...)
		in.Stop()
		got := viewRows(t, pgURL, name)
		for table, w := range want {
			if g := got[table]; g != w {
				t.Errorf("cycle %d: table %s has %d rows (%d distinct, digest %s); a fresh replay has %d (%d, %s)",
					cycle, table, g.count, g.distinct, g.digest, w.count, w.distinct, w.digest)
			}
		}
	}
	t.Logf("%d of the kills came while the view was part way through the log", midway)
	if midway == 0 {
		t.Error("no kill landed part way through the projection; the test proved nothing")
	}

	// dojot replay, SIGKILLed part way, resumes where it stopped.
	replayArgs := []string{"replay", "-data-dir=" + dataDir, "-view=postgres", "-postgres-url=" + pgURL, "-view-name=resumed", "-log-format=json"}
	resumed := false
	for attempt := 0; attempt < 10 && !resumed; attempt++ {
		cmd := exec.Command(dojottest.Binary(t), replayArgs...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Later attempts wait longer: on a loaded machine the process may
		// not have begun the rebuild within the first delays.
		time.Sleep(time.Duration(300+rnd.IntN(500)) * time.Millisecond * time.Duration(1+attempt/2))
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		out, err := exec.Command(dojottest.Binary(t), replayArgs...).CombinedOutput()
		if err != nil {
			t.Fatalf("replay after a kill: %v\n%s", err, out)
		}
		resumed = strings.Contains(string(out), "resuming an interrupted rebuild")
		got := viewRows(t, pgURL, "resumed")
		for table, w := range want {
			if g := got[table]; g != w {
				t.Errorf("resumed replay: table %s has %d rows (%d distinct); a fresh replay has %d (%d)", table, g.count, g.distinct, w.count, w.distinct)
			}
		}
	}
	if !resumed {
		t.Error("no replay was killed part way: resuming was never tested")
	}
}

// crashCycles is how many cycles a crash test runs: DOJOT_CRASH_CYCLES
// (the long mode, e.g. 100), else ci (CI's few).
func crashCycles(t *testing.T, ci int) int {
	t.Helper()
	s := os.Getenv("DOJOT_CRASH_CYCLES")
	if s == "" {
		return ci
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("DOJOT_CRASH_CYCLES=%q: want a number of cycles", s)
	}
	return n
}

type tableRows struct {
	count, distinct int64
	digest          string
}

// viewRows sums up every table of the generation a view serves; the
// checkpoint's event id is the same in any view of the same log.
func viewRows(t *testing.T, url, name string) map[string]tableRows {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	schema := dojottest.ServedSchema(t, conn, name)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]tableRows{}
	for _, table := range tables {
		q := fmt.Sprintf(`SELECT count(*), count(DISTINCT r), coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '')
			FROM %s r`, pgx.Identifier{schema, table}.Sanitize())
		var tr tableRows
		if err := conn.QueryRow(ctx, q).Scan(&tr.count, &tr.distinct, &tr.digest); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		out[table] = tr
	}
	if len(out) < 10 {
		t.Fatalf("view %s has tables %v", name, tables)
	}
	return out
}

// checkpoint is the sequence the view's served generation has applied
// (0 when there is none yet).
func checkpoint(t *testing.T, url, name string) uint64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var gen *int
	if err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT gen FROM %s.served`, pgx.Identifier{name}.Sanitize())).Scan(&gen); err != nil || gen == nil {
		return 0
	}
	var seq uint64
	q := fmt.Sprintf(`SELECT seq FROM %s.checkpoint`, pgx.Identifier{fmt.Sprintf("%s_g%d", name, *gen)}.Sanitize())
	if err := conn.QueryRow(ctx, q).Scan(&seq); err != nil {
		return 0
	}
	return seq
}
