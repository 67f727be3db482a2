package pylontest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestPubSub(t *testing.T) {
	s := startServer(t, "")
	sc := s.connect(t)
	pc := s.connect(t)

	sub, err := sc.SubscribeSync("greet.hello")
	must(t, err, "subscribe")
	other, err := sc.SubscribeSync("greet.other")
	must(t, err, "subscribe")
	flushAll(t, sc)

	must(t, pc.Publish("greet.hello", []byte("hello world")), "publish")
	must(t, pc.PublishRequest("greet.hello", "reply.here", []byte("with reply")), "publish with reply")
	must(t, pc.Publish("greet.hello", nil), "publish empty")
	flushAll(t, pc, sc)

	m := nextMsg(t, sub)
	if m.Subject != "greet.hello" || string(m.Data) != "hello world" || m.Reply != "" {
		t.Errorf("message 1: expected subject=greet.hello data=%q reply=\"\", got subject=%q data=%q reply=%q",
			"hello world", m.Subject, m.Data, m.Reply)
	}
	m = nextMsg(t, sub)
	if string(m.Data) != "with reply" || m.Reply != "reply.here" {
		t.Errorf("message 2: expected data=%q reply=reply.here, got data=%q reply=%q", "with reply", m.Data, m.Reply)
	}
	m = nextMsg(t, sub)
	if len(m.Data) != 0 {
		t.Errorf("message 3: expected empty payload, got %q", m.Data)
	}
	if n, _, _ := other.Pending(); n != 0 {
		t.Errorf("subscription on greet.other: expected 0 messages, got %d", n)
	}
	if n, _, _ := sub.Pending(); n != 0 {
		t.Errorf("subscription on greet.hello: expected no extra messages, got %d pending", n)
	}

	// Unsubscribe: nothing more is delivered.
	must(t, sub.Unsubscribe(), "unsubscribe")
	flushAll(t, sc)
	before := sc.Stats().InMsgs
	must(t, pc.Publish("greet.hello", []byte("after unsub")), "publish")
	flushAll(t, pc, sc)
	if got := sc.Stats().InMsgs - before; got != 0 {
		t.Errorf("after UNSUB: expected 0 messages delivered, got %d", got)
	}
}

func TestWildcards(t *testing.T) {
	s := startServer(t, "")
	sc := s.connect(t)
	pc := s.connect(t)

	patterns := []string{"foo.*", "foo.>", "*.bar", "foo.bar", ">", "*.*.qux", "foo.*.>"}
	subs := map[string]*nats.Subscription{}
	for _, p := range patterns {
		sub, err := sc.SubscribeSync(p)
		must(t, err, "subscribe "+p)
		subs[p] = sub
	}
	flushAll(t, sc)

	// One publisher, so each subscription's stream is checked in publish order.
	published := []string{"foo", "foo.baz.qux", "bar", "foo.baz", "a.bar", "a.b.qux", "foo.bar.baz", "bar.foo"}
	for _, subj := range published {
		must(t, pc.Publish(subj, []byte(subj)), "publish "+subj)
	}
	flushAll(t, pc, sc)

	want := map[string][]string{
		"foo.*":   {"foo.baz"},
		"foo.>":   {"foo.baz.qux", "foo.baz", "foo.bar.baz"},
		"*.bar":   {"a.bar"},
		"foo.bar": nil,
		">":       published,
		"*.*.qux": {"foo.baz.qux", "a.b.qux"},
		"foo.*.>": {"foo.baz.qux", "foo.bar.baz"},
	}
	for _, p := range patterns {
		var got []string
		for {
			m, err := subs[p].NextMsg(0) // flushAll guarantees everything routed has arrived
			if err != nil {
				break
			}
			if string(m.Data) != m.Subject {
				t.Errorf("pattern %q: payload %q delivered with subject %q", p, m.Data, m.Subject)
			}
			got = append(got, m.Subject)
		}
		if !reflect.DeepEqual(got, want[p]) {
			t.Errorf("pattern %q: expected subjects %q, got %q", p, want[p], got)
		}
	}
}

