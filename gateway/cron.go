package gateway

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/dojot-es/dojot"
	"github.com/dojot-es/dojot/commands"
)

// cronCommands are the cron service's writes (commands.Cron).
type cronCommands interface {
	Create(ctx context.Context, tenant, requestID string, body []byte) (string, error)
	Put(ctx context.Context, tenant, id string, body []byte) (created bool, err error)
	Delete(ctx context.Context, tenant, id string) error
	DeleteAll(ctx context.Context, tenant string) error
}

// cronView is where cron jobs are read (every view).
type cronView interface {
	CronJob(ctx context.Context, tenant, id string) (dojot.CronJob, bool, error)
	CronJobs(ctx context.Context, tenant string) ([]dojot.CronJob, error)
}

// mountCron serves dojot's cron service API at its path, behind the PEP.
// dojot's auth seeds no permission for /cron (only all_all, the admin
// group's, covers it), as its Kong exposed no cron route to users.
func (s *Server) mountCron(r chi.Router) {
	r = r.With(jsonType(jsonExpress)) // the cron service is an Express app (@dojot/microservice-sdk)
	r.Method(http.MethodPost, "/cron/v1/jobs", tenantHandler(s.createCronJob))
	r.Method(http.MethodGet, "/cron/v1/jobs", tenantHandler(s.listCronJobs))
	r.Method(http.MethodDelete, "/cron/v1/jobs", tenantHandler(s.deleteCronJobs))
	r.Method(http.MethodGet, "/cron/v1/jobs/{id}", tenantHandler(s.getCronJob))
	r.Method(http.MethodPut, "/cron/v1/jobs/{id}", tenantHandler(s.putCronJob))
	r.Method(http.MethodDelete, "/cron/v1/jobs/{id}", tenantHandler(s.deleteCronJob))
}

// cronSpec is a job's spec as the cron service answers it, its keys in
// dojot's order.
type cronSpec struct {
	Time        string          `json:"time"`
	Timezone    string          `json:"timezone"`
	Name        string          `json:"name,omitempty"`
	Description string          `json:"description,omitempty"`
	HTTP        json.RawMessage `json:"http,omitempty"`
	Broker      json.RawMessage `json:"broker,omitempty"`
}

type cronJobAnswer struct {
	JobID string   `json:"jobId"`
	Spec  cronSpec `json:"spec"`
}

func cronAnswer(j dojot.CronJob) cronJobAnswer {
	return cronJobAnswer{JobID: j.ID, Spec: cronSpec{Time: j.Time, Timezone: j.Timezone, Name: j.Name, Description: j.Description, HTTP: j.HTTP, Broker: j.Broker}}
}

type cronSuccess struct {
	Status string `json:"status"`
	JobID  string `json:"jobId"`
}

func (s *Server) createCronJob(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := flowBody(r) // Express's json parser, as the flowbroker's
	if err != nil {
		return err
	}
	id, err := s.opts.CronCommands.Create(r.Context(), tenant, "", body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, cronSuccess{"success", id})
	return nil
}

// putCronJob replaces a job or creates it with the given id: 200 or 201.
// (dojot's code answered the id as "jId", against its apib's "jobId".)
func (s *Server) putCronJob(w http.ResponseWriter, r *http.Request, tenant string) error {
	body, err := flowBody(r)
	if err != nil {
		return err
	}
	id := pathParam(r, "id")
	created, err := s.opts.CronCommands.Put(r.Context(), tenant, id, body)
	if err != nil {
		return err
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, cronSuccess{"success", id})
	return nil
}

func (s *Server) listCronJobs(w http.ResponseWriter, r *http.Request, tenant string) error {
	jobs, err := s.opts.CronView.CronJobs(r.Context(), tenant)
	if err != nil {
		return err
	}
	out := make([]cronJobAnswer, len(jobs))
	for i, j := range jobs {
		out[i] = cronAnswer(j)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getCronJob(w http.ResponseWriter, r *http.Request, tenant string) error {
	j, ok, err := s.opts.CronView.CronJob(r.Context(), tenant, pathParam(r, "id"))
	if err != nil {
		return err
	}
	if !ok {
		return commands.CronNotFound()
	}
	writeJSON(w, http.StatusOK, cronAnswer(j))
	return nil
}

func (s *Server) deleteCronJob(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := s.opts.CronCommands.Delete(r.Context(), tenant, pathParam(r, "id")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (s *Server) deleteCronJobs(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := s.opts.CronCommands.DeleteAll(r.Context(), tenant); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// noContent is Express's res.status(204).send(): no body, no Content-Type.
func noContent(w http.ResponseWriter) {
	w.Header().Del("Content-Type")
	w.WriteHeader(http.StatusNoContent)
}
