package pylontest

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"
)

// testCerts makes the TLS tests' certificates with tests/common/make-test-certs.sh (openssl)
// into a directory of the test's own.
func testCerts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	script, err := filepath.Abs("../../../common/make-test-certs.sh")
	must(t, err, "script path")
	if out, err := exec.Command("bash", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("make-test-certs.sh: %v\n%s", err, out)
	}
	return dir
}

// The official Go client over TLS: it trusts the test CA, verifies the server's certificate
// (for 127.0.0.1) and presents its own, which the server verifies; messages flow both ways.
func TestTLSMutual(t *testing.T) {
	certs := testCerts(t)
	s := startServer(t, fmt.Sprintf(`
tls {
  cert_file: %q
  key_file: %q
  ca_file: %q
  verify: true
}
`, filepath.Join(certs, "server.pem"), filepath.Join(certs, "server-key.pem"), filepath.Join(certs, "ca.pem")))
	secure := []nats.Option{
		nats.RootCAs(filepath.Join(certs, "ca.pem")),
		nats.ClientCert(filepath.Join(certs, "client.pem"), filepath.Join(certs, "client-key.pem")),
	}
	sc := s.connect(t, secure...)
	pc := s.connect(t, secure...)
	if !sc.TLSRequired() {
		t.Errorf("INFO did not say tls_required")
	}
	if _, err := sc.TLSConnectionState(); err != nil {
		t.Errorf("not a TLS connection: %v", err)
	}
	sub, err := sc.SubscribeSync("tls.go")
	must(t, err, "subscribe")
	flushAll(t, sc)
	must(t, pc.Publish("tls.go", []byte("over tls")), "publish")
	flushAll(t, pc, sc)
	if m := nextMsg(t, sub); string(m.Data) != "over tls" {
		t.Errorf("expected %q, got %q", "over tls", m.Data)
	}

	// Without a client certificate the server refuses the handshake.
	if nc, err := nats.Connect(s.url, nats.RootCAs(filepath.Join(certs, "ca.pem")), nats.NoReconnect(),
		nats.Timeout(connectTimeout)); err == nil {
		nc.Close()
		t.Errorf("connected without a client certificate")
	}
}
