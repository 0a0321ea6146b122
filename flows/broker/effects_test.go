package broker

import (
	"context"
	"testing"

	"github.com/dojot-es/dojot/eventstore/eventstoretest"
	"github.com/dojot-es/dojot/flows"
	"github.com/dojot-es/dojot/flows/ftp"
)

// TestFTPEffects: publish-ftp's message is stored in the FTP stream as
// dojot's message, once per msgID (a redelivered input publishes once),
// and the ftp node gets the FTP client unless another is given.
func TestFTPEffects(t *testing.T) {
	store := eventstoretest.Open(t)
	b, err := New(Options{Store: store, View: view{}, Actuator: nopActuator{}})
	if err != nil {
		t.Fatal(err)
	}
	fx := b.effects()
	if _, ok := fx.Uploader.(*ftp.Uploader); !ok {
		t.Errorf("Uploader = %T; want *ftp.Uploader", fx.Uploader)
	}
	var f flows.FTPFile
	f.Metadata.MsgID, f.Metadata.TS, f.Metadata.Service, f.Metadata.ContentType = "42:n1:0", 1571858674000, "flowbroker", "application/vnd.dojot.ftp+json"
	f.Data.Filename, f.Data.Encoding, f.Data.Content = "a<b>.txt", "base64", "aGk="
	ctx := context.Background()
	for range 2 {
		if err := fx.FTP.PublishFTP(ctx, "admin", f); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.JetStream().Stream(ctx, store.FTPStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Fatalf("FTP stream holds %d messages, %v; want 1", info.State.Msgs, err)
	}
	m, err := st.GetMsg(ctx, info.State.LastSeq)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"metadata":{"msgID":"42:n1:0","ts":1571858674000,"service":"flowbroker","contentType":"application/vnd.dojot.ftp+json"},"data":{"filename":"a<b>.txt","encoding":"base64","content":"aGk="}}`
	if string(m.Data) != want || m.Subject != store.FTPSubject("admin") {
		t.Errorf("stored %s on %s; want %s on %s", m.Data, m.Subject, want, store.FTPSubject("admin"))
	}
	if err := fx.FTP.PublishFTP(ctx, "not a tenant", f); err == nil {
		t.Error("PublishFTP to an invalid tenant: no error")
	}
}
