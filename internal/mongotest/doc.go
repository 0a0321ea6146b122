// Package mongotest gives tests a MongoDB server: the one named by
// DOJOT_TEST_MONGO_URL, or else a FerretDB started from tools/mongotest.
//
// No MongoDB server is packaged for our machines, and FerretDB, which speaks
// the same wire protocol, brings some seventy modules (SAP HANA, MySQL,
// OpenTelemetry, gRPC) that the product must not depend on. So FerretDB sits
// in tools/mongotest, a Go module of its own, and this package builds that
// program once per source version into the user's cache directory, starts
// it once per test process and shares it between the tests of that process.
// The server holds a pipe to the test process on its standard input and
// exits when the pipe closes, so a test binary that dies leaves nothing
// running.
//
// When no server can be had, tests skip, naming DOJOT_TEST_MONGO_URL; under
// CI=true they fail instead. With -short and no cached build, they skip
// rather than spend a minute compiling FerretDB.
//
// FerretDB v1 checks correctness only; its speed says nothing about
// MongoDB's, and it lacks parts of MongoDB (see tools/mongotest/README.md).
package mongotest
