package flows

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dojot-es/dojot/e2e/dojottest"
	"github.com/dojot-es/dojot/flows/ftp/ftptest"
)

// TestFlowsFTPNode: a flow's ftp node uploads a file made from a reading
// to a real FTP server (Debian's pyftpdlib): the name and content the
// flow computed, in the encoding it names.
func TestFlowsFTPNode(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	url, dir := ftptest.Server(t)
	if dir == "" {
		t.Skip("DOJOT_TEST_FTP_URL names a server whose files this test cannot read")
	}
	addr := dojottest.FreeAddr(t)
	in := dojottest.Start(t, "", "-nats-listen="+addr)
	c := in.Login("admin", dojottest.AdminPassword)
	id := dojottest.CreateDevice(c, "logger", dojottest.CreateTemplate(c, "Loggers"))
	c.Must(200, "POST", "/flows/v1/flow", fmt.Sprintf(`{"name":"to ftp","flow":[{"id":"t","type":"tab"},`+
		`{"id":"h","type":"event device in","z":"t","device_id":%q,"event_publish":true,"wires":[["m"]]},`+
		`{"id":"m","type":"template","z":"t","field":"content","fieldType":"msg","syntax":"mustache","template":"temperature={{payload.data.attrs.temperature}}","output":"str","wires":[["n"]]},`+
		`{"id":"n","type":"change","z":"t","rules":[{"t":"set","p":"name","pt":"msg","to":"reading-%s.txt","tot":"str"}],"wires":[["f"]]},`+
		`{"id":"f","type":"ftp","z":"t","method":"PUT","url":%q,"username":"dojot","password":"dojot","filename":"name","filecontent":"content","fileencoding":"utf8","response":"r","wires":[]}]}`,
		id, id, url))

	js := dojottest.JetStream(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := fmt.Sprintf(`{"metadata":{"deviceid":%q,"tenant":"admin","timestamp":%d},"attrs":{"temperature":21.5}}`, id, time.Now().UnixMilli())
	if _, err := js.Publish(ctx, "data.admin."+id, []byte(r)); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "reading-"+id+".txt")
	for {
		b, err := os.ReadFile(file)
		if err == nil && len(b) > 0 {
			if string(b) != "temperature=21.5" {
				t.Errorf("uploaded %q; want temperature=21.5", b)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no file %s on the FTP server: %v", file, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