func TestQueueGroups(t *testing.T) {
	s := startServer(t, "")
	const n = 2000
	const subj = "work.items"

	type member struct {
		group string
		nc    *nats.Conn
		ch    chan *nats.Msg
	}
	var members []member
	add := func(group string) {
		nc := s.connect(t)
		ch := make(chan *nats.Msg, n+100)
		var err error
		if group == "" {
			_, err = nc.ChanSubscribe(subj, ch)
		} else {
			_, err = nc.ChanQueueSubscribe(subj, group, ch)
		}
		must(t, err, "subscribe group "+group)
		members = append(members, member{group, nc, ch})
	}
	for i := 0; i < 3; i++ {
		add("A")
	}
	for i := 0; i < 2; i++ {
		add("B")
	}
	add("")
	for _, m := range members {
		flushAll(t, m.nc)
	}

	pc := s.connect(t)
	for i := 0; i < n; i++ {
		must(t, pc.Publish(subj, []byte(strconv.Itoa(i))), "publish")
	}
	flushAll(t, pc)
	// Every delivery precedes the subscriber's PONG; channel subscriptions receive
	// messages synchronously in the read loop, so after the flush the channels are complete.
	for _, m := range members {
		flushAll(t, m.nc)
	}

	seen := map[string]map[int]int{"A": {}, "B": {}, "": {}}
	perMember := make([]int, len(members))
	for i, m := range members {
	drain:
		for {
			select {
			case msg := <-m.ch:
				k, err := strconv.Atoi(string(msg.Data))
				if err != nil || k < 0 || k >= n {
					t.Fatalf("group %q: unexpected payload %q", m.group, msg.Data)
				}
				seen[m.group][k]++
				perMember[i]++
			default:
				break drain
			}
		}
	}
	for _, g := range []string{"A", "B", ""} {
		name := "group " + g
		if g == "" {
			name = "plain subscriber"
		}
		missing, dup := 0, 0
		for k := 0; k < n; k++ {
			switch c := seen[g][k]; {
			case c == 0:
				missing++
			case c > 1:
				dup += c - 1
			}
		}
		if missing != 0 || dup != 0 {
			t.Errorf("%s: expected each of %d messages exactly once, got %d missing and %d duplicate deliveries",
				name, n, missing, dup)
		}
	}
	for i, m := range members {
		if m.group != "" && perMember[i] == 0 {
			t.Errorf("queue member #%d of group %s received no messages (distribution %v)", i, m.group, perMember)
		}
	}
	t.Logf("per-member deliveries (A,A,A,B,B,plain): %v", perMember)
}

