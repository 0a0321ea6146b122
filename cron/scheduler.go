// Package cron is dojot's cron service on the event log: the jobs are
// events (commands.Cron decides them, the views keep them), and the
// Scheduler of every instance fires them at their ticks.
//
// One tick, one instance. Every instance computes the same ticks from the
// same jobs (the tick times follow from the job's time, timezone and
// creation time, all in its events). Before acting, an instance claims the
// (tenant, job, tick) key in a JetStream key-value bucket with a create,
// which JetStream grants to exactly one writer; the others see the key
// taken and let it be. No election, no leader: an instance that stops
// only stops claiming, and the others keep firing every tick.
//
// Missed ticks. A job's latest due tick is fired up to Options.MaxLate
// late (a busy machine, a job the view applied just after its first
// tick); older due ticks, those that fell while every instance was down
// or paused, are not fired afterwards (no burst of catch-up ticks), but
// counted and logged, as dojot's cron lost them. An instance that claimed
// a tick and died before acting loses that tick too (at most once per
// tick, never twice).
//
// Actions. A broker action on dojot.device-manager.device sends its
// configure through the commands' actuation (checked against the device's
// actuator attributes, delivered to the device and put on Kafka as
// configure); one on device-data appends a reading to the DATA stream as
// the device. Both carry ids derived from the tick, so a duplicate is
// dropped by the store. An http action performs the request with a
// timeout, only under the allowed base URLs (checked again at each tick,
// redirects included). Failures are logged (once a minute per job) and
// counted (Stats).
package cron

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nuid"

	"github.com/dojot-es/dojot"
)

// Jobs is where the scheduler reads the jobs: the memory view, which
// follows the EVENTS stream in every instance.
type Jobs interface {
	// EachCronJob calls fn with every job and returns the sequence of the
	// last job event applied.
	EachCronJob(fn func(tenant string, job dojot.CronJob)) uint64
	CronSeq() uint64
}

// Claims is the key-value bucket ticks are claimed in (eventstore.KV):
// CompareAndSet with revision 0 creates the key, or fails with an error
// wrapping dojot.ErrConflict when it exists.
type Claims interface {
	CompareAndSet(ctx context.Context, key string, value []byte, revision uint64) error
}

// Actuator sends a configuration to a device through the commands
// (commands.Devices.ActuateAs; flowDepth 0: a tick is no flow output).
type Actuator interface {
	ActuateAs(ctx context.Context, tenant, deviceID string, body []byte, eventID string, flowDepth int) error
}

// DataAppender stores a reading in the DATA stream (eventstore.Store).
type DataAppender interface {
	AppendData(ctx context.Context, tenant, deviceID string, payload []byte, msgID string) (uint64, error)
}

// Devices tells whether a device exists (the memory view).
type Devices interface {
	Device(tenant, id string) (dojot.Device, bool)
}

// Tenants tells whether a tenant exists (the memory view): dojot's cron
// stopped a tenant's jobs when the tenant went.
type Tenants interface {
	TenantActive(tenant string) bool
}

// Options configure a Scheduler. A zero field means its default.
type Options struct {
	Jobs     Jobs         // required
	Claims   Claims       // required
	Actuator Actuator     // required
	Data     DataAppender // required
	Devices  Devices      // required
	// Tenants, when set, holds back the jobs of a deleted tenant (they
	// fire again if the tenant comes back, as its devices do).
	Tenants Tenants
	// AllowedURLs are the base URLs http actions may call (none: no http
	// action runs).
	AllowedURLs []string
	// HTTPTimeout bounds an http action (default 5 s, dojot's
	// actions.http.timeout).
	HTTPTimeout time.Duration
	// Transport performs http actions (default http.DefaultTransport).
	Transport http.RoundTripper
	// MaxLate is how late a tick may still be fired (default 1 minute).
	MaxLate time.Duration
	// Poll is how often the view is checked for changed jobs (default
	// 200 ms): a job's first tick may come this much late.
	Poll time.Duration
	// Instance names this instance in its claims (default host:pid:random).
	Instance string
	// Workers bounds the actions running at once (default 32).
	Workers int
	Now     func() time.Time
	Logger  *slog.Logger
}

