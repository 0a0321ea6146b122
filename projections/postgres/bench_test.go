package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/projections/postgres"
	"github.com/dojot-es/dojot/projections/postgres/pgtest"
	"github.com/dojot-es/dojot/projections/viewtest"
)

// BenchmarkRebuildPostgres is a rebuild: one op makes a fresh generation
// (Build), applies the whole log to it in batches of 256 (the Runner's
// largest batch) through ApplyTx, and switches to it. The baseline,
// measured in the same run on the same server, is a raw COPY of the same
// rows (devices and device_template) into tables made like the view's,
// one COPY per table in one transaction: the fastest way to put the rows
// there. DOJOT_BENCH_EVENTS sets the number of devices (default 200,000).
func BenchmarkRebuildPostgres(b *testing.B) {
	n := viewtest.BenchEvents(b, 200_000)
	evs := viewtest.DeviceLog(b, n)
	url := pgtest.URL(b)
	v := openURL(b, url, "")
	ctx := context.Background()
	raw, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close(ctx)
	var base time.Duration
	runs := 0
	for b.Loop() {
		bld, err := v.Build(ctx, true)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(evs); i += 256 {
			batch := evs[i:min(len(evs), i+256)]
			refused, err := bld.ApplyTx(ctx, batch)
			if err != nil {
				b.Fatal(err)
			}
			if err := errors.Join(refused...); err != nil {
				b.Fatal(err)
			}
		}
		if err := bld.Switch(ctx, false); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if got, err := v.ListDevices(ctx, "admin", dojot.DeviceQuery{Page: dojot.Page{Num: 1, Size: 1}}); err != nil {
			b.Fatal(err)
		} else if want := fmt.Sprintf(`"total":%d}`, n); len(got) < len(want) || string(got[len(got)-len(want)-1:len(got)-1]) != want {
			b.Fatalf("after the rebuild: %s; want %d pages of 1", got[max(0, len(got)-80):], n)
		}
		base += rawCopy(b, raw, evs[1:])
		b.StartTimer()
		runs++
	}
	per := float64(b.Elapsed().Nanoseconds()) / float64(runs*len(evs))
	b.ReportMetric(1e9/per, "events/s")
	b.ReportMetric(per/(float64(base.Nanoseconds())/float64(runs*len(evs))), "x-raw-copy")
	b.ReportMetric(float64(runs*len(evs))/base.Seconds(), "raw-rows/s")
}

// rawCopy creates fresh tables like the view's devices and device_template
// (same columns, keys and indexes) and COPYs the devices of evs into them,
// in one transaction; it returns how long the COPYs and the commit took.
func rawCopy(b *testing.B, conn *pgx.Conn, evs []dojot.Event) time.Duration {
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS raw CASCADE; CREATE SCHEMA raw;
CREATE TABLE raw.devices (
    tenant  text COLLATE "C" NOT NULL,
    id      text COLLATE "C" NOT NULL,
    label   text COLLATE "C" NOT NULL,
    created timestamptz NOT NULL,
    updated timestamptz,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX devices_label ON raw.devices (tenant, label, id);
CREATE TABLE raw.device_template (
    tenant      text COLLATE "C" NOT NULL,
    device_id   text COLLATE "C" NOT NULL,
    template_id integer NOT NULL,
    pos         smallint NOT NULL,
    PRIMARY KEY (tenant, device_id, template_id)
);
CREATE INDEX device_template_template ON raw.device_template (tenant, template_id, device_id);`); err != nil {
		b.Fatal(err)
	}
	devs := make([]dojot.Device, len(evs))
	for i, ev := range evs {
		var p dojot.DeviceCreated
		if err := ev.Decode(&p); err != nil {
			b.Fatal(err)
		}
		devs[i] = p.Device
	}
	start := time.Now()
	tx, err := conn.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"raw", "devices"}, []string{"tenant", "id", "label", "created", "updated"},
		pgx.CopyFromSlice(len(devs), func(i int) ([]any, error) {
			d := devs[i]
			return []any{"admin", d.ID, d.Label, d.Created, d.Updated}, nil
		})); err != nil {
		b.Fatal(err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"raw", "device_template"}, []string{"tenant", "device_id", "template_id", "pos"},
		pgx.CopyFromSlice(len(devs), func(i int) ([]any, error) {
			return []any{"admin", devs[i].ID, int32(devs[i].Templates[0]), int16(0)}, nil
		})); err != nil {
		b.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// readBench is a served view holding the devices of viewtest.DeviceLog(n), and
// their ids.
func readBench(b *testing.B, n int) (*postgres.View, []string, string) {
	b.Helper()
	evs := viewtest.DeviceLog(b, n)
	url := pgtest.URL(b)
	v := openURL(b, url, "")
	for i := 0; i < len(evs); i += 256 {
		if _, err := v.ApplyTx(context.Background(), evs[i:min(len(evs), i+256)]); err != nil {
			b.Fatal(err)
		}
	}
	ids := make([]string, 0, n)
	for _, ev := range evs[1:] {
		ids = append(ids, ev.AggregateID)
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	return v, ids, url
}

// nsPerOp times n calls of f.
func nsPerOp(n int, f func(i int)) float64 {
	start := time.Now()
	for i := range n {
		f(i)
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// BenchmarkGetDevicePostgres is GET /device/:id's read among 10,000
// devices; the baseline, on the same server, is a bare primary-key SELECT
// of the device row through the same pool settings.
func BenchmarkGetDevicePostgres(b *testing.B) {
	v, ids, url := readBench(b, viewtest.BenchEvents(b, 10_000))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	base := nsPerOp(2000, func(i int) {
		var id, label string
		var created time.Time
		var updated *time.Time
		if err := conn.QueryRow(ctx, "SELECT id, label, created, updated FROM dojot_g1.devices WHERE tenant = $1 AND id = $2",
			"admin", ids[i%len(ids)]).Scan(&id, &label, &created, &updated); err != nil {
			b.Fatal(err)
		}
	})
	i := 0
	for b.Loop() {
		if _, ok, err := v.DeviceJSON(ctx, "admin", ids[i%len(ids)]); !ok || err != nil {
			b.Fatal(ok, err)
		}
		i++
	}
	per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(per/base, "x-raw-select")
}

// BenchmarkListDevicesPostgres is GET /device's page of 20 (by id, page
// numbers spread over the 10,000 devices); the baseline is a bare SELECT
// of the same page of device rows, LIMIT/OFFSET.
func BenchmarkListDevicesPostgres(b *testing.B) {
	n := viewtest.BenchEvents(b, 10_000)
	v, _, url := readBench(b, n)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	pages := n / 20
	rnd := rand.New(rand.NewPCG(3, 4))
	base := nsPerOp(1000, func(int) {
		rows, _ := conn.Query(ctx, "SELECT id, label, created, updated FROM dojot_g1.devices WHERE tenant = $1 ORDER BY id LIMIT 20 OFFSET $2",
			"admin", 20*rnd.IntN(pages))
		rows.Close()
		if rows.Err() != nil {
			b.Fatal(rows.Err())
		}
	})
	for b.Loop() {
		if _, err := v.ListDevices(ctx, "admin", dojot.DeviceQuery{Page: dojot.Page{Num: 1 + rnd.IntN(pages), Size: 20}}); err != nil {
			b.Fatal(err)
		}
	}
	per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(per/base, "x-raw-select")
}