func TestRequestReply(t *testing.T) {
	s := startServer(t, "")
	rc := s.connect(t)
	_, err := rc.Subscribe("svc.echo", func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		_ = m.Respond(append([]byte("echo:"), m.Data...))
	})
	must(t, err, "subscribe responder")
	flushAll(t, rc)

	for _, old := range []bool{false, true} {
		name := "new-style"
		var opts []nats.Option
		if old {
			name = "old-style"
			opts = append(opts, nats.UseOldRequestStyle())
		}
		t.Run(name, func(t *testing.T) {
			nc := s.connect(t, opts...)
			for i := 0; i < 50; i++ {
				req := fmt.Sprintf("req-%d", i)
				resp, err := nc.Request("svc.echo", []byte(req), msgWait)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if want := "echo:" + req; string(resp.Data) != want {
					t.Fatalf("request %d: expected %q, got %q", i, want, resp.Data)
				}
			}
			// Concurrent requests share the response multiplexer (new style).
			var wg sync.WaitGroup
			errs := make(chan error, 20)
			for i := 0; i < 20; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					req := fmt.Sprintf("c-%d", i)
					resp, err := nc.Request("svc.echo", []byte(req), msgWait)
					if err != nil {
						errs <- fmt.Errorf("concurrent request %d: %v", i, err)
						return
					}
					if string(resp.Data) != "echo:"+req {
						errs <- fmt.Errorf("concurrent request %d: expected %q, got %q", i, "echo:"+req, resp.Data)
					}
				}(i)
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
		})
	}

	// A hand-written responder sees a reply inbox and answers with PublishRequest-less Publish.
	t.Run("manual-responder", func(t *testing.T) {
		mc := s.connect(t)
		sub, err := mc.SubscribeSync("svc.manual")
		must(t, err, "subscribe")
		flushAll(t, mc)
		nc := s.connect(t)
		type result struct {
			m   *nats.Msg
			err error
		}
		res := make(chan result, 1)
		go func() {
			m, err := nc.Request("svc.manual", []byte("ping"), msgWait)
			res <- result{m, err}
		}()
		req := nextMsg(t, sub)
		if !strings.HasPrefix(req.Reply, "_INBOX.") {
			t.Errorf("request reply subject: expected _INBOX.* prefix, got %q", req.Reply)
		}
		must(t, mc.Publish(req.Reply, []byte("pong")), "publish reply")
		select {
		case r := <-res:
			if r.err != nil || string(r.m.Data) != "pong" {
				t.Errorf("request: expected \"pong\", got %v / %v", r.m, r.err)
			}
		case <-time.After(msgWait + time.Second):
			t.Fatalf("request did not complete")
		}
	})
}

func TestHeaders(t *testing.T) {
	s := startServer(t, "")
	sc := s.connect(t)
	pc := s.connect(t)
	if !pc.HeadersSupported() {
		t.Fatalf("HeadersSupported: expected true (INFO headers:true), got false")
	}
	sub, err := sc.SubscribeSync("hdr.>")
	must(t, err, "subscribe")
	flushAll(t, sc)

	m := nats.NewMsg("hdr.one")
	m.Header.Set("X-Single", "one")
	m.Header.Add("X-Multi", "a")
	m.Header.Add("X-Multi", "b")
	m.Header.Add("X-Multi", "c with spaces")
	m.Header.Set("lower-Mixed-case", "Keeps Case")
	m.Header.Set("X-Json", `{"k":"v: w"}`)
	m.Data = []byte("body\r\nwith CRLF")
	must(t, pc.PublishMsg(m), "publish with headers")

	hOnly := nats.NewMsg("hdr.only")
	hOnly.Header.Set("X-Only", "yes")
	must(t, pc.PublishMsg(hOnly), "publish headers only")

	plain := nats.NewMsg("hdr.plain") // no headers: goes out as PUB, arrives as MSG
	plain.Data = []byte("no headers")
	must(t, pc.PublishMsg(plain), "publish plain")
	flushAll(t, pc, sc)

	got := nextMsg(t, sub)
	if got.Subject != "hdr.one" || !bytes.Equal(got.Data, m.Data) {
		t.Errorf("headers message: expected subject hdr.one data %q, got %q %q", m.Data, got.Subject, got.Data)
	}
	if !reflect.DeepEqual(got.Header, m.Header) {
		t.Errorf("headers: expected %v, got %v", m.Header, got.Header)
	}
	if v := got.Header.Values("X-Multi"); !reflect.DeepEqual(v, []string{"a", "b", "c with spaces"}) {
		t.Errorf("multi-valued header: expected [a b \"c with spaces\"], got %q", v)
	}

	got = nextMsg(t, sub)
	if got.Subject != "hdr.only" || len(got.Data) != 0 || got.Header.Get("X-Only") != "yes" {
		t.Errorf("header-only message: expected hdr.only, empty body, X-Only=yes; got %q %q %v", got.Subject, got.Data, got.Header)
	}
	got = nextMsg(t, sub)
	if got.Subject != "hdr.plain" || string(got.Data) != "no headers" || len(got.Header) != 0 {
		t.Errorf("plain message: expected hdr.plain \"no headers\" without headers, got %q %q %v", got.Subject, got.Data, got.Header)
	}

	// Request/response both carrying headers.
	rc := s.connect(t)
	_, err = rc.Subscribe("hdr.svc", func(req *nats.Msg) {
		resp := nats.NewMsg(req.Reply)
		resp.Header.Set("X-Echo", req.Header.Get("X-Req"))
		resp.Header.Add("X-Vals", "1")
		resp.Header.Add("X-Vals", "2")
		resp.Data = req.Data
		_ = req.RespondMsg(resp)
	})
	must(t, err, "subscribe responder")
	flushAll(t, rc)
	req := nats.NewMsg("hdr.svc")
	req.Header.Set("X-Req", "abc")
	req.Data = []byte("data")
	resp, err := pc.RequestMsg(req, msgWait)
	must(t, err, "request with headers")
	if resp.Header.Get("X-Echo") != "abc" || !reflect.DeepEqual(resp.Header.Values("X-Vals"), []string{"1", "2"}) || string(resp.Data) != "data" {
		t.Errorf("response: expected X-Echo=abc X-Vals=[1 2] data \"data\", got %v %q", resp.Header, resp.Data)
	}
}

