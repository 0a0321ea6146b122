package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/eventstore"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParsePrecedence(t *testing.T) {
	tests := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"default":       {nil, nil, ":8000"},
		"env":           {nil, map[string]string{"DOJOT_HTTP_ADDR": ":9000"}, ":9000"},
		"flag over env": {[]string{"-http-addr=:9100"}, map[string]string{"DOJOT_HTTP_ADDR": ":9000"}, ":9100"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var c Config
			if err := c.Parse(tt.args, env(tt.env), &bytes.Buffer{}); err != nil {
				t.Fatal(err)
			}
			if c.HTTPAddr != tt.want {
				t.Errorf("HTTPAddr = %q; want %q", c.HTTPAddr, tt.want)
			}
		})
	}
}

func TestCronAllowedURLs(t *testing.T) {
	var c Config
	if err := c.Parse([]string{"-cron-http-allowed-urls= http://device-manager:5000 ,,https://api.example/v1/"}, env(nil), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if got := c.cronAllowedURLs(); len(got) != 2 || got[0] != "http://device-manager:5000" || got[1] != "https://api.example/v1/" {
		t.Errorf("cronAllowedURLs = %q", got)
	}
}

func TestParseRejects(t *testing.T) {
	tests := map[string]struct {
		args []string
		env  map[string]string
		want string // in the error
	}{
		"log level":         {[]string{"-log-level=loud"}, nil, "-log-level"},
		"ready deps":        {[]string{"-ready-deps=nats,etcd"}, nil, `-ready-deps: "etcd"`},
		"fsync":             {[]string{"-fsync=sometimes"}, nil, "-fsync"},
		"env type":          {nil, map[string]string{"DOJOT_TOKEN_TTL": "soon"}, "DOJOT_TOKEN_TTL"},
		"listen with url":   {[]string{"-nats-url=nats://x:4222", "-nats-listen=:4222"}, nil, "-nats-listen"},
		"prefix":            {[]string{"-nats-prefix=a.b"}, nil, "-nats-prefix"},
		"stray argument":    {[]string{"extra"}, nil, "unexpected argument"},
		"view":              {[]string{"-view=sqlite"}, nil, "-view"},
		"postgres url":      {nil, map[string]string{"DOJOT_VIEW": "postgres"}, "-postgres-url"},
		"mongo url":         {[]string{"-view=mongo"}, nil, "-mongo-url"},
		"replicas":          {[]string{"-nats-replicas=0"}, nil, "-nats-replicas"},
		"view name":         {[]string{"-view-name=Dojot"}, nil, "-view-name"},
		"kafka partitions":  {[]string{"-kafka-partitions=0"}, nil, "-kafka-partitions"},
		"kafka replication": {nil, map[string]string{"DOJOT_KAFKA_REPLICATION": "0"}, "-kafka-replication"},
		"kafka both":        {[]string{"-kafka-brokers=k:9092", "-kafka-embedded-addr=127.0.0.1:9092"}, nil, "-kafka-embedded-addr"},
		"mqtt broker url":   {[]string{"-mqtt-broker-url=http://b:1883"}, nil, "-mqtt-broker-url"},
		"mqtt broker group": {nil, map[string]string{"DOJOT_MQTT_BROKER_URL": "tcp://b:1883", "DOJOT_MQTT_BROKER_GROUP": "a/b"}, "-mqtt-broker-group"},
		"lorawan no token":  {[]string{"-lorawan-chirpstack-url=http://cs:8090"}, nil, "ChirpStack downlinks need its API token"},
		"lorawan tts url":   {nil, map[string]string{"DOJOT_LORAWAN_TTS_URL": "tts.example.com", "DOJOT_LORAWAN_TTS_KEY": "k"}, "not an http:// or https:// URL"},
		"lorawan everynet":  {[]string{"-lorawan-everynet-url=ws://ns:10000"}, nil, "access token"},
		"lorawan group":     {[]string{"-lorawan-tts-secret=s", "-lorawan-group=a.b"}, nil, "-lorawan-* flags: lorawan: group"},
		"http agent tls":    {[]string{"-http-agent-tls-addr=:3000"}, nil, "need -http-agent"},
		"http agent mode":   {[]string{"-http-agent", "-http-agent-cert-mode=sha1"}, nil, "-http-agent-cert-mode"},
		"amqp url":          {[]string{"-amqp-url=http://rabbit:5672"}, nil, "-amqp-url"},
		"amqp prefetch":     {[]string{"-amqp-url=amqp://rabbit:5672/", "-amqp-prefetch=0"}, nil, "-amqp-prefetch"},
		"cron base url":     {nil, map[string]string{"DOJOT_CRON_HTTP_ALLOWED_URLS": "http://dm:5000, dm:5000"}, `-cron-http-allowed-urls: "dm:5000"`},
		"cron timeout":      {[]string{"-cron-http-timeout=0s"}, nil, "-cron-http-timeout"},
		"socketio ttl":      {[]string{"-socketio-token-ttl=10ms"}, nil, "-socketio-token-ttl"},
		"socketio limit":    {nil, map[string]string{"DOJOT_SOCKETIO_MAX_PER_TENANT": "0"}, "-socketio-max-per-tenant"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var c Config
			err := c.Parse(tt.args, env(tt.env), &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse = %v; want an error naming %q", err, tt.want)
			}
		})
	}
}

