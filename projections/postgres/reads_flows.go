package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dojot-es/dojot"
)

const flowCols = `id, name, enabled, nodes, created, updated`

func scanFlow(row pgx.CollectableRow) (dojot.Flow, error) {
	var f dojot.Flow
	var nodes string
	var created, updated time.Time
	err := row.Scan(&f.ID, &f.Name, &f.Enabled, &nodes, &created, &updated)
	f.Nodes, f.Created, f.Updated = json.RawMessage(nodes), created.UTC(), updated.UTC()
	return f, err
}

// Flow returns a tenant's flow.
func (v *View) Flow(ctx context.Context, tenant, id string) (dojot.Flow, bool, error) {
	var f dojot.Flow
	var found bool
	err := v.read(ctx, "flow", func(s *schema) error {
		rows, _ := v.pool.Query(ctx, s.q(`SELECT `+flowCols+` FROM {s}.flows WHERE tenant = $1 AND id = $2`), tenant, id)
		fs, err := pgx.CollectRows(rows, scanFlow)
		if err == nil && len(fs) == 1 {
			f, found = fs[0], true
		}
		return err
	})
	return f, found, err
}

// Flows returns a tenant's flows in creation order.
func (v *View) Flows(ctx context.Context, tenant string) ([]dojot.Flow, error) {
	out := []dojot.Flow{}
	err := v.read(ctx, "flows", func(s *schema) error {
		rows, _ := v.pool.Query(ctx, s.q(`SELECT `+flowCols+` FROM {s}.flows WHERE tenant = $1 ORDER BY pos`), tenant)
		fs, err := pgx.CollectRows(rows, scanFlow)
		if err == nil && fs != nil {
			out = fs
		}
		return err
	})
	return out, err
}
