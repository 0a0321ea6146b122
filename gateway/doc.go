// Package gateway is the HTTP face of the platform: one chi router on one
// port serving the paths dojot clients reach through Kong (/auth, /auth/user,
// /auth/pap, /device, /template, /topic, ...). It verifies the JWT on every
// request, asks the PDP, turns requests into commands and queries, and maps
// errors to statuses in exactly one place (error.go).
package gateway
