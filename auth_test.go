package dojot_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dojot-es/dojot"
)

// Each auth event type starts with the kind of the aggregate it is stored
// under, so a view routes it by Kind alone.
func TestAuthEventTypes(t *testing.T) {
	kinds := map[string][]string{
		dojot.KindTenant: {dojot.EventTenantCreated, dojot.EventTenantDeleted},
		dojot.KindUser: {dojot.EventUserCreated, dojot.EventUserUpdated, dojot.EventUserDeleted, dojot.EventUserPasswordChanged,
			dojot.EventUserGroupAdded, dojot.EventUserGroupRemoved, dojot.EventUserPermissionAdded, dojot.EventUserPermissionRemoved},
		dojot.KindGroup:      {dojot.EventGroupCreated, dojot.EventGroupUpdated, dojot.EventGroupDeleted, dojot.EventGroupPermissionAdded, dojot.EventGroupPermissionRemoved},
		dojot.KindPermission: {dojot.EventPermissionCreated, dojot.EventPermissionUpdated, dojot.EventPermissionDeleted},
	}
	for kind, types := range kinds {
		for _, typ := range types {
			if !strings.HasPrefix(typ, kind+".") {
				t.Errorf("event type %q is not of kind %q", typ, kind)
			}
		}
	}
}

// Payloads embed the aggregate flat, so a stored event reads as the row it
// makes.
func TestUserCreatedJSON(t *testing.T) {
	at := time.Date(2018, 1, 3, 12, 49, 25, 717374000, time.UTC)
	ev, err := dojot.NewEvent(dojot.EventUserCreated, dojot.ManagementTenant, dojot.KindUser, "bob", at, dojot.UserCreated{
		User: dojot.User{ID: 2, Username: "bob", Service: "acme", CreatedDate: at, CreatedBy: 1}, Hash: "$2a$", Key: "k", Groups: []int64{2},
	})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(ev.Data, &m); err != nil {
		t.Fatal(err)
	}
	if m["id"] != 2.0 || m["username"] != "bob" || m["hash"] != "$2a$" || m["created_date"] != "2018-01-03T12:49:25.717374Z" {
		t.Errorf("user.created data = %s", ev.Data)
	}
	if got := ev.Subject(); got != "evt.dojot-management.user.bob" {
		t.Errorf("subject = %q", got)
	}
	var back dojot.UserCreated
	if err := ev.Decode(&back); err != nil || back.ID != 2 || back.Groups[0] != 2 || !back.CreatedDate.Equal(at) {
		t.Errorf("decode = %+v, %v", back, err)
	}
}
