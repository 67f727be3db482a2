// Package pylontest holds integration tests that drive a running Pylon server
// (or, for comparison, the reference nats-server) with the official Go client
// nats.go. It is built in GOPATH mode against Debian's golang-github-nats-io-go-nats-dev;
// see tests/CMakeLists.txt (ctest "go.client").
//
// Environment:
//
//	PYLON_SERVER_BIN   path of the server binary under test (set by ctest)
//	PYLON_TEST_SERVER  "nats-server" runs the tests against /usr/sbin/nats-server instead
//	PYLON_TEST_TRACE   non-empty: start the server with -D -V (output lands in the server log)
package pylontest
