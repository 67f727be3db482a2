package pylontest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

const (
	natsServerBin  = "/usr/sbin/nats-server"
	startTimeout   = 10 * time.Second
	stopTimeout    = 10 * time.Second
	msgWait        = 5 * time.Second // upper bound for one expected message
	bulkWait       = 30 * time.Second
	connectTimeout = 5 * time.Second
)

// server is one server process started for one test.
type server struct {
	t       *testing.T
	bin     string
	cmd     *exec.Cmd
	port    int
	url     string
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done is closed
}

// serverBinary picks the binary under test from the environment.
func serverBinary(t *testing.T) string {
	t.Helper()
	if os.Getenv("PYLON_TEST_SERVER") == "nats-server" {
		return natsServerBin
	}
	bin := os.Getenv("PYLON_SERVER_BIN")
	if bin == "" {
		t.Fatalf("PYLON_SERVER_BIN is not set (or set PYLON_TEST_SERVER=nats-server to test the reference server)")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("server binary %q: %v", bin, err)
	}
	return bin
}

// freePort leases a loopback TCP port for the test, by the rule every harness in tests/
// follows (tests/common/test_ports.h): a random port below the kernel's ephemeral range,
// leased by holding a UDP socket bound to the same number until the test ends, so no
// other test and no outgoing connection can be given it before the server binds it.
func freePort(t *testing.T) int {
	t.Helper()
	lo, hi := leasePortRange()
	for attempt := 0; attempt < 2000; attempt++ {
		port := lo + portRand.Intn(hi-lo+1)
		lease, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil { // leased by another test
			continue
		}
		probe, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil { // something outside the tests uses it
			lease.Close()
			continue
		}
		probe.Close()
		t.Cleanup(func() { lease.Close() })
		return port
	}
	t.Fatalf("free port: none left in %d-%d", lo, hi)
	return 0
}

// portRand is seeded per process (Go 1.19's global source starts the same in every one).
var portRand = rand.New(rand.NewSource(time.Now().UnixNano() ^ int64(os.Getpid())<<20))

// lastBadPort: ports above it are on no "bad port" list (fetch() in Node and browsers
// refuses those; 10080 is the highest).
const lastBadPort = 10080

// leasePortRange is the range freePort picks from: above lastBadPort and below the
// ephemeral range, or above the ephemeral range when too little room is left below.
func leasePortRange() (int, int) {
	lo, hi := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			lo, _ = strconv.Atoi(f[0])
			hi, _ = strconv.Atoi(f[1])
		}
	}
	if lo-(lastBadPort+1) >= 4000 {
		return lastBadPort + 1, lo - 1
	}
	return hi + 1, 65535
}

// startServer starts the server under test on a free loopback port. config, when
// non-empty, is written to a temporary file and passed with -c. The server is
// stopped (SIGTERM, then SIGKILL after stopTimeout) when the test ends; its output
// is printed when the test failed.
func startServer(t *testing.T, config string) *server {
	t.Helper()
	bin := serverBinary(t)
	dir := t.TempDir()
	s := &server{t: t, bin: bin, logPath: filepath.Join(dir, "server.log"), done: make(chan struct{})}

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // the free port can be stolen between probe and bind
		s.port = freePort(t)
		args := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(s.port)}
		if config != "" {
			cfg := filepath.Join(dir, "server.conf")
			if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
				t.Fatalf("write config: %v", err)
			}
			args = append(args, "-c", cfg)
		}
		if os.Getenv("PYLON_TEST_TRACE") != "" {
			args = append(args, "-D", "-V")
		}
		var retry bool
		if lastErr, retry = s.launch(args); lastErr == nil || !retry {
			break
		}
	}
	if lastErr != nil {
		s.dumpLog()
		t.Fatalf("server did not start: %v", lastErr)
	}
	s.url = fmt.Sprintf("nats://127.0.0.1:%d", s.port)
	t.Cleanup(s.stop)
	return s
}

