package mongo

import (
	"context"
	"encoding/json"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dojot-es/dojot"
)

// flowDoc is a flow: its node list as the client sent it (a string: a
// BSON document would not keep JSON's text), times in Unix microseconds,
// pos (set on insert) the sequence of flow.created, the order dojot lists
// flows in.
type flowDoc struct {
	Key     string `bson:"_id"`
	Tenant  string `bson:"tenant"`
	ID      string `bson:"id"`
	Name    string `bson:"name"`
	Enabled bool   `bson:"enabled"`
	Nodes   string `bson:"nodes"`
	Created int64  `bson:"created"`
	Updated int64  `bson:"updated"`
}

func flowKey(tenant, id string) string { return tenant + "." + id }

func newFlowDoc(tenant string, f dojot.Flow) flowDoc {
	return flowDoc{Key: flowKey(tenant, f.ID), Tenant: tenant, ID: f.ID, Name: f.Name, Enabled: f.Enabled,
		Nodes: string(f.Nodes), Created: micros(f.Created), Updated: micros(f.Updated)}
}

func (d flowDoc) flow() dojot.Flow {
	return dojot.Flow{ID: d.ID, Name: d.Name, Enabled: d.Enabled, Nodes: json.RawMessage(d.Nodes),
		Created: time.UnixMicro(d.Created).UTC(), Updated: time.UnixMicro(d.Updated).UTC()}
}

// Flow returns a tenant's flow.
func (v *View) Flow(ctx context.Context, tenant, id string) (dojot.Flow, bool, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return dojot.Flow{}, false, err
	}
	d, err := findOne[flowDoc](ctx, db, collFlows, byID(flowKey(tenant, id)))
	if err != nil || d == nil {
		return dojot.Flow{}, false, err
	}
	return d.flow(), true, nil
}

// Flows returns a tenant's flows in creation order.
func (v *View) Flows(ctx context.Context, tenant string) ([]dojot.Flow, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := db.Collection(collFlows).Find(ctx, bson.D{{Key: "tenant", Value: tenant}},
		options.Find().SetSort(bson.D{{Key: "pos", Value: 1}}))
	if err != nil {
		return nil, wrap("find flows", err)
	}
	var docs []flowDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, wrap("read flows", err)
	}
	out := make([]dojot.Flow, len(docs))
	for i, d := range docs {
		out[i] = d.flow()
	}
	return out, nil
}
