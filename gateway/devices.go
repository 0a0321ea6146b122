package gateway

import "github.com/go-chi/chi/v5"

// Stubs: written with the DeviceManager vertical.
type deviceCommands interface{}
type deviceView interface{}

func (s *Server) mountDeviceManager(r chi.Router) {}