// launch starts the process and waits until its port accepts connections. retry
// reports an early exit (possibly a lost race for the port).
func (s *server) launch(args []string) (err error, retry bool) {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err, false
	}
	fmt.Fprintf(logf, "=== %s %s\n", s.bin, strings.Join(args, " "))
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err, false
	}
	done := make(chan struct{})
	s.cmd, s.done = cmd, done
	go func() {
		s.waitErr = cmd.Wait()
		logf.Close()
		close(done)
	}()

	deadline := time.Now().Add(startTimeout)
	addr := fmt.Sprintf("127.0.0.1:%d", s.port)
	for {
		select {
		case <-done:
			return fmt.Errorf("server exited before accepting connections: %v", s.waitErr), true
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil, false
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("port %d not accepting connections after %v: %v", s.port, startTimeout, err), false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// stop terminates the server. A server that died during the test is a failure.
func (s *server) stop() {
	t := s.t
	select {
	case <-s.done:
		t.Errorf("server exited during the test: %v", s.waitErr)
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(stopTimeout):
			t.Errorf("server did not exit within %v of SIGTERM; killing it", stopTimeout)
			s.kill()
		}
	}
	if t.Failed() {
		s.dumpLog()
	}
}

func (s *server) dumpLog() {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		s.t.Logf("server log %s: %v", s.logPath, err)
		return
	}
	const max = 64 << 10
	if len(data) > max {
		data = append([]byte("...(truncated)...\n"), data[len(data)-max:]...)
	}
	s.t.Logf("----- server output (%s) -----\n%s----- end of server output -----", s.bin, data)
}

// connect opens a client connection that fails the test on asynchronous errors
// (slow consumer, drain timeout, -ERR from the server). It is closed at test end.
func (s *server) connect(t *testing.T, opts ...nats.Option) *nats.Conn {
	t.Helper()
	var mu sync.Mutex
	var asyncErrs []string
	base := []nats.Option{
		nats.Timeout(connectTimeout),
		nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			mu.Lock()
			defer mu.Unlock()
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			asyncErrs = append(asyncErrs, fmt.Sprintf("async error (sub %q): %v", subj, err))
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			asyncErrs = append(asyncErrs, fmt.Sprintf("disconnected: %v", err))
		}),
	}
	nc, err := nats.Connect(s.url, append(base, opts...)...)
	if err != nil {
		t.Fatalf("connect %s: %v", s.url, err)
	}
	t.Cleanup(func() {
		if err := nc.LastError(); err != nil {
			t.Errorf("connection last error: %v", err)
		}
		nc.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, e := range asyncErrs {
			t.Errorf("connection %s", e)
		}
	})
	return nc
}

// ---- small helpers ---------------------------------------------------------

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// nextMsg waits up to msgWait for the next message of a synchronous subscription.
func nextMsg(t *testing.T, sub *nats.Subscription) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(msgWait)
	if err != nil {
		t.Fatalf("subscription %q: expected a message within %v, got error: %v", sub.Subject, msgWait, err)
	}
	return m
}

// flushAll makes sure every connection's preceding traffic has been processed by the
// server, in order: publishers first, then subscribers (so that everything the server
// routed to a subscriber precedes that subscriber's PONG).
func flushAll(t *testing.T, conns ...*nats.Conn) {
	t.Helper()
	for i, nc := range conns {
		if err := nc.FlushTimeout(msgWait); err != nil {
			t.Fatalf("flush connection #%d: %v", i, err)
		}
	}
}

// ---- raw protocol helpers (for checks the Go client hides) ----------------

type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (s *server) rawConnect(t *testing.T) (*rawConn, map[string]interface{}) {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), connectTimeout)
	if err != nil {
		t.Fatalf("raw dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawConn{t: t, c: c, br: bufio.NewReader(c)}
	line := rc.readLine()
	if !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("raw: expected INFO as first line, got %q", line)
	}
	info := map[string]interface{}{}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "INFO ")), &info); err != nil {
		t.Fatalf("raw: INFO is not JSON: %v (%q)", err, line)
	}
	return rc, info
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	_ = rc.c.SetWriteDeadline(time.Now().Add(msgWait))
	if _, err := rc.c.Write([]byte(s)); err != nil {
		rc.t.Fatalf("raw write: %v", err)
	}
}

// readLine returns the next protocol line without CRLF; io errors (incl. EOF) are fatal.
func (rc *rawConn) readLine() string {
	rc.t.Helper()
	l, err := rc.tryReadLine()
	if err != nil {
		rc.t.Fatalf("raw read: %v", err)
	}
	return l
}

func (rc *rawConn) tryReadLine() (string, error) {
	_ = rc.c.SetReadDeadline(time.Now().Add(msgWait))
	l, err := rc.br.ReadString('\n')
	if err != nil {
		return l, err
	}
	if !strings.HasSuffix(l, "\r\n") {
		return l, errors.New("protocol line not terminated by CRLF: " + strconv.Quote(l))
	}
	return strings.TrimSuffix(l, "\r\n"), nil
}
