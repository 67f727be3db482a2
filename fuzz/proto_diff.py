#!/usr/bin/env python3
"""Differential check of the client protocol: the same random sessions against Pylon and
nats-server, each on a fresh connection, and every reply compared.

A session is CONNECT, one to six operations drawn from a small grammar (SUB, PUB, HPUB,
UNSUB, PING, PONG, +OK, a later CONNECT, odd spellings and a few ops no client may send;
subjects with wildcards, empty tokens and whitespace; payload sizes off by one), then PING.
What each server answers until it closes or goes quiet is compared, with one allowance:
the MSGs one publish delivers to several subscriptions of the connection may come in any
order (each server walks its own index), so those are compared as sets.

Usage: fuzz/proto_diff.py [--pylon PATH] [--nats PATH] [--seed N] [--cases N]
Prints each case that differs and a summary; exits 1 when any did. docs/fuzzing.md has what
it found and the differences still known."""
import argparse
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, port):
    p = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    sys.exit(f"{binary} did not listen on {port}")


def session(port, data, quiet=0.25, bound=1.5):
    """Sends `data` after the INFO; returns what came back until the server closed the
    connection or sent nothing for `quiet` seconds (at most `bound` in all)."""
    out = b""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(quiet)
        try:
            while b"\r\n" not in out:
                out += s.recv(65536)
            out = out.split(b"\r\n", 1)[1]  # the INFO line
            s.sendall(data)
            end = time.time() + bound
            while time.time() < end:
                try:
                    b = s.recv(65536)
                except socket.timeout:
                    break
                if not b:
                    out += b"<CLOSED>"
                    break
                out += b
        except (ConnectionResetError, BrokenPipeError):
            out += b"<RESET>"
    return out


def normalized(out):
    lines = out.split(b"\r\n")
    res, block, i = [], [], 0
    while i < len(lines):
        line = lines[i]
        if line.startswith((b"MSG ", b"HMSG ")):
            block.append(line + b" | " + (lines[i + 1] if i + 1 < len(lines) else b""))
            i += 2
            continue
        res.extend(sorted(block))
        block = []
        res.append(line)
        i += 1
    res.extend(sorted(block))
    return b"\n".join(res)


TOKENS = ["foo", "bar", "*", ">", "", "a b", "f\to", "x", "foo.bar", "$SYS", "_INBOX"]


def subject(r):
    return ".".join(r.choice(TOKENS) for _ in range(r.randint(1, 3)))


def operation(r):
    k = r.random()
    if k < 0.25:
        return f"SUB {subject(r)}{r.choice(['', '', ' q', ' q.1', ' *'])} {r.choice(['1', '2', '3', 'x', ''])}\r\n".encode()
    if k < 0.55:
        payload = r.choice(["", "hi", "hello", "x" * 10])
        size = max(0, len(payload) + r.choice([0, 0, 0, 0, 1, -1]))
        reply = r.choice(["", "", " reply", " r.*", " _INBOX.x"])
        return f"PUB {subject(r)}{reply} {size}\r\n{payload}\r\n".encode()
    if k < 0.65:
        return f"UNSUB {r.choice(['1', '2', '3', 'x'])}{r.choice(['', ' 1', ' 0', ' -1', ' a'])}\r\n".encode()
    if k < 0.72:
        return r.choice([b"PING\r\n", b"PONG\r\n", b"+OK\r\n", b"PING x\r\n"])
    if k < 0.80:
        hdr = "NATS/1.0\r\nA: b\r\n\r\n"
        payload = r.choice(["", "p"])
        h = len(hdr) + r.choice([0, 0, 1, -1])
        t = len(hdr) + len(payload) + r.choice([0, 0, 1])
        return f"HPUB {subject(r)} {h} {t}\r\n{hdr}{payload}\r\n".encode()
    if k < 0.90:
        return r.choice([b'CONNECT {"verbose":true}\r\n', b'CONNECT {"pedantic":true,"verbose":false}\r\n',
                         b'CONNECT {"echo":false,"verbose":false}\r\n', b"CONNECT {}\r\n",
                         b'CONNECT {"headers":true,"verbose":false}\r\n', b'CONNECT {"protocol":1,"verbose":false}\r\n'])
    return r.choice([b"sub foo 9\r\n", b"pub foo 1\r\nz\r\n", b"SUB  foo   7\r\n", b"PUB\tfoo\t1\r\nq\r\n",
                     b"MSG foo 1 1\r\nx\r\n", b"INFO {}\r\n"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pylon", default=str(ROOT / "build" / "pylon-server"))
    ap.add_argument("--nats", default="/usr/sbin/nats-server")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", type=int, default=300)
    a = ap.parse_args()
    pp, np_ = free_port(), free_port()
    servers = [start(a.pylon, pp), start(a.nats, np_)]
    differ = 0
    try:
        for i in range(a.cases):
            r = random.Random(a.seed * 1_000_003 + i)
            data = (b'CONNECT {"verbose":false,"headers":true}\r\n' +
                    b"".join(operation(r) for _ in range(r.randint(1, 6))) + b"PING\r\n")
            x, y = normalized(session(pp, data)), normalized(session(np_, data))
            if x != y:
                differ += 1
                print(f"=== case {i} (seed {a.seed}): {data!r}\n  pylon:       {x!r}\n  nats-server: {y!r}")
            if (i + 1) % 50 == 0:
                print(f"proto_diff: {i + 1}/{a.cases} cases, {differ} differ", file=sys.stderr)
    finally:
        for p in servers:
            p.terminate()
            p.wait()
    print(f"proto_diff: {a.cases} cases, {differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