func TestNoResponders(t *testing.T) {
	s := startServer(t, "")
	for _, old := range []bool{false, true} {
		name := "new-style"
		var opts []nats.Option
		if old {
			name = "old-style"
			opts = append(opts, nats.UseOldRequestStyle())
		}
		t.Run(name, func(t *testing.T) {
			nc := s.connect(t, opts...)
			// The error is the proof the server answered: running out the timeout
			// ends in ErrTimeout, only the server's 503 status gives ErrNoResponders.
			_, err := nc.Request("nobody.home", []byte("anyone?"), 30*time.Second)
			if !errors.Is(err, nats.ErrNoResponders) {
				t.Fatalf("request to nobody: expected %v, got %v", nats.ErrNoResponders, err)
			}
			// The connection is still usable afterwards.
			must(t, nc.FlushTimeout(msgWait), "flush after no-responders")
		})
	}
}

func TestAutoUnsubscribe(t *testing.T) {
	s := startServer(t, "")
	sc := s.connect(t)
	pc := s.connect(t)
	sub, err := sc.SubscribeSync("auto")
	must(t, err, "subscribe")
	must(t, sub.AutoUnsubscribe(3), "auto-unsubscribe")
	flushAll(t, sc)

	for i := 0; i < 10; i++ {
		must(t, pc.Publish("auto", []byte(strconv.Itoa(i))), "publish")
	}
	flushAll(t, pc, sc)

	for i := 0; i < 3; i++ {
		m := nextMsg(t, sub)
		if string(m.Data) != strconv.Itoa(i) {
			t.Errorf("message %d: expected %q, got %q", i, strconv.Itoa(i), m.Data)
		}
	}
	if _, err := sub.NextMsg(100 * time.Millisecond); err == nil {
		t.Errorf("4th NextMsg: expected an error after 3 messages, got a message")
	}
	// The client drops extras itself, so check what the server actually sent.
	if got := sc.Stats().InMsgs; got != 3 {
		t.Errorf("server deliveries after UNSUB <sid> 3: expected exactly 3, got %d", got)
	}
	if sub.IsValid() {
		t.Errorf("subscription still valid after reaching its auto-unsubscribe limit")
	}
}

