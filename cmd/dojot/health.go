package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// health is `dojot health`: it asks a running instance's GET /readyz and
// returns nil when it answers 200, else an error saying why in one line.
// The distroless image has no shell or curl, so its container healthcheck
// runs this.
func health(ctx context.Context, cfg *Config) error {
	base, err := cfg.healthURL()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.HealthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		return fmt.Errorf("-url %s: %w", base, err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode == http.StatusOK {
		return nil
	}
	var st struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if json.Unmarshal(body, &st) != nil || st.Status == "" {
		return fmt.Errorf("GET %s/readyz: %s", base, res.Status)
	}
	return fmt.Errorf("%s: %s", st.Status, strings.ReplaceAll(st.Error, "\n", " "))
}

// healthURL is -url, else http://127.0.0.1 on -http-addr's port (the
// instance in the same container or host).
func (c *Config) healthURL() (string, error) {
	if c.HealthURL != "" {
		return strings.TrimSuffix(c.HealthURL, "/"), nil
	}
	host, port, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil || port == "0" || port == "" {
		return "", errors.New("-http-addr " + c.HTTPAddr + " names no port to ask: give -url")
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}
