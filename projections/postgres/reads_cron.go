package postgres

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"github.com/dojot-es/dojot"
)

func scanCronJob(row pgx.CollectableRow) (dojot.CronJob, error) {
	var j dojot.CronJob
	var doc string
	if err := row.Scan(&doc); err != nil {
		return j, err
	}
	err := json.Unmarshal([]byte(doc), &j)
	j.Created = j.Created.UTC()
	return j, err
}

// CronJob returns a tenant's cron job.
func (v *View) CronJob(ctx context.Context, tenant, id string) (dojot.CronJob, bool, error) {
	var j dojot.CronJob
	var found bool
	err := v.read(ctx, "cron job", func(s *schema) error {
		rows, _ := v.pool.Query(ctx, s.q(`SELECT doc FROM {s}.cronjobs WHERE tenant = $1 AND id = $2`), tenant, id)
		js, err := pgx.CollectRows(rows, scanCronJob)
		if err == nil && len(js) == 1 {
			j, found = js[0], true
		}
		return err
	})
	return j, found, err
}

// CronJobs returns a tenant's cron jobs in dojot's order.
func (v *View) CronJobs(ctx context.Context, tenant string) ([]dojot.CronJob, error) {
	out := []dojot.CronJob{}
	err := v.read(ctx, "cron jobs", func(s *schema) error {
		rows, _ := v.pool.Query(ctx, s.q(`SELECT doc FROM {s}.cronjobs WHERE tenant = $1 ORDER BY pos`), tenant)
		js, err := pgx.CollectRows(rows, scanCronJob)
		if err == nil && js != nil {
			out = js
		}
		return err
	})
	return out, err
}
