// Command leafjwt makes what an operator-mode nats-server hub and its JWT-authenticated leafs
// need, with the JWT library nats-server itself uses (Debian's golang-github-nats-io-jwt-dev),
// for tests/integration/leafnode_creds_test.cc:
//
//	DIR/op.jwt          the operator (the hub's `operator:`)
//	DIR/account.pub     the account's public key (the hub's `resolver_preload` key)
//	DIR/account.jwt     the account, signed by the operator (its value)
//	DIR/leaf.creds      a user of the account: its JWT and nkey seed (a remote's `credentials:`)
//	DIR/client.creds    another user of the account, for a client of the hub
//
// Usage: leafjwt DIR. Built in GOPATH mode by tests/CMakeLists.txt.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

func must[T any](v T, err error) T {
	if err != nil {
		fmt.Fprintln(os.Stderr, "leafjwt:", err)
		os.Exit(1)
	}
	return v
}

func write(dir, name string, data []byte) {
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "leafjwt:", err)
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: leafjwt DIR")
		os.Exit(2)
	}
	dir := os.Args[1]

	operator := must(nkeys.CreateOperator())
	oc := jwt.NewOperatorClaims(must(operator.PublicKey()))
	oc.Name = "pylon-test-operator"
	write(dir, "op.jwt", []byte(must(oc.Encode(operator))))

	account := must(nkeys.CreateAccount())
	apub := must(account.PublicKey())
	ac := jwt.NewAccountClaims(apub)
	ac.Name = "EDGE"
	write(dir, "account.pub", []byte(apub))
	write(dir, "account.jwt", []byte(must(ac.Encode(operator))))

	for _, name := range []string{"leaf", "client"} {
		user := must(nkeys.CreateUser())
		uc := jwt.NewUserClaims(must(user.PublicKey()))
		uc.Name = name
		ujwt := must(uc.Encode(account))
		write(dir, name+".creds", must(jwt.FormatUserConfig(ujwt, must(user.Seed()))))
	}
}
