package flows

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeCron answers job ids from the job's name and can fail.
type fakeCron struct {
	mu      sync.Mutex
	created []string
	removed []string
	fail    error
}

func (f *fakeCron) CreateJob(_ context.Context, tenant, requestID string, job json.RawMessage) (string, error) {
	if f.fail != nil {
		return "", f.fail
	}
	var j struct{ Name string }
	json.Unmarshal(job, &j)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, tenant+" "+requestID+" "+string(job))
	return "job-" + j.Name, nil
}

func (f *fakeCron) RemoveJob(_ context.Context, tenant, id string) error {
	if f.fail != nil {
		return f.fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.removed = append(f.removed, tenant+" "+id)
	return nil
}

type cronCase struct {
	config, in string
	out        string // message out
	created    []string
	removed    []string
	fail       error
	err        string
}

func runCronCases(t *testing.T, typ string, cases map[string]cronCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			n, err := buildNode(t, typ, tc.config)
			fake := &fakeCron{fail: tc.fail}
			var out []Msg
			if err == nil {
				c := testCall(NewRecorder(), "n1", typ)
				c.Effects.Cron = fake
				out, err = n.Process(t.Context(), c, msgOf(t, tc.in))
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := encodeAll(out); got != tc.out {
				t.Errorf("out  %s\nwant %s", got, tc.out)
			}
			slices.Sort(fake.created) // cron-batch sends in parallel
			slices.Sort(fake.removed)
			if strings.Join(fake.created, "\n") != strings.Join(tc.created, "\n") || strings.Join(fake.removed, "\n") != strings.Join(tc.removed, "\n") {
				t.Errorf("created %q removed %q; want %q %q", fake.created, fake.removed, tc.created, tc.removed)
			}
		})
	}
}

func TestCron(t *testing.T) {
	// FLOWS.md 4.17's broker action
	action := `{"message":{"data":{"attrs":{"on":true},"id":"6a1213"},"event":"configure","meta":{"service":"admin"}},"subject":"dojot.device-manager.device"}`
	create := func(jobType string) string {
		return `{"operation":"CREATE","cronTimeExpression":"0 */5 * * * *","jobName":"j1","jobDescription":"d","jobType":"` + jobType + `","jobAction":"job","outJobId":"out.id"}`
	}
	runCronCases(t, "cron", map[string]cronCase{
		"create broker from string": {config: create("EVENT REQUEST"), in: `{"job":` + jsonStringify(action) + `}`,
			out:     `{"job":` + jsonStringify(action) + `,"out":{"id":"job-j1"}}`,
			created: []string{`admin 7:f1:n1:0 {"broker":` + action + `,"description":"d","name":"j1","time":"0 */5 * * * *"}`}},
		"create http from object": {config: create("HTTP REQUEST"), in: `{"job":{"method":"GET","url":"http://x"}}`,
			out:     `{"job":{"method":"GET","url":"http://x"},"out":{"id":"job-j1"}}`,
			created: []string{`admin 7:f1:n1:0 {"description":"d","http":{"method":"GET","url":"http://x"},"name":"j1","time":"0 */5 * * * *"}`}},
		"remove": {config: `{"operation":"REMOVE","inJobId":"id"}`, in: `{"id":"abc"}`, out: `{"id":"abc"}`, removed: []string{"admin abc"}},

		"job type default broker": {config: `{"operation":"CREATE","cronTimeExpression":"*/5 * * * *","jobAction":"job","outJobId":"id"}`, in: `{"job":{"subject":"s"}}`,
			out:     `{"id":"job-","job":{"subject":"s"}}`,
			created: []string{`admin 7:f1:n1:0 {"broker":{"subject":"s"},"time":"*/5 * * * *"}`}},
		"action null":       {config: create("EVENT REQUEST"), in: `{"job":null}`, err: "Invalid job action: job"},
		"remove id number":  {config: `{"operation":"REMOVE","inJobId":"id"}`, in: `{"id":5}`, err: "job id at id is not a string"},
		"no time":           {config: `{"operation":"CREATE","jobAction":"a","outJobId":"o"}`, in: `{}`, err: "missing cronTimeExpression"},
		"no action":         {config: `{"operation":"CREATE","cronTimeExpression":"* * * * *","outJobId":"o"}`, in: `{}`, err: "missing jobAction"},
		"no operation":      {config: `{}`, in: `{}`, err: "Invalid Operation: "},
		"action number":     {config: create("EVENT REQUEST"), in: `{"job":5}`, err: "Invalid job action: job"},
		"action not JSON":   {config: create("EVENT REQUEST"), in: `{"job":"{"}`, err: "job action at job is not JSON"},
		"action missing":    {config: create("EVENT REQUEST"), in: `{}`, err: "Unknown property job requested"},
		"service fails":     {config: create("EVENT REQUEST"), in: `{"job":{}}`, fail: errors.New("boom"), err: "create cron job: boom"},
		"remove id missing": {config: `{"operation":"REMOVE","inJobId":"id"}`, in: `{}`, err: "Unknown property id requested"},
		"remove fails":      {config: `{"operation":"REMOVE","inJobId":"id"}`, in: `{"id":"x"}`, fail: errors.New("gone"), err: "remove cron job x: gone"},
		"bad operation":     {config: `{"operation":"UPDATE"}`, in: `{}`, err: "Invalid Operation: UPDATE"},
		"bad time":          {config: `{"operation":"CREATE","cronTimeExpression":"* *","jobAction":"a","outJobId":"o"}`, in: `{}`, err: `cronTimeExpression "* *" must have 5 or 6 fields`},
		"bad job type":      {config: `{"operation":"CREATE","cronTimeExpression":"* * * * *","jobType":"MAIL","jobAction":"a","outJobId":"o"}`, in: `{}`, err: `jobType "MAIL"`},
		"no out id":         {config: `{"operation":"CREATE","cronTimeExpression":"* * * * *","jobAction":"a"}`, in: `{}`, err: "missing outJobId"},
		"no in id":          {config: `{"operation":"REMOVE"}`, in: `{}`, err: "missing inJobId"},
	})
}
