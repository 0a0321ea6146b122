package commands

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dojot-es/dojot"
)

// CronState is what the cron commands decide against; the memory view
// implements it.
type CronState interface {
	CronJob(tenant, id string) (dojot.CronJob, bool)
	CronJobs(tenant string) []dojot.CronJob
	// Aggregate is the sequence and version of the last event of a job's
	// subject (0, 0: none), deleted jobs included.
	Aggregate(tenant, kind, id string) (seq, version uint64)
	Checkpoint(ctx context.Context) (uint64, error)
}

// Cron handles the commands of dojot's cron service (/cron/v1/jobs): jobs
// are created, replaced and deleted as events, one subject per job, and
// the scheduler (package cron) fires them.
type Cron struct {
	opts    Options
	st      CronState
	allowed []string
}

// NewCron returns the handler; opts.Store and opts.Sync are required.
// allowedURLs are the base URLs an http action may call (dojot's
// actions.http.allowed.base.urls); none refuses every http action.
func NewCron(opts Options, st CronState, allowedURLs []string) *Cron {
	opts.setDefaults()
	return &Cron{opts: opts, st: st, allowed: allowedURLs}
}

// CronError is one entry of the cron service's error list: dojot's code
// and message, and, where this platform checks more than dojot did, a
// detail saying what is wrong.
type CronError struct {
	Code    int    `json:"error"`
	Message string `json:"message"`
	Detail  string `json:"detail,omitempty"`
}

// cronErrorBody is the cron service's error answer.
type cronErrorBody struct {
	Status string      `json:"status"`
	Errors []CronError `json:"errors"`
}

func cronError(kind error, errs ...CronError) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Message
		if e.Detail != "" {
			msgs[i] += " (" + e.Detail + ")"
		}
	}
	return &dojot.Error{Kind: kind, Message: strings.Join(msgs, " "), Body: cronErrorBody{"error", errs}}
}

// CronNotFound is the cron service's 404. (dojot answered errors:[null]
// here, reading a property its error did not have; its apib documents
// this entry.)
func CronNotFound() error {
	return cronError(dojot.ErrNotFound, CronError{Code: 2, Message: "Resource not found."})
}

// CronBadJSON is the 400 for a body that is not a JSON object (ours:
// dojot's JSON parser answered with its framework's error).
func CronBadJSON() error {
	return cronError(dojot.ErrInvalid, CronError{Code: 100, Message: "Invalid JSON body.", Detail: "the body must be a JSON object"})
}

func (c *Cron) now() time.Time { return c.opts.Now().UTC().Truncate(time.Millisecond) }