// Stats are the scheduler's counters since it started.
type Stats struct {
	Fired       uint64 `json:"fired"`        // ticks this instance claimed and acted on
	Elsewhere   uint64 `json:"elsewhere"`    // ticks another instance claimed first
	Failed      uint64 `json:"failed"`       // actions that failed
	Missed      uint64 `json:"missed"`       // ticks this instance skipped as late (another instance may have fired them)
	ClaimErrors uint64 `json:"claim_errors"` // ticks not fired: the claim could not be made (NATS down)
}

// Scheduler fires the jobs of every tenant.
type Scheduler struct {
	opts Options
	log  *slog.Logger
	http *http.Client
	sem  chan struct{}
	wg   sync.WaitGroup

	fired, elsewhere, failed, missed, claimErrors atomic.Uint64
}

// New checks opts and fills in the defaults.
func New(opts Options) (*Scheduler, error) {
	if opts.Jobs == nil || opts.Claims == nil || opts.Actuator == nil || opts.Data == nil || opts.Devices == nil {
		return nil, errors.New("cron: Jobs, Claims, Actuator, Data and Devices are required")
	}
	if opts.HTTPTimeout <= 0 {
		opts.HTTPTimeout = 5 * time.Second
	}
	if opts.MaxLate <= 0 {
		opts.MaxLate = time.Minute
	}
	if opts.Poll <= 0 {
		opts.Poll = 200 * time.Millisecond
	}
	if opts.Instance == "" {
		host, _ := os.Hostname()
		opts.Instance = host + ":" + strconv.Itoa(os.Getpid()) + ":" + nuid.Next()
	}
	if opts.Workers <= 0 {
		opts.Workers = 32
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Scheduler{opts: opts, log: opts.Logger, sem: make(chan struct{}, opts.Workers)}
	s.http = &http.Client{Transport: opts.Transport, Timeout: opts.HTTPTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return CheckURL(req.URL.String(), opts.AllowedURLs) // a redirect leaves the allowed bases: refused
		}}
	return s, nil
}

// Stats returns the counters.
func (s *Scheduler) Stats() Stats {
	return Stats{Fired: s.fired.Load(), Elsewhere: s.elsewhere.Load(), Failed: s.failed.Load(),
		Missed: s.missed.Load(), ClaimErrors: s.claimErrors.Load()}
}

// entry is a job as scheduled: its next tick.
type entry struct {
	tenant string
	job    dojot.CronJob
	sched  *Schedule
	next   time.Time
	index  int // in the heap

	lastLog atomic.Int64 // unix seconds of the last failure logged
}

func (e *entry) key() string { return e.tenant + "/" + e.job.ID }

// ticks is a min-heap of entries by next tick.
type ticks []*entry

func (h ticks) Len() int           { return len(h) }
func (h ticks) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h ticks) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *ticks) Push(x any)        { e := x.(*entry); e.index = len(*h); *h = append(*h, e) }
func (h *ticks) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// Run fires the jobs until ctx is done, then waits for the actions under
// way.
func (s *Scheduler) Run(ctx context.Context) error {
	start := s.opts.Now()
	entries := map[string]*entry{}
	var h ticks
	seq := ^uint64(0)
	timer := time.NewTimer(0)
	defer timer.Stop()
	s.log.Info("cron: scheduler running", "instance", s.opts.Instance, "max_late", s.opts.MaxLate.String())
	for {
		if cur := s.opts.Jobs.CronSeq(); cur != seq {
			seq = s.reload(entries, &h, start)
		}
		now := s.opts.Now()
		for len(h) > 0 && !h[0].next.After(now) {
			e := h[0]
			if tick := s.latestDue(e, now); !tick.IsZero() {
				s.start(ctx, e, tick)
			}
			if e.next = e.sched.Next(now); e.next.IsZero() {
				heap.Remove(&h, e.index)
				delete(entries, e.key())
				continue
			}
			heap.Fix(&h, e.index)
		}
		wait := s.opts.Poll
		if len(h) > 0 {
			wait = min(wait, h[0].next.Sub(now))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			s.wg.Wait()
			return nil
		case <-timer.C:
		}
	}
}

