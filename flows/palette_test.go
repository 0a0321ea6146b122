package flows

import (
	"reflect"
	"testing"
)

func TestPalette(t *testing.T) {
	var ids []string
	for _, n := range Palette() {
		ids = append(ids, n.ID)
		if n.Types[0] != n.Name || !n.Enabled || !n.Local || n.Module != "dojot" || n.Version != "1.0.0" {
			t.Errorf("%+v", n)
		}
	}
	// dojot's ids (getMetadata of each node), email and remote nodes excepted
	want := []string{"dojot/actuate", "dojot/change", "dojot/cron", "dojot/cron-batch", "dojot/cumulative-sum", "dojot/device-in",
		"dojot/device-out", "dojot/device-template-in", "dojot/event-device-in", "dojot/event-template-in", "dojot/ftp",
		"dojot/geofence", "dojot/get-context", "dojot/http", "dojot/merge-data", "dojot/multi-actuate", "dojot/multi-device-out",
		"dojot/notification", "dojot/publish-ftp", "dojot/switch", "dojot/template"}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("ids %v\nwant %v", ids, want)
	}
}
