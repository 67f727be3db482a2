package pylontest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// The system account through the Go client, decoded into the shapes of nats-server 2.9's own
// types (server/events.go): a client's connect and disconnect events, and a $SYS request's
// {"server","data"} envelope.

const sysConfig = `
accounts {
  SYS: { users: [ {user: sys, password: psys} ] }
  A: { users: [ {user: a, password: pa} ] }
}
system_account: SYS
`

type sysServerInfo struct {
	Name string    `json:"name"`
	ID   string    `json:"id"`
	Ver  string    `json:"ver"`
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
}

type sysClientInfo struct {
	Start   *time.Time `json:"start"`
	ID      uint64     `json:"id"`
	Account string     `json:"acc"`
	User    string     `json:"user"`
	Name    string     `json:"name"`
	Lang    string     `json:"lang"`
	Stop    *time.Time `json:"stop"`
	Kind    string     `json:"kind"`
}

type sysEvent struct {
	Type      string        `json:"type"`
	ID        string        `json:"id"`
	Timestamp time.Time     `json:"timestamp"`
	Server    sysServerInfo `json:"server"`
	Client    sysClientInfo `json:"client"`
	Sent      struct {
		Msgs  int64 `json:"msgs"`
		Bytes int64 `json:"bytes"`
	} `json:"sent"`
	Reason string `json:"reason"`
}

func TestSystemAccountEventsAndVarzRequest(t *testing.T) {
	s := startServer(t, sysConfig)
	sys := s.connect(t, nats.UserInfo("sys", "psys"))
	events, err := sys.SubscribeSync("$SYS.ACCOUNT.A.*")
	must(t, err, "subscribe to A's events")
	flushAll(t, sys)

	a := s.connect(t, nats.UserInfo("a", "pa"), nats.Name("go-events"))
	must(t, a.Publish("x", []byte("hello")), "publish")
	flushAll(t, a)
	a.Close()

	var connect, disconnect sysEvent
	for _, want := range []struct {
		subject string
		into    *sysEvent
	}{{"$SYS.ACCOUNT.A.CONNECT", &connect}, {"$SYS.ACCOUNT.A.DISCONNECT", &disconnect}} {
		m := nextMsg(t, events)
		if m.Subject != want.subject {
			t.Fatalf("event on %q, want %q", m.Subject, want.subject)
		}
		must(t, json.Unmarshal(m.Data, want.into), "decode "+want.subject)
	}
	if connect.Type != "io.nats.server.advisory.v1.client_connect" || disconnect.Type != "io.nats.server.advisory.v1.client_disconnect" {
		t.Errorf("types %q, %q", connect.Type, disconnect.Type)
	}
	if connect.Server.ID != sys.ConnectedServerId() || connect.Server.Ver == "" || connect.Server.Time.IsZero() {
		t.Errorf("connect's server block %+v (server id %s)", connect.Server, sys.ConnectedServerId())
	}
	if disconnect.Server.Seq <= connect.Server.Seq {
		t.Errorf("seq %d after %d: it grows with every message", disconnect.Server.Seq, connect.Server.Seq)
	}
	c := connect.Client
	if c.Account != "A" || c.User != "a" || c.Name != "go-events" || c.Lang != "go" || c.Kind != "Client" || c.Start == nil || c.ID == 0 {
		t.Errorf("connect's client %+v", c)
	}
	if disconnect.Client.ID != c.ID || disconnect.Client.Stop == nil || disconnect.Reason != "Client Closed" ||
		disconnect.Sent.Msgs != 1 || disconnect.Sent.Bytes != 5 {
		t.Errorf("disconnect %+v", disconnect)
	}

	// A request in the system account: the reference's ServerAPIResponse envelope, /varz inside.
	reply, err := sys.Request("$SYS.REQ.SERVER.PING.VARZ", nil, msgWait)
	must(t, err, "VARZ request")
	var resp struct {
		Server sysServerInfo `json:"server"`
		Data   struct {
			ID            string `json:"server_id"`
			SystemAccount string `json:"system_account"`
		} `json:"data"`
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	must(t, json.Unmarshal(reply.Data, &resp), "decode the VARZ answer")
	if resp.Error != nil || resp.Server.ID != sys.ConnectedServerId() || resp.Data.ID != resp.Server.ID ||
		resp.Data.SystemAccount != "SYS" {
		t.Errorf("VARZ answer %s", reply.Data)
	}

	// Outside the system account, the same request reaches no one.
	g := s.connect(t, nats.UserInfo("a", "pa"))
	if _, err := g.Request("$SYS.REQ.SERVER.PING.VARZ", nil, time.Second); err == nil {
		t.Errorf("a client of account A was answered a system request")
	}
}

// The reference's AccountNumConns (an account_connections event) and AccountStatz, in the
// fields this test reads.
type accountStat struct {
	Account    string `json:"acc"`
	Conns      int    `json:"conns"`
	TotalConns int    `json:"total_conns"`
	Received   struct {
		Msgs int64 `json:"msgs"`
	} `json:"received"`
}

type accountNumConns struct {
	Type   string        `json:"type"`
	ID     string        `json:"id"`
	Server sysServerInfo `json:"server"`
	accountStat
}

// An account's client count as events, and an account asking about itself with nats.go's own
// request, through its import of the system account's $SYS.REQ.ACCOUNT.PING.STATZ.
func TestAccountConnectionsAndTheSystemImports(t *testing.T) {
	s := startServer(t, sysConfig)
	sys := s.connect(t, nats.UserInfo("sys", "psys"))
	conns, err := sys.SubscribeSync("$SYS.ACCOUNT.A.SERVER.CONNS")
	must(t, err, "subscribe to A's account_connections")
	flushAll(t, sys)

	a := s.connect(t, nats.UserInfo("a", "pa"))
	var up accountNumConns
	must(t, json.Unmarshal(nextMsg(t, conns).Data, &up), "decode account_connections")
	if up.Type != "io.nats.server.advisory.v1.account_connections" || up.ID == "" || up.Account != "A" ||
		up.Conns != 1 || up.TotalConns != 1 || up.Server.ID != sys.ConnectedServerId() {
		t.Errorf("account_connections at the connect: %+v", up)
	}
	must(t, a.Publish("x", []byte("hello")), "publish")
	flushAll(t, a)

	reply, err := a.Request("$SYS.REQ.ACCOUNT.PING.STATZ", nil, msgWait)
	must(t, err, "STATZ through A's system import")
	var resp struct {
		Server sysServerInfo `json:"server"`
		Data   struct {
			ID       string        `json:"server_id"`
			Accounts []accountStat `json:"account_statz"`
		} `json:"data"`
	}
	must(t, json.Unmarshal(reply.Data, &resp), "decode the STATZ answer")
	if resp.Data.ID != sys.ConnectedServerId() || len(resp.Data.Accounts) != 1 || resp.Data.Accounts[0].Account != "A" ||
		resp.Data.Accounts[0].Conns != 1 || resp.Data.Accounts[0].Received.Msgs < 1 {
		t.Errorf("A's STATZ answer %s", reply.Data)
	}

	a.Close()
	var down accountNumConns
	must(t, json.Unmarshal(nextMsg(t, conns).Data, &down), "decode account_connections")
	if down.Account != "A" || down.Conns != 0 || down.Server.Seq <= up.Server.Seq {
		t.Errorf("account_connections at the close: %+v (after seq %d)", down, up.Server.Seq)
	}
}
