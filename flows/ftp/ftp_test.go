package ftp_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot/flows"
	"github.com/dojot-es/dojot/flows/ftp"
	"github.com/dojot-es/dojot/flows/ftp/ftptest"
)

// server is ftptest.Server.
func server(t *testing.T) (string, string) { return ftptest.Server(t) }

func TestUpload(t *testing.T) {
	url, dir := server(t)
	up := &ftp.Uploader{}
	content := []byte("a,b\n1,2\n\x00\xff")
	if err := up.Upload(t.Context(), flows.FTPUpload{URL: url, Username: "dojot", Password: "dojot", Filename: "report.csv", Content: content}); err != nil {
		t.Fatal(err)
	}
	if dir != "" {
		got, err := os.ReadFile(filepath.Join(dir, "report.csv"))
		if err != nil || string(got) != string(content) {
			t.Errorf("stored %q, %v; want %q", got, err, content)
		}
	}
	if testing.Short() {
		return // pyftpdlib answers a bad password after 3 s
	}
	err := up.Upload(t.Context(), flows.FTPUpload{URL: url, Username: "dojot", Password: "wrong", Filename: "x", Content: content})
	if err == nil || !strings.Contains(err.Error(), "ftp PASS") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("bad password: %v; want an ftp PASS error without the password", err)
	}
}

// TestFTPNode: the ftp node of a flow, with this Uploader as its effect.
func TestFTPNode(t *testing.T) {
	url, dir := server(t)
	g, err := flows.Parse([]json.RawMessage{
		json.RawMessage(`{"id":"h","type":"event device in","device_id":"d1","event_publish":true,"wires":[["f"]]}`),
		json.RawMessage(`{"id":"f","type":"ftp","method":"PUT","url":"` + url + `","username":"dojot","password":"dojot","filename":"payload.data.attrs.name","filecontent":"payload.data.attrs.content","fileencoding":"base64","response":"r","wires":[]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	eng := flows.New(flows.Options{Effects: flows.Effects{Uploader: &ftp.Uploader{}}, NodeTimeout: 10 * time.Second})
	in := flows.Input{Seq: 1, Tenant: "admin", Event: "publish", DeviceID: "d1", Payload: flows.Msg{"event": "publish",
		"metadata": map[string]any{"tenant": "admin"}, "data": map[string]any{"id": "d1", "attrs": map[string]any{"name": "hi.txt", "content": "aGVsbG8="}}}}
	res, err := eng.Run(context.Background(), flows.Flow{ID: "f", Enabled: true, Graph: g}, in)
	if err != nil || res.Failed != 0 || res.Executed != 1 {
		t.Fatalf("Run = %+v, %v; stats %+v", res, err, eng.Stats("f"))
	}
	if dir != "" {
		if got, err := os.ReadFile(filepath.Join(dir, "hi.txt")); err != nil || string(got) != "hello" {
			t.Errorf("stored %q, %v", got, err)
		}
	}
}
