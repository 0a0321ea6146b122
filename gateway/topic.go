package gateway

import (
	"context"
	"net/http"
	"regexp"

	"github.com/dojot-es/dojot"
)

// Topics creates Kafka topics: what GET /topic/:subject needs of Kafka.
type Topics interface {
	// EnsureTopic creates topic name if it does not exist; an existing
	// topic is no error.
	EnsureTopic(ctx context.Context, name string) error
}

var (
	// errTopic is DataBroker's answer to a topic it could not create.
	errTopic = &dojot.Error{Kind: dojot.ErrInternal, Body: map[string]string{"error": "Failed to process topic"}}
	// errNoService is DataBroker's answer to a token without a tenant.
	errNoService = &dojot.Error{Kind: dojot.ErrUnauthorized, Body: map[string]string{"error": "Missing service in GET request header"}}
	// topicName is what Kafka accepts as a topic name.
	topicName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)
)

// topic is DataBroker's GET /topic/:subject: the Kafka topic <tenant>.<subject>
// of the caller's tenant, created when Kafka is on (Options.Topics). A
// name Kafka would refuse is a 400.
func (s *Server) topic(w http.ResponseWriter, r *http.Request) error {
	id, ok := dojot.IdentityFrom(r.Context())
	if !ok || id.Tenant == "" {
		return errNoService
	}
	name := id.Tenant + "." + pathParam(r, "subject")
	if !topicName.MatchString(name) {
		// dojot asked Kafka and answered its refusal with a 500; a badly
		// spelled subject is the client's error.
		return &dojot.Error{Kind: dojot.ErrInvalid, Body: map[string]string{
			"error": "Invalid subject: a topic name is 1 to 249 letters, digits, '.', '_' or '-'",
		}}
	}
	if s.opts.Topics != nil {
		if err := s.opts.Topics.EnsureTopic(r.Context(), name); err != nil {
			s.log.ErrorContext(r.Context(), "topic creation failed", "topic", name, "err", err)
			return errTopic
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"topic": name})
	return nil
}
