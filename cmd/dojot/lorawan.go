package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"sync"

	agentlorawan "github.com/dojot-es/dojot/agents/lorawan"
	"github.com/dojot-es/dojot/eventstore"
	"github.com/dojot-es/dojot/projections/memory"
)

// loraConfig is the LoRaWAN agent's part of Config.
type loraConfig struct {
	ChirpStackSecret, ChirpStackURL, ChirpStackToken string
	TTSSecret, TTSURL, TTSKey                        string
	EverynetURL, EverynetToken                       string
	Group                                            string
}

func (c *loraConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.ChirpStackSecret, "lorawan-chirpstack-secret", "", "LoRaWAN agent: the secret ChirpStack v4's HTTP integration (JSON encoding) sends as the header 'Authorization: Bearer <secret>' to POST /lorawan/chirpstack on the gateway's port (empty: off)")
	fs.StringVar(&c.ChirpStackURL, "lorawan-chirpstack-url", "", "LoRaWAN agent: ChirpStack's REST API (chirpstack-rest-api, e.g. http://chirpstack:8090), to send actuations as downlinks (empty: none)")
	fs.StringVar(&c.ChirpStackToken, "lorawan-chirpstack-token", "", "LoRaWAN agent: the ChirpStack API token for -lorawan-chirpstack-url")
	fs.StringVar(&c.TTSSecret, "lorawan-tts-secret", "", "LoRaWAN agent: the secret a The Things Stack v3 webhook (JSON format) sends as the additional header 'Authorization: Bearer <secret>' to POST /lorawan/tts on the gateway's port (empty: off)")
	fs.StringVar(&c.TTSURL, "lorawan-tts-url", "", "LoRaWAN agent: the TTS webhook's API path, https://<host>/api/v3/as/applications/<app>/webhooks/<webhook>, to push actuations as downlinks (empty: none)")
	fs.StringVar(&c.TTSKey, "lorawan-tts-key", "", "LoRaWAN agent: a TTS API key allowed to write downlinks, for -lorawan-tts-url")
	fs.StringVar(&c.EverynetURL, "lorawan-everynet-url", "", "LoRaWAN agent: dojot's Everynet mode, the network server's websocket (ws:// or wss://, dojot's LORA_SERVER), read with ?access_token= (empty: off)")
	fs.StringVar(&c.EverynetToken, "lorawan-everynet-token", "", "LoRaWAN agent: the Everynet access token (dojot's LORA_ACCESS_TOKEN)")
	fs.StringVar(&c.Group, "lorawan-group", "dojot", "LoRaWAN agent: this deployment's instances, which send each actuation once (letters, digits, _ and -)")
}

func (c *loraConfig) options() agentlorawan.Options {
	return agentlorawan.Options{
		ChirpStackSecret: c.ChirpStackSecret, ChirpStackURL: c.ChirpStackURL, ChirpStackToken: c.ChirpStackToken,
		TTSSecret: c.TTSSecret, TTSURL: c.TTSURL, TTSKey: c.TTSKey,
		EverynetURL: c.EverynetURL, EverynetToken: c.EverynetToken, Group: c.Group,
	}
}

func (c *loraConfig) validate() []error {
	if o := c.options(); o.Enabled() {
		if err := o.Validate(); err != nil {
			return []error{fmt.Errorf("-lorawan-* flags: %w", err)}
		}
	}
	return nil
}

// startLoRaWAN runs the LoRaWAN agent when any of its network servers is
// configured (nil otherwise): its webhooks go on the gateway's port
// (Routes), its Everynet client and its actuations run under wg until ctx
// is done.
func startLoRaWAN(ctx context.Context, cfg *Config, store *eventstore.Store, view *memory.View, log *slog.Logger, wg *sync.WaitGroup) (*agentlorawan.Agent, error) {
	opts := cfg.LoRaWAN.options()
	if !opts.Enabled() {
		return nil, nil
	}
	opts.Store, opts.Devices, opts.Timeout, opts.Logger = store, view, cfg.WaitTimeout, log
	a, err := agentlorawan.New(opts)
	if err != nil {
		return nil, err
	}
	goRun(ctx, wg, log, a.Run, "lorawan: stopped")
	goRun(ctx, wg, log, func(ctx context.Context) error { return a.FollowActuations(ctx, store) }, "lorawan: following actuations stopped")
	return a, nil
}
