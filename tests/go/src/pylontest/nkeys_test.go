package pylontest

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// logWait bounds the wait for a line in the server's log.
const logWait = 5 * time.Second

// nkeyServer starts a server with two nkey users (the first limited to nk.>) and a
// password user beside them, as `authorization { users: [...] }` holds them.
func nkeyServer(t *testing.T) (*server, nkeys.KeyPair, nkeys.KeyPair) {
	t.Helper()
	limited, err := nkeys.CreateUser()
	must(t, err, "create user")
	free, err := nkeys.CreateUser()
	must(t, err, "create user")
	lpub, _ := limited.PublicKey()
	fpub, _ := free.PublicKey()
	s := startServer(t, fmt.Sprintf(`
authorization {
  users: [
    {nkey: %q, permissions: {publish: "nk.>", subscribe: "nk.>"}}
    {nkey: %q}
    {user: alice, password: secret}
  ]
}
`, lpub, fpub))
	return s, limited, free
}

// nkeyOption is nats.Nkey signing with the key pair, as an application would.
func nkeyOption(t *testing.T, kp nkeys.KeyPair) nats.Option {
	pub, err := kp.PublicKey()
	must(t, err, "public key")
	return nats.Nkey(pub, func(nonce []byte) ([]byte, error) { return kp.Sign(nonce) })
}

func (s *server) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(logWait)
	for {
		data, _ := os.ReadFile(s.logPath)
		if strings.Contains(string(data), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("no %q in the server log within %v", want, logWait)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Users with nkeys connect by signing the nonce; their permissions hold; a password user
// beside them still works.
func TestNkeyUsers(t *testing.T) {
	s, limited, free := nkeyServer(t)
	lc := s.connect(t, nkeyOption(t, limited))
	fc := s.connect(t, nkeyOption(t, free))
	ac := s.connect(t, nats.UserInfo("alice", "secret"))

	sub, err := lc.SubscribeSync("nk.data")
	must(t, err, "subscribe")
	flushAll(t, lc)
	must(t, fc.Publish("nk.data", []byte("signed")), "publish")
	flushAll(t, fc, lc)
	if m := nextMsg(t, sub); string(m.Data) != "signed" {
		t.Errorf("expected %q, got %q", "signed", m.Data)
	}
	asub, err := ac.SubscribeSync("nk.data")
	must(t, err, "subscribe")
	flushAll(t, ac)
	must(t, lc.Publish("nk.data", []byte("from limited")), "publish")
	flushAll(t, lc, ac)
	if m := nextMsg(t, asub); string(m.Data) != "from limited" {
		t.Errorf("expected %q, got %q", "from limited", m.Data)
	}

	// The limited key's permissions: a publish outside nk.> is refused with the
	// reference's words, and the log names the nkey.
	errs := make(chan error, 4)
	pc, err := nats.Connect(s.url, nkeyOption(t, limited), nats.NoReconnect(), nats.Timeout(connectTimeout),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	must(t, err, "connect")
	defer pc.Close()
	must(t, pc.Publish("outside", []byte("x")), "publish")
	_ = pc.Flush()
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), `Permissions Violation for Publish to "outside"`) {
			t.Errorf("expected a publish permissions violation, got %v", err)
		}
	case <-time.After(msgWait):
		t.Errorf("no permissions violation within %v", msgWait)
	}
	lpub, _ := limited.PublicKey()
	s.waitLog(t, fmt.Sprintf(`Publish Violation - Nkey %q, Subject "outside"`, lpub))
}

