// Writes vectors.txt: nkeys seeds, public and private keys, signatures and decode errors as
// Debian's github.com/nats-io/nkeys (the package nats-server 2.9 and nats.go use) makes them,
// for tests/unit/nkeys_test.cc. The raw seeds are fixed patterns, so the keys are public
// test data of no value. Regenerate (GOPATH mode, Debian's Go packages):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run gen.go > vectors.txt
package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/nats-io/nkeys"
)

func main() {
	types := []struct {
		name string
		pre  nkeys.PrefixByte
	}{
		{"user", nkeys.PrefixByteUser},
		{"account", nkeys.PrefixByteAccount},
		{"server", nkeys.PrefixByteServer},
		{"operator", nkeys.PrefixByteOperator},
		{"cluster", nkeys.PrefixByteCluster},
	}
	fmt.Println("# key <type> <raw seed hex> <seed> <public> <private> <message> <signature base64url>")
	for ti, t := range types {
		for v := 0; v < 3; v++ {
			raw := make([]byte, 32)
			for i := range raw {
				switch v {
				case 0:
					raw[i] = byte(i*7 + ti*31 + 1)
				case 1:
					raw[i] = 0
				case 2:
					raw[i] = 0xFF ^ byte(i+ti)
				}
			}
			kp, err := nkeys.FromRawSeed(t.pre, raw)
			if err != nil {
				panic(err)
			}
			seed, _ := kp.Seed()
			pub, _ := kp.PublicKey()
			priv, _ := kp.PrivateKey()
			msg := fmt.Sprintf("nonce-%d-%s", v, t.name)
			sig, _ := kp.Sign([]byte(msg))
			fmt.Printf("key %s %s %s %s %s %s %s\n", t.name, hex.EncodeToString(raw), seed, pub, priv, msg,
				base64.RawURLEncoding.EncodeToString(sig))
		}
	}

	// Decoding errors, each with the text Go gives.
	user, _ := nkeys.FromRawSeed(nkeys.PrefixByteUser, make([]byte, 32))
	useed, _ := user.Seed()
	upub, _ := user.PublicKey()
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	inputs := []string{
		upub, string(useed),
		flip(upub, 10), flip(upub, 55), flip(string(useed), 20),
		"UA", "UAAA", "UAAAAAAA", "U", "", "ua" + upub[2:], upub[:30] + "1" + upub[31:], upub + "=",
		upub[:55], upub[:54], upub[:53], upub[:50], upub + "A", upub + "AA",
		upub[:20] + "\n" + upub[20:],
	}
	fmt.Println("# decode <input, quoted> <Decode(user) error or OK> <DecodeSeed error or OK> <Prefix> <IsValidPublicKey>")
	for _, in := range inputs {
		_, err1 := nkeys.Decode(nkeys.PrefixByteUser, []byte(in))
		_, _, err2 := nkeys.DecodeSeed([]byte(in))
		fmt.Printf("decode %q\t%s\t%s\t%s\t%v\n", in, text(err1), text(err2), nkeys.Prefix(in), nkeys.IsValidPublicKey(in))
	}
}

func text(err error) string {
	if err == nil {
		return "OK"
	}
	return err.Error()
}
