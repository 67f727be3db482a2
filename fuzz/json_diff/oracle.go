// The reference's side of the JSON differential check (fuzz/json_diff/run.sh): Go's
// encoding/json decoding into nats-server 2.9.10's own structs (client.go ClientOpts,
// server.go Info, route.go connectInfo; copied field for field), reading one hex-encoded
// input per line and printing, per struct, Go's error or "<nil>" and the decoded fields
// Pylon uses. Build with the go1.19 that Debian's nats-server is built with.
package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
)

type SubjectPermission struct {
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
}

type ClientOpts struct {
	Echo         bool               `json:"echo"`
	Verbose      bool               `json:"verbose"`
	Pedantic     bool               `json:"pedantic"`
	TLSRequired  bool               `json:"tls_required"`
	Nkey         string             `json:"nkey,omitempty"`
	JWT          string             `json:"jwt,omitempty"`
	Sig          string             `json:"sig,omitempty"`
	Token        string             `json:"auth_token,omitempty"`
	Username     string             `json:"user,omitempty"`
	Password     string             `json:"pass,omitempty"`
	Name         string             `json:"name"`
	Lang         string             `json:"lang"`
	Version      string             `json:"version"`
	Protocol     int                `json:"protocol"`
	Account      string             `json:"account,omitempty"`
	AccountNew   bool               `json:"new_account,omitempty"`
	Headers      bool               `json:"headers,omitempty"`
	NoResponders bool               `json:"no_responders,omitempty"`
	Import       *SubjectPermission `json:"import,omitempty"`
	Export       *SubjectPermission `json:"export,omitempty"`
}

type Info struct {
	ID                string             `json:"server_id"`
	Name              string             `json:"server_name"`
	Version           string             `json:"version"`
	Proto             int                `json:"proto"`
	GitCommit         string             `json:"git_commit,omitempty"`
	GoVersion         string             `json:"go"`
	Host              string             `json:"host"`
	Port              int                `json:"port"`
	Headers           bool               `json:"headers"`
	AuthRequired      bool               `json:"auth_required,omitempty"`
	TLSRequired       bool               `json:"tls_required,omitempty"`
	TLSVerify         bool               `json:"tls_verify,omitempty"`
	TLSAvailable      bool               `json:"tls_available,omitempty"`
	MaxPayload        int32              `json:"max_payload"`
	JetStream         bool               `json:"jetstream,omitempty"`
	IP                string             `json:"ip,omitempty"`
	CID               uint64             `json:"client_id,omitempty"`
	ClientIP          string             `json:"client_ip,omitempty"`
	Nonce             string             `json:"nonce,omitempty"`
	Cluster           string             `json:"cluster,omitempty"`
	Dynamic           bool               `json:"cluster_dynamic,omitempty"`
	Domain            string             `json:"domain,omitempty"`
	ClientConnectURLs []string           `json:"connect_urls,omitempty"`
	WSConnectURLs     []string           `json:"ws_connect_urls,omitempty"`
	LameDuckMode      bool               `json:"ldm,omitempty"`
	Import            *SubjectPermission `json:"import,omitempty"`
	Export            *SubjectPermission `json:"export,omitempty"`
	LNOC              bool               `json:"lnoc,omitempty"`
	InfoOnConnect     bool               `json:"info_on_connect,omitempty"`
	ConnectInfo       bool               `json:"connect_info,omitempty"`
	Gateway           string             `json:"gateway,omitempty"`
	GatewayURLs       []string           `json:"gateway_urls,omitempty"`
	GatewayURL        string             `json:"gateway_url,omitempty"`
	GatewayCmd        byte               `json:"gateway_cmd,omitempty"`
	GatewayCmdPayload []byte             `json:"gateway_cmd_payload,omitempty"`
	GatewayNRP        bool               `json:"gateway_nrp,omitempty"`
	GatewayIOM        bool               `json:"gateway_iom,omitempty"`
	LeafNodeURLs      []string           `json:"leafnode_urls,omitempty"`
	RemoteAccount     string             `json:"remote_account,omitempty"`
}

type connectInfo struct {
	Echo     bool   `json:"echo"`
	Verbose  bool   `json:"verbose"`
	Pedantic bool   `json:"pedantic"`
	User     string `json:"user,omitempty"`
	Pass     string `json:"pass,omitempty"`
	TLS      bool   `json:"tls_required"`
	Headers  bool   `json:"headers"`
	Name     string `json:"name"`
	Cluster  string `json:"cluster"`
	Dynamic  bool   `json:"cluster_dynamic,omitempty"`
	LNOC     bool   `json:"lnoc,omitempty"`
	Gateway  string `json:"gateway,omitempty"`
}

func b(v bool) int {
	if v {
		return 1
	}
	return 0
}

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for sc.Scan() {
		in, err := hex.DecodeString(sc.Text())
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad hex input")
			os.Exit(2)
		}
		c := ClientOpts{Verbose: true, Pedantic: true, Echo: true}
		if err := json.Unmarshal(in, &c); err != nil {
			fmt.Fprintf(w, "connect: %s\n", err)
		} else {
			fmt.Fprintf(w, "connect: <nil> %d%d%d%d%d%d %d %x %x %x %x %x %x %x\n", b(c.Echo), b(c.Verbose), b(c.Pedantic),
				b(c.TLSRequired), b(c.Headers), b(c.NoResponders), c.Protocol, c.Name, c.Lang, c.Version, c.Username,
				c.Password, c.Token, c.Account)
		}
		var i Info
		if err := json.Unmarshal(in, &i); err != nil {
			fmt.Fprintf(w, "info: %s\n", err)
		} else {
			fmt.Fprintf(w, "info: <nil> %x %x %x %x %x %d %d %d %d%d%d%d%d [", i.ID, i.Name, i.Version, i.Cluster, i.Host, int32(i.Port),
				int32(i.Proto), i.MaxPayload, b(i.Headers), b(i.AuthRequired), b(i.Dynamic), b(i.LNOC), b(i.LameDuckMode))
			for _, u := range i.ClientConnectURLs {
				fmt.Fprintf(w, "%x,", u)
			}
			fmt.Fprintln(w, "]")
		}
		// A route's CONNECT as processConnect and processRouteConnect read it: ClientOpts
		// first, a client (lang set) turned away, then connectInfo.
		var r connectInfo
		c = ClientOpts{Verbose: true, Pedantic: true, Echo: true}
		if err := json.Unmarshal(in, &c); err != nil {
			fmt.Fprintf(w, "route: %s\n", err)
		} else if c.Lang != "" {
			fmt.Fprintln(w, "route: lang")
		} else if err := json.Unmarshal(in, &r); err != nil {
			fmt.Fprintf(w, "route: %s\n", err)
		} else {
			fmt.Fprintf(w, "route: <nil> %d%d%d%d%d%d %x %x %x %x\n", b(r.Echo), b(r.Verbose), b(r.Pedantic), b(r.Headers),
				b(r.Dynamic), b(r.LNOC), r.Name, r.Cluster, r.User, r.Pass)
		}
	}
}