func TestFsync(t *testing.T) {
	c := Config{Fsync: "always"}
	if always, _, err := c.fsync(); err != nil || !always {
		t.Errorf("fsync(always) = %v, %v", always, err)
	}
	c.Fsync = "250ms"
	if always, d, err := c.fsync(); err != nil || always || d != 250*time.Millisecond {
		t.Errorf("fsync(250ms) = %v, %v, %v", always, d, err)
	}
}

func TestHelpListsEveryVariable(t *testing.T) {
	var out bytes.Buffer
	if code := Main([]string{"serve", "--help"}, env(nil), &out, &out); code != 0 {
		t.Fatalf("serve --help exit %d", code)
	}
	for _, v := range []string{"DOJOT_HTTP_ADDR", "DOJOT_DATA_DIR", "DOJOT_NATS_URL", "DOJOT_NATS_LISTEN",
		"DOJOT_ADMIN_PASSWORD", "DOJOT_JWT_SECRET", "DOJOT_LOG_LEVEL", "DOJOT_FSYNC"} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("--help does not list %s", v)
		}
	}
}

// TestBusyPortIsOneLine: every listener is opened before anything
// starts, so a port held by another process (:1883 by another broker) is
// one line naming its flag.
func TestBusyPortIsOneLine(t *testing.T) {
	for flag, extra := range map[string][]string{
		"http-addr": nil, "internal-addr": nil, "pprof-addr": nil, "metrics-addr": nil,
		"mqtt-addr": nil, "mqtts-addr": nil, "http-agent-tls-addr": {"-http-agent"},
	} {
		t.Run(flag, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			args := append([]string{"-http-addr=127.0.0.1:0", "-mqtt-addr=127.0.0.1:0", "-mqtts-addr=127.0.0.1:0", "-data-dir=" + t.TempDir(),
				"-" + flag + "=" + l.Addr().String()}, extra...)
			var stdout, stderr bytes.Buffer
			code := Main(args, env(nil), &stdout, &stderr)
			msg := strings.TrimSpace(stderr.String())
			if code != 1 || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "-"+flag+" "+l.Addr().String()) {
				t.Errorf("exit %d, stderr = %q; want 1 and one line naming -%s", code, msg, flag)
			}
		})
	}
}

func TestDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	s, err := eventstore.Open(t.Context(), eventstore.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	code := Main([]string{"replay", "-view=memory", "-data-dir=" + dir}, env(nil), &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "-data-dir "+dir+": data dir in use") {
		t.Errorf("replay on a data dir in use: exit %d, %q; want 1 and a line naming -data-dir", code, stderr.String())
	}
}

// TestHealthURL: dojot health asks -url, else the loopback on
// -http-addr's port (DOJOT_HTTP_ADDR too, as in the image).
func TestHealthURL(t *testing.T) {
	tests := map[string]struct {
		args []string
		env  map[string]string
		want string // "" for an error
	}{
		"default":          {nil, nil, "http://127.0.0.1:8000"},
		"env":              {nil, map[string]string{"DOJOT_HTTP_ADDR": ":9000"}, "http://127.0.0.1:9000"},
		"host kept":        {[]string{"-http-addr=10.0.0.5:8000"}, nil, "http://10.0.0.5:8000"},
		"ipv6 any":         {[]string{"-http-addr=[::]:8001"}, nil, "http://127.0.0.1:8001"},
		"url":              {[]string{"-url=https://dojot.example/"}, nil, "https://dojot.example"},
		"port 0 needs url": {[]string{"-http-addr=127.0.0.1:0"}, nil, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var c Config
			if err := c.parse("health", tt.args, env(tt.env), &bytes.Buffer{}); err != nil {
				t.Fatal(err)
			}
			got, err := c.healthURL()
			if (err != nil) != (tt.want == "") || got != tt.want {
				t.Errorf("healthURL() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