func TestNoEcho(t *testing.T) {
	s := startServer(t, "")
	quiet := s.connect(t, nats.NoEcho())
	loud := s.connect(t)
	other := s.connect(t)

	qs, err := quiet.SubscribeSync("echo.test")
	must(t, err, "subscribe quiet")
	ls, err := loud.SubscribeSync("echo.test")
	must(t, err, "subscribe loud")
	flushAll(t, quiet, loud)

	must(t, quiet.Publish("echo.test", []byte("from-quiet")), "publish")
	must(t, loud.Publish("echo.test", []byte("from-loud")), "publish")
	must(t, other.Publish("echo.test", []byte("from-other")), "publish")
	flushAll(t, quiet, loud, other, quiet, loud)

	var qgot, lgot []string
	for {
		m, err := qs.NextMsg(0)
		if err != nil {
			break
		}
		qgot = append(qgot, string(m.Data))
	}
	for {
		m, err := ls.NextMsg(0)
		if err != nil {
			break
		}
		lgot = append(lgot, string(m.Data))
	}
	sort.Strings(qgot)
	sort.Strings(lgot)
	if want := []string{"from-loud", "from-other"}; !reflect.DeepEqual(qgot, want) {
		t.Errorf("NoEcho connection: expected %q (not its own message), got %q", want, qgot)
	}
	if want := []string{"from-loud", "from-other", "from-quiet"}; !reflect.DeepEqual(lgot, want) {
		t.Errorf("echo connection: expected %q (including its own message), got %q", want, lgot)
	}
}

func TestFlushAndRTT(t *testing.T) {
	s := startServer(t, "")
	nc := s.connect(t)
	must(t, nc.Flush(), "flush")
	must(t, nc.FlushTimeout(time.Second), "flush with timeout")
	for i := 0; i < 1000; i++ {
		must(t, nc.Publish("rtt.load", make([]byte, 100)), "publish")
	}
	must(t, nc.FlushTimeout(msgWait), "flush after 1000 publishes")
	// RTT() is one PING/PONG with the server (an error when no PONG comes); the value
	// is a duration measured inside the call, so it is positive and no longer than the
	// call itself. No bound on speed: that belongs in benchmarks.
	for i := 0; i < 5; i++ {
		start := time.Now()
		rtt, err := nc.RTT()
		call := time.Since(start)
		must(t, err, "RTT")
		if rtt <= 0 || rtt > call {
			t.Errorf("RTT: expected 0 < rtt <= %v (the call's own duration), got %v", call, rtt)
		}
	}
}

