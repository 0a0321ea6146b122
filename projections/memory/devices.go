package memory

import "github.com/dojot-es/dojot"

// deviceManager is the templates-and-devices part of the view. (stub: to be
// written with the DeviceManager commands.)
type deviceManager struct{}

func (d *deviceManager) init()                      {}
func (d *deviceManager) apply(ev dojot.Event) error { return nil }