// Each way an nkey CONNECT fails ends in -ERR 'Authorization Violation' and the
// reference's log line, and costs the other clients nothing.
func TestNkeyFailures(t *testing.T) {
	s, limited, _ := nkeyServer(t)
	bystander := s.connect(t, nkeyOption(t, limited))
	bsub, err := bystander.SubscribeSync("nk.still")
	must(t, err, "subscribe")
	flushAll(t, bystander)

	lpub, _ := limited.PublicKey()
	stranger, _ := nkeys.CreateUser()
	spub, _ := stranger.PublicKey()

	// A configured key, signed by another seed.
	_, err = nats.Connect(s.url, nats.NoReconnect(), nats.Timeout(connectTimeout),
		nats.Nkey(lpub, func(nonce []byte) ([]byte, error) { return stranger.Sign(nonce) }))
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Errorf("wrong signature: expected an authorization violation, got %v", err)
	}
	s.waitLog(t, fmt.Sprintf(`authentication error - Nkey %q`, lpub))

	// A key no user has.
	_, err = nats.Connect(s.url, nkeyOption(t, stranger), nats.NoReconnect(), nats.Timeout(connectTimeout))
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Errorf("unknown nkey: expected an authorization violation, got %v", err)
	}
	s.waitLog(t, fmt.Sprintf(`authentication error - Nkey %q`, spub))

	// No signature at all, and a signature that is no base64: raw CONNECTs, as a broken
	// client would send them.
	for _, c := range []struct{ name, sig string }{{"missing", ""}, {"not base64", `,"sig":"!!!"`}} {
		rc, info := s.rawConnect(t)
		if _, ok := info["nonce"].(string); !ok {
			t.Fatalf("INFO has no nonce: %v", info)
		}
		rc.send(fmt.Sprintf(`CONNECT {"verbose":false,"nkey":%q%s}`+"\r\nPING\r\n", lpub, c.sig))
		if l := rc.readLine(); l != "-ERR 'Authorization Violation'" {
			t.Errorf("%s signature: expected -ERR 'Authorization Violation', got %q", c.name, l)
		}
	}

	// The bystander never noticed.
	must(t, bystander.Publish("nk.still", []byte("here")), "publish")
	flushAll(t, bystander)
	if m := nextMsg(t, bsub); string(m.Data) != "here" {
		t.Errorf("expected %q, got %q", "here", m.Data)
	}
}

// The nonce: 15 characters of base64url in each INFO, different per connection, only
// when nkey users are configured; a signature in std base64 is accepted as well.
func TestNkeyNonce(t *testing.T) {
	s, limited, _ := nkeyServer(t)
	rc1, info1 := s.rawConnect(t)
	_, info2 := s.rawConnect(t)
	n1, _ := info1["nonce"].(string)
	n2, _ := info2["nonce"].(string)
	if len(n1) != 15 || len(n2) != 15 || n1 == n2 {
		t.Errorf("expected two different 15-character nonces, got %q and %q", n1, n2)
	}
	if _, err := base64.RawURLEncoding.DecodeString(n1); err != nil {
		t.Errorf("nonce %q is not base64url: %v", n1, err)
	}
	if id, _ := info1["server_id"].(string); !nkeys.IsValidPublicServerKey(id) {
		t.Errorf("server_id %q is not a server nkey", id)
	}
	sig, err := limited.Sign([]byte(n1))
	must(t, err, "sign")
	lpub, _ := limited.PublicKey()
	rc1.send(fmt.Sprintf(`CONNECT {"verbose":false,"nkey":%q,"sig":%q}`+"\r\nPING\r\n", lpub,
		base64.StdEncoding.EncodeToString(sig)))
	if l := rc1.readLine(); l != "PONG" {
		t.Errorf("std base64 signature: expected PONG, got %q", l)
	}

	plain := startServer(t, "")
	_, info := plain.rawConnect(t)
	if n, ok := info["nonce"]; ok {
		t.Errorf("a server without nkey users sent a nonce: %v", n)
	}
}

// nats.go's own seed-file option (NkeyOptionFromSeed) against the server.
func TestNkeySeedFile(t *testing.T) {
	s, _, free := nkeyServer(t)
	seed, _ := free.Seed()
	path := filepath.Join(t.TempDir(), "user.nk")
	must(t, os.WriteFile(path, append(seed, '\n'), 0o600), "write seed")
	opt, err := nats.NkeyOptionFromSeed(path)
	must(t, err, "seed option")
	nc := s.connect(t, opt)
	must(t, nc.Flush(), "flush")
}
