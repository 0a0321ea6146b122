// Package console is the web console: plain ES modules, CSS and vendored
// libraries, embedded in the binary so that `go run ./cmd/dojot` serves it
// with no Node.js anywhere. It speaks only the public REST and websocket
// API, as any other client of the platform.
//
// The assets are compressed once, at start, and answered with an ETag, so
// a browser revalidates in one round trip and never downloads twice.
package console
