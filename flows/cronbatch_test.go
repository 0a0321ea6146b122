package flows

import (
	"errors"
	"testing"
)

func TestCronBatch(t *testing.T) {
	create := `{"operation":"CREATE","jobs":"jobs","outJobIds":"ids","timeout":500}`
	remove := `{"operation":"REMOVE","inJobIds":"ids"}`
	runCronCases(t, "cron-batch", map[string]cronCase{
		"create in order": {config: create, in: `{"jobs":[{"time":"* * * * *","name":"a","broker":{}},{"time":"* * * * *","name":"b","http":{}}]}`,
			out:     `{"ids":["job-a","job-b"],"jobs":[{"broker":{},"name":"a","time":"* * * * *"},{"http":{},"name":"b","time":"* * * * *"}]}`,
			created: []string{`admin 7:f1:n1:0 {"broker":{},"name":"a","time":"* * * * *"}`, `admin 7:f1:n1:1 {"http":{},"name":"b","time":"* * * * *"}`}},
		"remove": {config: remove, in: `{"ids":["x"]}`, out: `{"ids":["x"]}`, removed: []string{"admin x"}},
		"empty":  {config: remove, in: `{"ids":[]}`, out: `{"ids":[]}`},

		"default timeout": {config: `{"operation":"REMOVE","inJobIds":"ids"}`, in: `{"ids":["x","y"]}`, out: `{"ids":["x","y"]}`, removed: []string{"admin x", "admin y"}},
		"timeout string":  {config: `{"operation":"REMOVE","inJobIds":"ids","timeout":"x"}`, in: `{}`, err: "timeout must be a number"},
		"jobs missing":    {config: create, in: `{}`, err: "Unknown property jobs requested"},
		"jobs not array":  {config: create, in: `{"jobs":{}}`, err: "The input must be an array of job requests."},
		"job not object":  {config: create, in: `{"jobs":["x"]}`, err: "The input must be an array of job requests."},
		"ids not array":   {config: remove, in: `{"ids":"x"}`, err: "The input must be an array of job identifiers."},
		"id not string":   {config: remove, in: `{"ids":[1]}`, err: "The input must be an array of job identifiers."},
		"any failure":     {config: remove, in: `{"ids":["x","y"]}`, fail: errors.New("down"), err: "cron-batch: down"},
		"bad timeout":     {config: `{"operation":"REMOVE","inJobIds":"ids","timeout":0}`, in: `{}`, err: "Invalid timeout."},
		"bad operation":   {config: `{"operation":"LIST"}`, in: `{}`, err: "Invalid Operation: LIST"},
		"missing jobs":    {config: `{"operation":"CREATE","outJobIds":"o"}`, in: `{}`, err: "missing jobs"},
		"missing in ids":  {config: `{"operation":"REMOVE"}`, in: `{}`, err: "missing inJobIds"},
	})
}