// latestDue is the tick of e to fire at now: its latest tick due, if it
// is at most MaxLate late. The older due ticks are skipped and counted,
// so an instance that was paused (or a machine too busy to wake on time)
// fires one tick per job, not a burst of catch-up ticks.
func (s *Scheduler) latestDue(e *entry, now time.Time) time.Time {
	tick, skipped := e.next, uint64(0)
	if now.Sub(tick) > s.opts.MaxLate {
		skipped++
		if tick = e.sched.Next(now.Add(-s.opts.MaxLate)); tick.IsZero() || tick.After(now) {
			tick = time.Time{}
		}
	}
	for !tick.IsZero() {
		n := e.sched.Next(tick)
		if n.IsZero() || n.After(now) {
			break
		}
		skipped, tick = skipped+1, n
	}
	if skipped > 0 {
		s.missed.Add(skipped)
		s.logFailure(e, "cron: ticks skipped", e.next, fmt.Errorf("%d tick(s) from %s skipped as late (another instance may have fired them)", skipped, e.next.UTC().Format(time.RFC3339)))
	}
	return tick
}

// reload brings the entries in line with the view: new and replaced jobs
// get their first tick after their creation (or the scheduler's start),
// deleted ones go.
func (s *Scheduler) reload(entries map[string]*entry, h *ticks, start time.Time) uint64 {
	seen := make(map[string]bool, len(entries))
	seq := s.opts.Jobs.EachCronJob(func(tenant string, job dojot.CronJob) {
		k := tenant + "/" + job.ID
		seen[k] = true
		if e := entries[k]; e != nil && sameJob(e.job, job) {
			return
		}
		loc, err := time.LoadLocation(job.Timezone)
		if err != nil {
			loc = time.UTC
		}
		sched, err := Parse(job.Time, loc)
		if err != nil { // the commands checked it: a job stored by another version
			s.log.Error("cron: job not scheduled", "tenant", tenant, "job", job.ID, "err", err)
			delete(entries, k)
			return
		}
		from := job.Created
		if from.Before(start) {
			from = start
		}
		entries[k] = &entry{tenant: tenant, job: job, sched: sched, next: sched.Next(from)}
	})
	*h = (*h)[:0]
	for k, e := range entries {
		if !seen[k] || e.next.IsZero() {
			delete(entries, k)
			continue
		}
		*h = append(*h, e)
	}
	for i, e := range *h {
		e.index = i
	}
	heap.Init(h)
	return seq
}

// sameJob reports whether a job is unchanged (a PUT may replace it within
// the millisecond of its creation time).
func sameJob(a, b dojot.CronJob) bool {
	return a.Created.Equal(b.Created) && a.Time == b.Time && a.Timezone == b.Timezone &&
		bytes.Equal(a.Broker, b.Broker) && bytes.Equal(a.HTTP, b.HTTP)
}

// start fires one tick of e in the background (bounded by Workers).
func (s *Scheduler) start(ctx context.Context, e *entry, tick time.Time) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-s.sem }()
		s.fire(ctx, e, tick)
	}()
}

// claimKey names a tick in the claims bucket.
func claimKey(tenant, jobID string, tick time.Time) string {
	return tenant + "." + jobID + "." + strconv.FormatInt(tick.Unix(), 10)
}

// fire claims the tick and, if this instance got it, performs the job's
// actions.
func (s *Scheduler) fire(ctx context.Context, e *entry, tick time.Time) {
	if s.opts.Tenants != nil && !s.opts.Tenants.TenantActive(e.tenant) {
		s.logFailure(e, "cron: job held", tick, fmt.Errorf("tenant %s was deleted", e.tenant))
		return
	}
	value, _ := json.Marshal(map[string]any{"instance": s.opts.Instance, "at": s.opts.Now().UTC()})
	err := s.opts.Claims.CompareAndSet(ctx, claimKey(e.tenant, e.job.ID, tick), value, 0)
	switch {
	case errors.Is(err, dojot.ErrConflict):
		s.elsewhere.Add(1)
		return
	case err != nil:
		s.claimErrors.Add(1)
		s.logFailure(e, "cron: job failed", tick, fmt.Errorf("claim: %w (tick not fired)", err))
		return
	}
	s.fired.Add(1)
	if len(e.job.Broker) > 0 {
		if err := s.broker(ctx, e, tick); err != nil {
			s.failed.Add(1)
			s.logFailure(e, "cron: job failed", tick, fmt.Errorf("broker action: %w", err))
		}
	}
	if len(e.job.HTTP) > 0 {
		if err := s.call(ctx, e); err != nil {
			s.failed.Add(1)
			s.logFailure(e, "cron: job failed", tick, fmt.Errorf("http action: %w", err))
		}
	}
}