func TestDrain(t *testing.T) {
	s := startServer(t, "")
	const n = 500

	t.Run("subscription", func(t *testing.T) {
		sc := s.connect(t)
		pc := s.connect(t)
		var mu sync.Mutex
		count := 0
		sub, err := sc.Subscribe("drain.sub", func(m *nats.Msg) {
			time.Sleep(100 * time.Microsecond) // make the callback lag behind the socket
			mu.Lock()
			count++
			mu.Unlock()
		})
		must(t, err, "subscribe")
		flushAll(t, sc)
		for i := 0; i < n; i++ {
			must(t, pc.Publish("drain.sub", []byte("x")), "publish")
		}
		flushAll(t, pc)
		must(t, sub.Drain(), "sub drain")
		deadline := time.After(bulkWait)
		for sub.IsValid() {
			select {
			case <-deadline:
				t.Fatalf("subscription drain did not complete within %v", bulkWait)
			case <-time.After(10 * time.Millisecond):
			}
		}
		mu.Lock()
		got := count
		mu.Unlock()
		if got != n {
			t.Errorf("subscription drain: expected all %d messages processed, got %d", n, got)
		}
		// After drain the server no longer routes to it.
		before := sc.Stats().InMsgs
		must(t, pc.Publish("drain.sub", []byte("late")), "publish")
		flushAll(t, pc, sc)
		if d := sc.Stats().InMsgs - before; d != 0 {
			t.Errorf("after subscription drain: expected 0 further deliveries, got %d", d)
		}
	})

	t.Run("connection", func(t *testing.T) {
		closed := make(chan struct{})
		sc := s.connect(t, nats.DrainTimeout(bulkWait), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
		pc := s.connect(t)
		var mu sync.Mutex
		count := 0
		_, err := sc.Subscribe("drain.conn", func(m *nats.Msg) {
			time.Sleep(100 * time.Microsecond)
			mu.Lock()
			count++
			mu.Unlock()
		})
		must(t, err, "subscribe")
		flushAll(t, sc)
		for i := 0; i < n; i++ {
			must(t, pc.Publish("drain.conn", []byte("x")), "publish")
		}
		flushAll(t, pc)
		must(t, sc.Drain(), "connection drain")
		select {
		case <-closed:
		case <-time.After(bulkWait + 5*time.Second):
			t.Fatalf("connection drain: not closed within %v", bulkWait)
		}
		mu.Lock()
		got := count
		mu.Unlock()
		if got != n {
			t.Errorf("connection drain: expected all %d messages processed, got %d", n, got)
		}
		if !sc.IsClosed() {
			t.Errorf("connection drain: expected connection closed")
		}
	})
}

func TestOrdering10k(t *testing.T) {
	s := startServer(t, "")
	const n = 10000
	sc := s.connect(t)
	pc := s.connect(t)
	sub, err := sc.SubscribeSync("order.test")
	must(t, err, "subscribe")
	must(t, sub.SetPendingLimits(-1, -1), "pending limits")
	flushAll(t, sc)

	for i := 0; i < n; i++ {
		must(t, pc.Publish("order.test", []byte(strconv.Itoa(i))), "publish")
	}
	must(t, pc.FlushTimeout(bulkWait), "flush publisher")

	deadline := time.Now().Add(bulkWait)
	for i := 0; i < n; i++ {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("received only %d of %d messages within %v", i, n, bulkWait)
		}
		m, err := sub.NextMsg(left)
		if err != nil {
			t.Fatalf("received only %d of %d messages: %v", i, n, err)
		}
		if want := strconv.Itoa(i); string(m.Data) != want {
			t.Fatalf("message #%d out of order: expected %q, got %q", i, want, m.Data)
		}
	}
	flushAll(t, sc)
	if p, _, _ := sub.Pending(); p != 0 {
		t.Errorf("expected no messages beyond %d, got %d extra", n, p)
	}
}