// requestJobID is the job id a flow output's request id gives: the same
// request creates the same job, whatever instance retries it. It is shaped
// as a UUID (version 5 bits), as dojot's ids are.
func requestJobID(tenant, requestID string) string {
	sum := sha256.Sum256([]byte("cronjob\x00" + tenant + "\x00" + requestID))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// event builds a job event expecting the job subject's last sequence.
func (c *Cron) event(ctx context.Context, typ, tenant, id string, data any) (dojot.Event, error) {
	ev, err := dojot.NewEvent(typ, tenant, dojot.KindCronJob, id, c.now(), data)
	if err != nil {
		return ev, err
	}
	seq, ver := c.st.Aggregate(tenant, dojot.KindCronJob, id)
	ev.Expect, ev.Version = seq, ver+1
	if idn, ok := dojot.IdentityFrom(ctx); ok {
		ev.Actor = idn.Username
	}
	return ev, nil
}

// errNothing: the decision appends nothing (the job is already there).
var errNothing = errors.New("nothing to append")

// append decides and appends one event, deciding again on a conflict.
func (c *Cron) append(ctx context.Context, decide func() (dojot.Event, error)) error {
	err := appendDecided(ctx, &c.opts, c.st.Checkpoint, decide)
	if errors.Is(err, errNothing) {
		return nil
	}
	return err
}

// Create is POST /cron/v1/jobs: it returns the new job's id. A non-empty
// requestID (a flow output's id) makes the call idempotent: the job id is
// derived from it, and a job that request already created (even one
// deleted since) is answered again, not created twice.
func (c *Cron) Create(ctx context.Context, tenant, requestID string, body []byte) (string, error) {
	job, err := c.parseJob(body)
	if err != nil {
		return "", err
	}
	if requestID != "" {
		job.ID, job.RequestID = requestJobID(tenant, requestID), requestID
	} else if job.ID, err = dojot.NewUUID(c.opts.Rand); err != nil {
		return "", fmt.Errorf("cron job id: %w", err)
	}
	err = c.append(ctx, func() (dojot.Event, error) {
		if _, ver := c.st.Aggregate(tenant, dojot.KindCronJob, job.ID); ver > 0 {
			if requestID != "" {
				return dojot.Event{}, errNothing
			}
			return dojot.Event{}, fmt.Errorf("cron job id %s taken: %w", job.ID, dojot.ErrConflict)
		}
		job.Created = c.now()
		ev, err := c.event(ctx, dojot.EventCronJobCreated, tenant, job.ID, dojot.CronJobCreated{CronJob: job})
		if requestID != "" {
			ev.ID = "cron-" + job.ID // a retried append within the dedupe window is dropped by the store
		}
		return ev, err
	})
	return job.ID, err
}

// Put is PUT /cron/v1/jobs/:id: the job is replaced, or created with that
// id; created says which (dojot: 201 or 200).
func (c *Cron) Put(ctx context.Context, tenant, id string, body []byte) (created bool, err error) {
	if !dojot.ValidToken(id) {
		return false, cronError(dojot.ErrInvalid, CronError{Code: 106, Message: "Invalid job id.",
			Detail: "a job id is 1 to 128 letters, digits, '-' or '_'"})
	}
	job, err := c.parseJob(body)
	if err != nil {
		return false, err
	}
	job.ID = id
	err = c.append(ctx, func() (dojot.Event, error) {
		_, exists := c.st.CronJob(tenant, id)
		created = !exists
		job.Created = c.now()
		if created {
			return c.event(ctx, dojot.EventCronJobCreated, tenant, id, dojot.CronJobCreated{CronJob: job})
		}
		return c.event(ctx, dojot.EventCronJobUpdated, tenant, id, dojot.CronJobUpdated{CronJob: job})
	})
	return created, err
}

// Delete is DELETE /cron/v1/jobs/:id.
func (c *Cron) Delete(ctx context.Context, tenant, id string) error {
	return c.append(ctx, func() (dojot.Event, error) {
		if _, ok := c.st.CronJob(tenant, id); !ok {
			return dojot.Event{}, CronNotFound()
		}
		return c.event(ctx, dojot.EventCronJobDeleted, tenant, id, dojot.CronJobDeleted{ID: id})
	})
}

// DeleteAll is DELETE /cron/v1/jobs: each job of the tenant is deleted
// (one event per job; a job created meanwhile stays).
func (c *Cron) DeleteAll(ctx context.Context, tenant string) error {
	for _, j := range c.st.CronJobs(tenant) {
		if err := c.Delete(ctx, tenant, j.ID); err != nil && !errors.Is(err, dojot.ErrNotFound) {
			return err
		}
	}
	return nil
}

// CreateJob is Create for the flows' cron nodes (flows.CronJobs), in
// process.
func (c *Cron) CreateJob(ctx context.Context, tenant, requestID string, job json.RawMessage) (string, error) {
	return c.Create(ctx, tenant, requestID, job)
}

// RemoveJob is Delete for the flows' cron nodes (flows.CronJobs): a job
// that existed and is already gone counts as removed, so a retried flow
// input does not fail on the removal its first run made.
func (c *Cron) RemoveJob(ctx context.Context, tenant, jobID string) error {
	err := c.Delete(ctx, tenant, jobID)
	if errors.Is(err, dojot.ErrNotFound) {
		if _, ver := c.st.Aggregate(tenant, dojot.KindCronJob, jobID); ver > 0 {
			return nil
		}
	}
	return err
}