// logFailure logs a job's failure at most once a minute per job (an
// every-second job against a removed device would flood the log); the
// counters count them all.
func (s *Scheduler) logFailure(e *entry, msg string, tick time.Time, err error) {
	now := s.opts.Now().Unix()
	if last := e.lastLog.Load(); now-last < 60 || !e.lastLog.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn(msg, "tenant", e.tenant, "job", e.job.ID, "name", e.job.Name, "tick", tick, "err", err)
}

// tickID is the id of what a tick stores (the actuation event, the
// reading): a second store of the same tick is dropped as a duplicate.
func tickID(e *entry, tick time.Time) string {
	return "cron." + e.tenant + "." + e.job.ID + "." + strconv.FormatInt(tick.Unix(), 10)
}

func (s *Scheduler) broker(ctx context.Context, e *entry, tick time.Time) error {
	var a dojot.CronBrokerAction
	if err := json.Unmarshal(e.job.Broker, &a); err != nil {
		return err
	}
	switch a.Subject {
	case dojot.CronSubjectDevices:
		var m dojot.CronConfigure
		if err := json.Unmarshal(a.Message, &m); err != nil {
			return err
		}
		body, err := json.Marshal(map[string]json.RawMessage{"attrs": m.Data.Attrs})
		if err != nil {
			return err
		}
		return s.opts.Actuator.ActuateAs(ctx, e.tenant, m.Data.ID, body, tickID(e, tick), 0)
	case dojot.CronSubjectDeviceData:
		var m dojot.CronDeviceData
		if err := json.Unmarshal(a.Message, &m); err != nil {
			return err
		}
		if _, ok := s.opts.Devices.Device(e.tenant, m.Metadata.DeviceID); !ok {
			return fmt.Errorf("no such device: %s", m.Metadata.DeviceID)
		}
		var attrs bytes.Buffer
		if err := json.Compact(&attrs, m.Attrs); err != nil {
			return err
		}
		// dojot stamped the tenant and the time it sent at.
		payload := dojot.Reading(e.tenant, m.Metadata.DeviceID, tick.UnixMilli(), attrs.Bytes())
		_, err := s.opts.Data.AppendData(ctx, e.tenant, m.Metadata.DeviceID, payload, tickID(e, tick))
		return err
	}
	return fmt.Errorf("subject %q is not performed", a.Subject)
}

// call performs the http action: 2xx succeeds, then criterion 2 wants
// sregex to match the body, criterion 3 wants fregex not to (dojot matched
// them against a field axios does not set, so 2 always failed and 3 never
// did).
func (s *Scheduler) call(ctx context.Context, e *entry) error {
	var a dojot.CronHTTPAction
	if err := json.Unmarshal(e.job.HTTP, &a); err != nil {
		return err
	}
	if err := CheckURL(a.URL, s.opts.AllowedURLs); err != nil {
		return err
	}
	var body io.Reader
	if len(a.Body) > 0 {
		body = bytes.NewReader(a.Body)
	}
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(a.Method), a.URL, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range a.Headers {
		req.Header.Set(k, v)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s answered %s", req.Method, a.URL, resp.Status)
	}
	switch a.Criterion {
	case 2:
		if re, err := regexp.Compile(a.SRegex); err != nil || !re.Match(got) {
			return fmt.Errorf("the answer does not match sregex %q (criterion 2)", a.SRegex)
		}
	case 3:
		if re, err := regexp.Compile(a.FRegex); err != nil || re.Match(got) {
			return fmt.Errorf("the answer matches fregex %q (criterion 3)", a.FRegex)
		}
	}
	return nil
}
