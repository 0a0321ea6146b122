package bench

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/dojot-es/dojot/agents/lorawan/lorawantest"
	"github.com/dojot-es/dojot/e2e/dojottest"
)

// BenchmarkLoRaWANUplink: network servers' callbacks into DATA through the
// binary (embedded NATS), 16 clients each with one request in flight, one
// reading per request, each answered once stored. The baseline of the same
// run is the Sigfox callback (POST /sigfox, the simplest callback agent:
// a small JSON body, one device). Then the LoRaWAN webhooks with the
// documented messages (lorawantest): ChirpStack's "up" event (2 KB; the
// hex decoder), the same with the DecentLab decoder, and TTS's uplink
// message (its decoded_payload).
//
//	go test -run '^$' -bench LoRaWANUplink -benchtime 10000x ./bench/
func BenchmarkLoRaWANUplink(b *testing.B) {
	in := dojottest.Start(b, "", "-sigfox-secret=sfx", "-lorawan-chirpstack-secret=cs", "-lorawan-tts-secret=tts")
	c := in.Login("admin", dojottest.AdminPassword)
	device := func(label string, attrs ...map[string]any) {
		var tp struct{ Template struct{ ID int } }
		dojottest.MustJSON(b, c.Must(200, "POST", "/template", map[string]any{"label": label, "attrs": attrs}), &tp)
		c.Must(200, "POST", "/device", map[string]any{"label": label, "templates": []int{tp.Template.ID}})
	}
	static := func(label, value string) map[string]any {
		return map[string]any{"label": label, "type": "static", "value_type": "string", "static_value": value}
	}
	device("sigfox", static("device", "4D5E"))
	device("chirpstack", static("dev_eui", "0101010101010101"))
	device("decentlab", static("dev_eui", "70b3d57ba0000001"), static("lora_decoder", "decentlab"))
	device("tts", static("dev_eui", "0004A30B001C0530"))

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	post := func(path, secret string, body []byte) error {
		req, _ := http.NewRequest(http.MethodPost, in.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		// Read to the end, so the connection is reused.
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("POST %s: %d", path, resp.StatusCode)
		}
		return nil
	}
	sigfox := []byte(`{"device":"4D5E","timestamp":1528226137,"data":"0a1b2c","station_lat":-22.8,"station_lng":-47.06}`)
	decentlab := bytes.Replace([]byte(lorawantest.ChirpStackUp), []byte(`"devEui": "0101010101010101"`), []byte(`"devEui": "70b3d57ba0000001"`), 1)
	decentlab = bytes.Replace(decentlab, []byte(`"data": "qg=="`), []byte(`"data": "AgEvAAME0gABC7E="`), 1)
	for _, p := range []struct {
		name, path, secret string
		body               []byte
	}{
		{"sigfox", "/sigfox", "sfx", sigfox},
		{"chirpstack-hex", "/lorawan/chirpstack?event=up", "cs", []byte(lorawantest.ChirpStackUp)},
		{"chirpstack-decentlab", "/lorawan/chirpstack?event=up", "cs", decentlab},
		{"tts-decoded", "/lorawan/tts", "tts", []byte(lorawantest.TTSUplink)},
		{"sigfox-again", "/sigfox", "sfx", sigfox},
	} {
		b.Run(p.name, func(b *testing.B) {
			report(b, 1, func(int, int) error { return post(p.path, p.secret, p.body) })
		})
	}
}
