package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dojot-es/dojot/e2e/dojottest"
	"github.com/dojot-es/dojot/projections/postgres/pgtest"
)

// readViews are the views BenchmarkReadLatency reads from, by the flags
// that choose them (as in e2e's views).
var readViews = []struct {
	name  string
	flags func(tb testing.TB) []string
}{
	{"memory", func(testing.TB) []string { return nil }},
	{"postgres", func(tb testing.TB) []string {
		return []string{"-view=postgres", "-postgres-url=" + pgtest.URL(tb)}
	}},
}

// The request kinds of the load, in report order.
const (
	kindHealthz = iota
	kindGet
	kindList
	kinds
)

var kindNames = [kinds]string{"healthz", "get", "list"}

// BenchmarkReadLatency: GET /device/:id and GET /device?page_size=20 (half
// each, random device, random page of 500) among 10,000 devices at a fixed
// rate (DOJOT_BENCH_RATE, default 500 req/s) for DOJOT_BENCH_SECONDS
// (default 10), open loop, from the memory and the Postgres view. The
// baseline is the same load on GET /healthz, same binary, same run: the
// ratios are the view read over the bare HTTP path.
func BenchmarkReadLatency(b *testing.B) {
	rate := envInt(b, "DOJOT_BENCH_RATE", 500)
	d := time.Duration(envInt(b, "DOJOT_BENCH_SECONDS", 10)) * time.Second
	for _, v := range readViews {
		b.Run(v.name, func(b *testing.B) { readLatency(b, v.flags(b), rate, d) })
	}
}

func readLatency(b *testing.B, flags []string, rate int, d time.Duration) {
	in := dojottest.Start(b, "", flags...)
	c := in.Login("admin", dojottest.AdminPassword)
	// One client, keep-alive, room for every request that may be in
	// flight at once, so the generator opens no connection per request.
	c.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096}}
	tmpl := createTemplate(b, c)
	body := c.Must(200, "POST", "/device?count=10000", map[string]any{"label": "read", "templates": []int{tmpl}})
	var created struct{ Devices []struct{ ID string } }
	dojottest.MustJSON(b, body, &created)
	ids := make([]string, len(created.Devices))
	for i, dv := range created.Devices {
		ids[i] = dv.ID
	}
	if len(ids) != 10000 {
		b.Fatalf("POST /device?count=10000 created %d devices", len(ids))
	}
	waitPages(b, c, 500)

	do := func(path string) (int, error) {
		code, _, err := c.Try("GET", path, nil)
		return code, err
	}
	healthz := func(int) (int, string) { return kindHealthz, "/healthz" }
	reads := func(int) (int, string) {
		if rand.IntN(2) == 0 {
			return kindGet, "/device/" + ids[rand.IntN(len(ids))]
		}
		return kindList, "/device?page_size=20&page_num=" + strconv.Itoa(1+rand.IntN(500))
	}
	var dbCPU func() map[int]time.Duration // the view's database processes, when they run here
	for _, f := range flags {
		if u, ok := strings.CutPrefix(f, "-postgres-url="); ok {
			dbCPU = postgresCPU(b, u)
		}
	}
	var runs []loadRun
	var cpu, dbcpu []time.Duration // CPU time per request of each load: the binary's, the database's
	for _, next := range []func(int) (int, string){healthz, reads} {
		openLoop(rate, time.Second, next, do) // warm-up, not counted: connections, caches, plans
		before, dbBefore := procCPU(in.Pid()), map[int]time.Duration{}
		if dbCPU != nil {
			dbBefore = dbCPU()
		}
		r := openLoop(rate, d, next, do)
		n := time.Duration(len(r.shots))
		cpu = append(cpu, (procCPU(in.Pid())-before)/n)
		if dbCPU != nil {
			var sum time.Duration
			for pid, t := range dbCPU() {
				sum += t - dbBefore[pid]
			}
			dbcpu = append(dbcpu, sum/n)
		}
		runs = append(runs, r)
	}
	b.StopTimer()

	var st, svc [kinds]latencies // from the scheduled send; from the actual one
	errs := 0
	for _, r := range runs {
		for _, s := range r.shots {
			st[s.kind].add(s.took)
			svc[s.kind].add(s.took - s.lag)
			if s.err != nil || s.code != http.StatusOK {
				st[s.kind].errs++
				errs++
				if errs <= 5 {
					b.Errorf("%s: %d %v", kindNames[s.kind], s.code, s.err)
				}
			}
		}
	}
	base := &st[kindHealthz]
	var tab strings.Builder
	fmt.Fprintf(&tab, "\n%-8s %6s %8s %8s %8s %8s %6s %9s %9s %10s %10s\n", "kind", "n", "req/s", "p50 ms", "p99 ms", "max ms", "errors",
		"p50 x-hz", "p99 x-hz", "sent p50", "sent p99")
	for k := range kinds {
		s := &st[k]
		elapsed := runs[min(k, 1)].elapsed // healthz was the first load, get and list the second
		fmt.Fprintf(&tab, "%-8s %6d %8.1f %8.3f %8.3f %8.3f %6d %9.2f %9.2f %10.3f %10.3f\n", kindNames[k], len(s.d),
			float64(len(s.d))/elapsed.Seconds(), ms(s.q(0.5)), ms(s.q(0.99)), ms(s.q(1)), s.errs,
			ratio(s.q(0.5), base.q(0.5)), ratio(s.q(0.99), base.q(0.99)), ms(svc[k].q(0.5)), ms(svc[k].q(0.99)))
	}
	tab.WriteString("(ms from the scheduled send; sent: from the actual send, without the generator's lag)\n")
	for i, r := range runs {
		fmt.Fprintf(&tab, "%s load: %d requests in %v, %.1f req/s; CPU µs/request: dojot %.0f",
			[]string{"healthz", "reads"}[i], len(r.shots), r.elapsed.Round(time.Millisecond),
			float64(len(r.shots))/r.elapsed.Seconds(), us(cpu[i]))
		if dbcpu != nil {
			fmt.Fprintf(&tab, ", postgres %.0f", us(dbcpu[i]))
		}
		fmt.Fprintf(&tab, "; generator send lag p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", ms(r.lag(0.5)), ms(r.lag(0.99)), ms(r.lag(1)))
	}
	b.Log(tab.String())
	if errs > 0 {
		b.Fatalf("%d requests did not answer 200", errs)
	}
	b.ReportMetric(0, "ns/op") // one run of fixed length: not a figure
	b.ReportMetric(float64(len(runs[1].shots))/runs[1].elapsed.Seconds(), "req/s")
	b.ReportMetric(us(cpu[1]), "dojot-cpu-us/read")
	b.ReportMetric(us(cpu[0]), "dojot-cpu-us/healthz")
	if dbcpu != nil {
		b.ReportMetric(us(dbcpu[1]), "postgres-cpu-us/read")
	}
	for k := range kinds {
		b.ReportMetric(ms(st[k].q(0.5)), "p50-"+kindNames[k]+"-ms")
		b.ReportMetric(ms(st[k].q(0.99)), "p99-"+kindNames[k]+"-ms")
		b.ReportMetric(ms(svc[k].q(0.5)), "p50-"+kindNames[k]+"-sent-ms")
		if k != kindHealthz {
			b.ReportMetric(ratio(st[k].q(0.5), base.q(0.5)), "p50-"+kindNames[k]+"-x-healthz")
			b.ReportMetric(ratio(st[k].q(0.99), base.q(0.99)), "p99-"+kindNames[k]+"-x-healthz")
		}
	}
}

