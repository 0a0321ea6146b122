package flows

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// cronNode creates or removes a job of dojot's cron service (FLOWS.md
// 4.17) through Effects.Cron, and passes the message on.
type cronNode struct {
	create      bool
	time        string
	name, desc  string
	http        bool // jobType HTTP REQUEST (else EVENT REQUEST: broker)
	action      string
	outID, inID string
}

func init() { register("cron", newCron) }

func (*cronNode) blocking() {}

func cronOperation(s *spec) bool {
	op := s.str("operation", "")
	if op != "CREATE" && op != "REMOVE" {
		s.fail("Invalid Operation: %s", op)
	}
	return op == "CREATE"
}

// checkCronTime accepts 5 fields, or 6 with seconds first (the cron
// service's own example); the cron service checks the fields themselves.
func checkCronTime(s *spec, expr string) {
	if n := len(strings.Fields(expr)); n != 5 && n != 6 {
		s.fail("cronTimeExpression %q must have 5 or 6 fields", expr)
	}
}

func newCron(s *spec) Node {
	n := &cronNode{create: cronOperation(s)}
	if n.create {
		n.time = s.required("cronTimeExpression")
		checkCronTime(s, n.time)
		n.name, n.desc = s.str("jobName", ""), s.str("jobDescription", "")
		n.http = s.oneOf("jobType", "EVENT REQUEST", "EVENT REQUEST", "HTTP REQUEST") == "HTTP REQUEST"
		n.action = s.required("jobAction")
		n.outID = s.required("outJobId")
	} else {
		n.inID = s.required("inJobId")
	}
	return n
}

// jobRequest is the cron service's POST body.
func jobRequest(time, name, desc string, http bool, action any) (json.RawMessage, error) {
	req := map[string]any{"time": time}
	if name != "" {
		req["name"] = name
	}
	if desc != "" {
		req["description"] = desc
	}
	if http {
		req["http"] = action
	} else {
		req["broker"] = action
	}
	return json.Marshal(req)
}

func (n *cronNode) Process(ctx context.Context, c *Call, msg Msg) ([]Msg, error) {
	if c.Effects.Cron == nil {
		return nil, errNoEffect("cron service")
	}
	if !n.create {
		v, err := Get(msg, n.inID)
		if err != nil {
			return nil, err
		}
		id, ok := v.(string)
		if !ok || id == "" {
			return nil, fmt.Errorf("job id at %s is not a string", n.inID)
		}
		if err := c.Effects.Cron.RemoveJob(ctx, c.Tenant, id); err != nil {
			return nil, fmt.Errorf("remove cron job %s: %w", id, err)
		}
		return []Msg{msg}, nil
	}
	v, err := Get(msg, n.action)
	if err != nil {
		return nil, err
	}
	var action any
	switch x := v.(type) {
	case string:
		if err := json.Unmarshal([]byte(x), &action); err != nil {
			return nil, fmt.Errorf("job action at %s is not JSON: %w", n.action, err)
		}
	case map[string]any:
		action = x
	default:
		return nil, fmt.Errorf("Invalid job action: %s", n.action) //nolint:staticcheck // dojot's text
	}
	req, err := jobRequest(n.time, n.name, n.desc, n.http, action)
	if err != nil {
		return nil, err
	}
	id, err := c.Effects.Cron.CreateJob(ctx, c.Tenant, c.NextID(), req)
	if err != nil {
		return nil, fmt.Errorf("create cron job: %w", err)
	}
	if err := Set(msg, n.outID, id); err != nil {
		return nil, err
	}
	return []Msg{msg}, nil
}
