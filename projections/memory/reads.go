package memory

import (
	"context"

	"github.com/dojot-es/dojot"
)

// Reads is the view as the gateway queries every view (Postgres and Mongo
// too): context first, an error last. The memory view never fails, so its
// errors are always nil.
type Reads struct{ v *View }

// Reads returns the gateway's read API of v.
func (v *View) Reads() Reads { return Reads{v} }

func (r Reads) TemplateJSON(_ context.Context, tenant string, id int) ([]byte, bool, error) {
	b, ok := r.v.TemplateJSON(tenant, id)
	return b, ok, nil
}

func (r Reads) ListTemplates(_ context.Context, tenant string, q dojot.TemplateQuery) ([]byte, error) {
	return r.v.ListTemplates(tenant, q), nil
}

func (r Reads) DeviceJSON(_ context.Context, tenant, id string) ([]byte, bool, error) {
	b, ok := r.v.DeviceJSON(tenant, id)
	return b, ok, nil
}

func (r Reads) ListDevices(_ context.Context, tenant string, q dojot.DeviceQuery) ([]byte, error) {
	return r.v.ListDevices(tenant, q), nil
}

func (r Reads) InternalDeviceJSON(_ context.Context, tenant, id string) ([]byte, bool, error) {
	b, ok := r.v.InternalDeviceJSON(tenant, id)
	return b, ok, nil
}

func (r Reads) ListInternalDevices(_ context.Context, tenant string, q dojot.DeviceQuery) ([]byte, error) {
	return r.v.ListInternalDevices(tenant, q), nil
}

func (r Reads) User(_ context.Context, ref string) (dojot.User, bool, error) {
	u, ok := r.v.User(ref)
	return u, ok, nil
}

func (r Reads) Users(_ context.Context, substr string) ([]dojot.User, error) {
	return r.v.Users(substr), nil
}

func (r Reads) UserGroups(_ context.Context, userID int64) ([]dojot.Group, error) {
	return r.v.UserGroups(userID), nil
}

func (r Reads) UserPermissions(_ context.Context, userID int64) ([]dojot.Permission, error) {
	return r.v.UserPermissions(userID), nil
}

func (r Reads) UserAllPermissions(_ context.Context, userID int64) ([]dojot.Permission, error) {
	return r.v.UserAllPermissions(userID), nil
}

func (r Reads) Group(_ context.Context, ref string) (dojot.Group, bool, error) {
	g, ok := r.v.Group(ref)
	return g, ok, nil
}

func (r Reads) Groups(_ context.Context, substr string) ([]dojot.Group, error) {
	return r.v.Groups(substr), nil
}

func (r Reads) GroupPermissions(_ context.Context, groupID int64) ([]dojot.Permission, error) {
	return r.v.GroupPermissions(groupID), nil
}

func (r Reads) GroupUsers(_ context.Context, groupID int64) ([]dojot.User, error) {
	return r.v.GroupUsers(groupID), nil
}

func (r Reads) Permission(_ context.Context, ref string) (dojot.Permission, bool, error) {
	p, ok := r.v.Permission(ref)
	return p, ok, nil
}

func (r Reads) Permissions(_ context.Context, path, method, permission, typ string) ([]dojot.Permission, error) {
	return r.v.Permissions(path, method, permission, typ), nil
}

func (r Reads) Tenants(context.Context) ([]string, error) { return r.v.Tenants(), nil }

func (r Reads) PDPInputs(_ context.Context, userID int64) ([]dojot.Permission, [][]dojot.Permission, bool, error) {
	direct, groups, ok := r.v.PDPInputs(userID)
	return direct, groups, ok, nil
}

func (r Reads) Flow(_ context.Context, tenant, id string) (dojot.Flow, bool, error) {
	f, ok := r.v.Flow(tenant, id)
	return f, ok, nil
}

func (r Reads) Flows(_ context.Context, tenant string) ([]dojot.Flow, error) {
	return r.v.Flows(tenant), nil
}

func (r Reads) CronJob(_ context.Context, tenant, id string) (dojot.CronJob, bool, error) {
	j, ok := r.v.CronJob(tenant, id)
	return j, ok, nil
}

func (r Reads) CronJobs(_ context.Context, tenant string) ([]dojot.CronJob, error) {
	return r.v.CronJobs(tenant), nil
}
