// Package flows is dojot's Flowbroker engine: it parses node-RED flows,
// runs them on device events and performs their side effects through
// interfaces the caller provides.
package flows