// waitPages waits until GET /device counts pages pages of 20: POST waits for
// its own write, but the view must show all of them before timing reads.
func waitPages(b *testing.B, c *dojottest.Client, pages int) {
	b.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var r struct{ Pagination struct{ Total int } }
		dojottest.MustJSON(b, c.Must(200, "GET", "/device?page_size=20&page_num=1", nil), &r)
		if r.Pagination.Total == pages {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("GET /device: %d pages of 20 after 1m, want %d", r.Pagination.Total, pages)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shot is one request of an open-loop run.
type shot struct {
	kind int
	lag  time.Duration // sent - scheduled: the generator's own delay
	took time.Duration // answered - scheduled
	code int
	err  error
}

type loadRun struct {
	shots   []shot
	elapsed time.Duration // first scheduled send to last answer
}

func (r loadRun) lag(q float64) time.Duration {
	var l latencies
	for _, s := range r.shots {
		l.add(s.lag)
	}
	return l.q(q)
}

// openLoop sends rate requests per second for d, the i-th at start +
// i/rate whether or not earlier ones have been answered, and times each
// from its scheduled send: a slow answer delays no later request, and a
// late send counts against the server (no coordinated omission). next
// chooses request i; do sends it.
func openLoop(rate int, d time.Duration, next func(i int) (kind int, path string), do func(path string) (int, error)) loadRun {
	n := int(d.Seconds() * float64(rate))
	shots := make([]shot, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(int64(i) * int64(time.Second) / int64(rate)))
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		kind, path := next(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			code, err := do(path)
			shots[i] = shot{kind: kind, lag: sent.Sub(at), took: time.Since(at), code: code, err: err}
		}()
	}
	wg.Wait()
	return loadRun{shots: shots, elapsed: time.Since(start)}
}

// latencies collects durations for quantiles.
type latencies struct {
	d      []time.Duration
	sorted bool
	errs   int
}

func (l *latencies) add(d time.Duration) { l.d = append(l.d, d); l.sorted = false }

// q is the q-quantile (nearest rank): q(1) is the maximum.
func (l *latencies) q(q float64) time.Duration {
	if len(l.d) == 0 {
		return 0
	}
	if !l.sorted {
		slices.Sort(l.d)
		l.sorted = true
	}
	return l.d[max(0, int(math.Ceil(q*float64(len(l.d))))-1)]
}

// postgresCPU returns a function that gives the CPU time used so far by
// each server process of url's database (the binary's connections), or nil
// when the server does not run on this machine.
func postgresCPU(b *testing.B, url string) func() map[int]time.Duration {
	conn, err := pgx.Connect(b.Context(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(context.Background()) })
	pids := func() map[int]time.Duration {
		rows, _ := conn.Query(b.Context(), "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			b.Fatal(err)
		}
		m := map[int]time.Duration{}
		for _, pid := range ids {
			m[int(pid)] = procCPU(int(pid))
		}
		return m
	}
	if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", conn.PgConn().PID())); err != nil || !strings.HasPrefix(string(cmd), "postgres") {
		return nil // not a local server
	}
	return pids
}

// procCPU is the user+system CPU time process pid has used (0 if it is
// gone).
func procCPU(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command, which is in parentheses: utime and
	// stime are the 12th and 13th, in clock ticks (USER_HZ, 100 on Linux).
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}
