package mongo

import (
	"context"
	"encoding/json"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/dojot-es/dojot"
)

// cronJobDoc is a job of dojot's cron service: the job as its event holds
// it (JSON text: a BSON document would not keep the actions' key order,
// which GET answers as sent), pos the sequence of the event that created
// or last replaced it, dojot's order.
type cronJobDoc struct {
	Key    string `bson:"_id"`
	Tenant string `bson:"tenant"`
	Pos    int64  `bson:"pos"`
	Doc    string `bson:"doc"`
}

func (d cronJobDoc) job() (dojot.CronJob, error) {
	var j dojot.CronJob
	if err := json.Unmarshal([]byte(d.Doc), &j); err != nil {
		return j, wrap("decode cron job", err)
	}
	j.Created = j.Created.UTC()
	return j, nil
}

func (b *batch) applyCronJob(ev dojot.Event) error {
	switch ev.Type {
	case dojot.EventCronJobCreated, dojot.EventCronJobUpdated:
		var j dojot.CronJob
		if err := ev.Decode(&j); err != nil {
			return err
		}
		doc, err := json.Marshal(j)
		if err != nil {
			return err
		}
		d := cronJobDoc{Key: flowKey(ev.Tenant, j.ID), Tenant: ev.Tenant, Pos: int64(ev.Seq), Doc: string(doc)}
		b.add(collCronJobs, mongo.NewReplaceOneModel().SetFilter(byID(d.Key)).SetUpsert(true).SetReplacement(d))
	case dojot.EventCronJobDeleted:
		var p dojot.CronJobDeleted
		if err := ev.Decode(&p); err != nil {
			return err
		}
		b.deleteOne(collCronJobs, flowKey(ev.Tenant, p.ID))
	}
	return nil
}

// CronJob returns a tenant's cron job.
func (v *View) CronJob(ctx context.Context, tenant, id string) (dojot.CronJob, bool, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return dojot.CronJob{}, false, err
	}
	d, err := findOne[cronJobDoc](ctx, db, collCronJobs, byID(flowKey(tenant, id)))
	if err != nil || d == nil {
		return dojot.CronJob{}, false, err
	}
	j, err := d.job()
	return j, err == nil, err
}

// CronJobs returns a tenant's cron jobs in dojot's order.
func (v *View) CronJobs(ctx context.Context, tenant string) ([]dojot.CronJob, error) {
	db, err := v.reading(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := db.Collection(collCronJobs).Find(ctx, bson.D{{Key: "tenant", Value: tenant}},
		options.Find().SetSort(bson.D{{Key: "pos", Value: 1}}))
	if err != nil {
		return nil, wrap("find cron jobs", err)
	}
	var docs []cronJobDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, wrap("read cron jobs", err)
	}
	out := make([]dojot.CronJob, len(docs))
	for i, d := range docs {
		if out[i], err = d.job(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
