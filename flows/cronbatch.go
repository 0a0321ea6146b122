package flows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// cronBatchNode creates or removes several cron jobs at once (FLOWS.md
// 4.18): requests in parallel, each bounded by timeout; any failure fails
// the node. Ids come back in the order of the requests.
type cronBatchNode struct {
	create  bool
	jobs    string // CREATE: msg path to an array of job requests
	outIDs  string
	inIDs   string // REMOVE: msg path to an array of job ids
	timeout time.Duration
}

func init() { register("cron-batch", newCronBatch) }

func (*cronBatchNode) blocking() {}

func newCronBatch(s *spec) Node {
	n := &cronBatchNode{create: cronOperation(s)}
	ms := s.number("timeout", 1000)
	if !(ms > 0) {
		s.fail("Invalid timeout.")
	}
	n.timeout = time.Duration(ms * float64(time.Millisecond))
	if n.create {
		n.jobs, n.outIDs = s.required("jobs"), s.required("outJobIds")
	} else {
		n.inIDs = s.required("inJobIds")
	}
	return n
}

func (n *cronBatchNode) Process(ctx context.Context, c *Call, msg Msg) ([]Msg, error) {
	if c.Effects.Cron == nil {
		return nil, errNoEffect("cron service")
	}
	path := n.inIDs
	if n.create {
		path = n.jobs
	}
	v, err := Get(msg, path)
	if err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok {
		if n.create {
			return nil, errors.New("The input must be an array of job requests.") //nolint:staticcheck // dojot's text
		}
		return nil, errors.New("The input must be an array of job identifiers.") //nolint:staticcheck // dojot's text
	}
	jobs := make([]json.RawMessage, len(list))
	inIDs := make([]string, len(list))
	for i, item := range list { // check them all before sending any
		if n.create {
			job, err := json.Marshal(item)
			if _, isObj := item.(map[string]any); err != nil || !isObj {
				return nil, errors.New("The input must be an array of job requests.") //nolint:staticcheck // dojot's text
			}
			jobs[i] = job
			continue
		}
		id, ok := item.(string)
		if !ok || id == "" {
			return nil, errors.New("The input must be an array of job identifiers.") //nolint:staticcheck // dojot's text
		}
		inIDs[i] = id
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	requestIDs := make([]string, len(list))
	for i := range requestIDs {
		if n.create {
			requestIDs[i] = c.NextID()
		}
	}
	ids := make([]any, len(list))
	errs := make([]error, len(list))
	var wg sync.WaitGroup
	for i := range list {
		if n.create {
			wg.Go(func() {
				id, err := c.Effects.Cron.CreateJob(ctx, c.Tenant, requestIDs[i], jobs[i])
				ids[i], errs[i] = id, err
			})
		} else {
			wg.Go(func() { errs[i] = c.Effects.Cron.RemoveJob(ctx, c.Tenant, inIDs[i]) })
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("cron-batch: %w", err)
	}
	if n.create {
		if err := Set(msg, n.outIDs, ids); err != nil {
			return nil, err
		}
	}
	return []Msg{msg}, nil
}
