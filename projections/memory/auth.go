package memory

import "github.com/dojot-es/dojot"

// authState is the tenants/users/groups/permissions part of the view. (stub:
// to be written with the auth commands.)
type authState struct{}

func (a *authState) init()                      {}
func (a *authState) apply(ev dojot.Event) error { return nil }