func TestLargePayload(t *testing.T) {
	s := startServer(t, "")
	sc := s.connect(t)
	pc := s.connect(t)
	payload := make([]byte, 500*1024)
	rand.New(rand.NewSource(42)).Read(payload)

	sub, err := sc.SubscribeSync("big")
	must(t, err, "subscribe")
	_, err = sc.Subscribe("big.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) })
	must(t, err, "subscribe responder")
	flushAll(t, sc)

	for i := 0; i < 3; i++ {
		must(t, pc.Publish("big", payload), "publish 500KB")
	}
	for i := 0; i < 3; i++ {
		m := nextMsg(t, sub)
		if !bytes.Equal(m.Data, payload) {
			t.Fatalf("500KB payload #%d: corrupted (got %d bytes)", i, len(m.Data))
		}
	}
	resp, err := pc.Request("big.echo", payload, msgWait)
	must(t, err, "500KB request")
	if !bytes.Equal(resp.Data, payload) {
		t.Errorf("500KB request/reply: payload corrupted (got %d bytes)", len(resp.Data))
	}
}

func TestMaxPayload(t *testing.T) {
	s := startServer(t, "max_payload: 1024\n")
	sc := s.connect(t)
	pc := s.connect(t)
	if mp := pc.MaxPayload(); mp != 1024 {
		t.Fatalf("MaxPayload(): expected 1024 (from config), got %d", mp)
	}
	sub, err := sc.SubscribeSync("mp")
	must(t, err, "subscribe")
	flushAll(t, sc)

	if err := pc.Publish("mp", make([]byte, 2000)); !errors.Is(err, nats.ErrMaxPayload) {
		t.Errorf("publish 2000 bytes: expected %v, got %v", nats.ErrMaxPayload, err)
	}
	exact := bytes.Repeat([]byte("z"), 1024)
	must(t, pc.Publish("mp", exact), "publish exactly max_payload")
	flushAll(t, pc, sc)
	m := nextMsg(t, sub)
	if !bytes.Equal(m.Data, exact) {
		t.Errorf("1024-byte payload: expected intact, got %d bytes", len(m.Data))
	}
	if p, _, _ := sub.Pending(); p != 0 {
		t.Errorf("oversized publish must not be delivered; got %d extra message(s)", p)
	}

	// Server side: a raw client ignoring max_payload gets -ERR and is disconnected.
	rc, info := s.rawConnect(t)
	if mp, _ := info["max_payload"].(float64); mp != 1024 {
		t.Errorf("raw INFO max_payload: expected 1024, got %v", info["max_payload"])
	}
	rc.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPUB mp 2000\r\n" + strings.Repeat("y", 2000) + "\r\n")
	line := rc.readLine()
	if !strings.HasPrefix(line, "-ERR") || !strings.Contains(strings.ToLower(line), "maximum payload") {
		t.Errorf("raw PUB of 2000 bytes: expected -ERR 'Maximum Payload Violation', got %q", line)
	}
	for {
		l, err := rc.tryReadLine()
		if err == nil {
			continue // e.g. a PING; keep reading until the server closes
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("raw connection: expected the server to close it after a max payload violation; still open after %v", msgWait)
		}
		_ = l
		break
	}
	if p, _, _ := sub.Pending(); p != 0 {
		t.Errorf("oversized raw PUB must not be delivered; got %d message(s)", p)
	}
}

func TestServerInfo(t *testing.T) {
	s := startServer(t, "")
	nc := s.connect(t)
	if id := nc.ConnectedServerId(); id == "" {
		t.Errorf("ConnectedServerId(): expected non-empty")
	}
	if name := nc.ConnectedServerName(); name == "" {
		t.Errorf("ConnectedServerName(): expected non-empty (nats-server defaults server_name to its id)")
	}
	if mp := nc.MaxPayload(); mp != 1024*1024 {
		t.Errorf("MaxPayload(): expected default 1048576, got %d", mp)
	}
	if v := nc.ConnectedServerVersion(); v == "" {
		t.Errorf("ConnectedServerVersion(): expected non-empty")
	}
	if !nc.HeadersSupported() {
		t.Errorf("HeadersSupported(): expected true")
	}
	if u := nc.ConnectedUrl(); u != s.url {
		t.Errorf("ConnectedUrl(): expected %q, got %q", s.url, u)
	}
	if a := nc.ConnectedAddr(); a != fmt.Sprintf("127.0.0.1:%d", s.port) {
		t.Errorf("ConnectedAddr(): expected 127.0.0.1:%d, got %q", s.port, a)
	}
	if id, err := nc.GetClientID(); err != nil || id == 0 {
		t.Errorf("GetClientID(): expected non-zero client_id, got %d, %v", id, err)
	}
	if ip, err := nc.GetClientIP(); err != nil || ip.String() != "127.0.0.1" {
		t.Errorf("GetClientIP(): expected 127.0.0.1, got %v, %v", ip, err)
	}
	// Two connections get distinct client ids.
	nc2 := s.connect(t)
	id1, _ := nc.GetClientID()
	id2, _ := nc2.GetClientID()
	if id1 == id2 {
		t.Errorf("client_id: expected distinct ids for two connections, both got %d", id1)
	}
	if nc.ConnectedServerId() != nc2.ConnectedServerId() {
		t.Errorf("server_id differs between connections: %q vs %q", nc.ConnectedServerId(), nc2.ConnectedServerId())
	}

	// Raw INFO: core fields every client library relies on.
	_, info := s.rawConnect(t)
	checks := []struct {
		key  string
		want interface{} // nil: only presence and type checked
		kind string
	}{
		{"server_id", nil, "string"},
		{"server_name", nil, "string"},
		{"version", nil, "string"},
		{"proto", float64(1), "number"},
		{"host", "127.0.0.1", "string"},
		{"port", float64(s.port), "number"},
		{"headers", true, "bool"},
		{"max_payload", float64(1048576), "number"},
		{"client_id", nil, "number"},
		{"client_ip", "127.0.0.1", "string"},
	}
	for _, c := range checks {
		v, ok := info[c.key]
		if !ok {
			t.Errorf("raw INFO: missing field %q (INFO: %v)", c.key, info)
			continue
		}
		okType := false
		switch c.kind {
		case "string":
			sv, isStr := v.(string)
			okType = isStr && sv != ""
		case "number":
			_, okType = v.(float64)
		case "bool":
			_, okType = v.(bool)
		}
		if !okType {
			t.Errorf("raw INFO %q: expected non-empty %s, got %#v", c.key, c.kind, v)
			continue
		}
		if c.want != nil && v != c.want {
			t.Errorf("raw INFO %q: expected %v, got %v", c.key, c.want, v)
		}
	}
	if v, ok := info["auth_required"]; ok && v == true {
		t.Errorf("raw INFO auth_required: expected false/absent without auth config, got true")
	}
}

func TestVerbosePedantic(t *testing.T) {
	s := startServer(t, "")
	opts := nats.GetDefaultOptions()
	opts.Url = s.url
	opts.Verbose = true
	opts.Pedantic = true
	opts.AllowReconnect = false
	opts.Timeout = connectTimeout
	var mu sync.Mutex
	var asyncErrs []error
	opts.AsyncErrorCB = func(_ *nats.Conn, _ *nats.Subscription, err error) {
		mu.Lock()
		asyncErrs = append(asyncErrs, err)
		mu.Unlock()
	}
	nc, err := opts.Connect()
	must(t, err, "connect verbose+pedantic")
	defer nc.Close()

	sub, err := nc.SubscribeSync("vp.test")
	must(t, err, "subscribe")
	_, err = nc.Subscribe("vp.svc", func(m *nats.Msg) { _ = m.Respond([]byte("ok")) })
	must(t, err, "subscribe responder")
	must(t, nc.FlushTimeout(msgWait), "flush")
	for i := 0; i < 100; i++ {
		must(t, nc.Publish("vp.test", []byte(strconv.Itoa(i))), "publish")
	}
	hm := nats.NewMsg("vp.test")
	hm.Header.Set("X-V", "1")
	hm.Data = []byte("hdr")
	must(t, nc.PublishMsg(hm), "publish with headers")
	must(t, nc.FlushTimeout(msgWait), "flush")
	for i := 0; i < 100; i++ {
		m := nextMsg(t, sub)
		if string(m.Data) != strconv.Itoa(i) {
			t.Fatalf("message %d: expected %q, got %q", i, strconv.Itoa(i), m.Data)
		}
	}
	if m := nextMsg(t, sub); string(m.Data) != "hdr" || m.Header.Get("X-V") != "1" {
		t.Errorf("header message: expected \"hdr\" X-V=1, got %q %v", m.Data, m.Header)
	}
	resp, err := nc.Request("vp.svc", nil, msgWait)
	must(t, err, "request")
	if string(resp.Data) != "ok" {
		t.Errorf("request: expected \"ok\", got %q", resp.Data)
	}
	must(t, sub.Unsubscribe(), "unsubscribe")
	must(t, nc.FlushTimeout(msgWait), "flush")
	if err := nc.LastError(); err != nil {
		t.Errorf("verbose+pedantic connection: last error %v", err)
	}
	if !nc.IsConnected() {
		t.Errorf("verbose+pedantic connection: expected still connected")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range asyncErrs {
		t.Errorf("verbose+pedantic connection: async error %v", e)
	}
}
