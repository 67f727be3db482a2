#!/usr/bin/env python3
"""Network-level fuzzer: mutated protocol streams against a running (ASan+UBSan) pylon-server.

Many short connections send mutations of the seed corpus in random chunk sizes, with random
pauses, reads and abrupt closes (RST), to every listener the server has:
  - the client port and the route port: fuzz/corpus/proto_client, proto_route, json;
  - the WebSocket port (no_tls): a mutated HTTP upgrade, or a good one and then the client
    protocol in masked frames whose bytes (opcodes, lengths, masks, fragments, control
    frames) are mutated too;
  - the monitoring port: HTTP requests for every endpoint with mutated queries (corpus query);
  - the leaf node port, over TLS: a real handshake (Python's ssl) and then a mutated leaf
    protocol stream, or bytes that are no TLS handshake at all;
  - a second server's client and route ports, both TLS with verified client certificates (the
    client port: INFO, then TLS; the route port: TLS first, as 2.9 orders them): a handshake
    with a good certificate and then the mutated client or route protocol, or a handshake with
    a certificate from a CA the server does not trust, or with none, or bytes that are no
    handshake; and its WebSocket port over TLS (wss), as the plaintext one after a handshake;
  - a third server's client port with handshake_first (TLS before INFO), as the second's.
Meanwhile on each server a canary publisher and subscriber (over TLS on the others) exchange
numbered messages on a subject no mutation can guess; every one must arrive, once, in order.
The run fails on a server's death, a sanitizer report (the servers' ASAN_OPTIONS/UBSAN_OPTIONS
log_path directory), a sanitizer or "terminate called" line in a server's output, or a lost,
duplicated or reordered canary message.

It runs in a network namespace of its own (unshare -n, loopback only): a fuzzed route INFO
may advertise any address, and the server must not dial out of the machine because of it.
Inside the namespace nothing else listens, so the ports are fixed.

  fuzz/net_fuzz.py --server build-asan/pylon-server --seconds 60 [--workers 8] [--keep DIR]
"""
import argparse
import base64
import os
import random
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENT_PORT = 4222
ROUTE_PORT = 6222
WS_PORT = 8080
HTTP_PORT = 8222
LEAF_PORT = 7422
# The second server's: every client and route must use TLS, with a certificate from the test CA.
TLS_CLIENT_PORT = 4223
TLS_ROUTE_PORT = 6223
WSS_PORT = 8443
# The third server's client port: TLS before INFO (handshake_first).
TLS_FIRST_PORT = 4224
PORTS = {"client": CLIENT_PORT, "route": ROUTE_PORT, "ws": WS_PORT, "http": HTTP_PORT, "leaf": LEAF_PORT,
         "tls_client": TLS_CLIENT_PORT, "tls_route": TLS_ROUTE_PORT, "wss": WSS_PORT, "tls_first": TLS_FIRST_PORT}
# Which listener a connection goes to, by weight.
KINDS = [("client", 25), ("route", 20), ("ws", 10), ("http", 10), ("leaf", 10), ("tls_client", 10),
         ("tls_route", 5), ("wss", 5), ("tls_first", 5)]
# What a TLS listener's connections send once their handshake is done.
PLAIN_KIND = {"tls_client": "client", "tls_route": "route", "tls_first": "client", "wss": "ws"}
HTTP_PATHS = [b"/varz", b"/connz", b"/routez", b"/subsz", b"/leafz", b"/accountz", b"/healthz", b"/metrics",
              b"/", b"/gatewayz", b"/jsz", b"/accstatz"]
HTTP_TOKENS = [b"GET ", b"POST ", b" HTTP/1.1\r\n", b" HTTP/1.0\r\n", b"\r\n", b"\r\n\r\n", b"Host: x\r\n",
               b"Upgrade: websocket\r\n", b"Connection: Upgrade\r\n", b"Sec-WebSocket-Version: 13\r\n",
               b"Sec-WebSocket-Key: ", b"Sec-WebSocket-Extensions: permessage-deflate\r\n",
               b"Content-Length: 99999\r\n", b"Transfer-Encoding: chunked\r\n", b"?", b"&", b"=", b"%",
               b"%00", b"%zz", b"/../", b"\x00", b"\xff", b" ", b":"]

TOKENS = [b"PUB ", b"HPUB ", b"SUB ", b"UNSUB ", b"PING\r\n", b"PONG\r\n", b"CONNECT ", b"INFO ",
          b"RS+ ", b"RS- ", b"RMSG ", b"HMSG ", b"LS+ ", b"LMSG ", b"+OK\r\n", b"-ERR ", b"\r\n", b"\n",
          b" ", b"\t", b"$G ", b" + ", b" | ", b"0", b"5", b"999999999", b"-1", b"foo.*", b"foo.>", b">",
          b"NATS/1.0\r\n\r\n", b'{"verbose":false}', b'{"port":1.5}', b'"protocol":1e400', b'{"server_id":"X"}',
          b"\x00", b"\xff", b"{", b"}", b"[", b"]", b'"', b":", b","]


def load_corpus(name):
    d = os.path.join(ROOT, "fuzz", "corpus", name)
    out = []
    for f in sorted(os.listdir(d)):
        with open(os.path.join(d, f), "rb") as fh:
            out.append(fh.read())
    return out


def mutate(rng, data, pool):
    b = bytearray(data)
    for _ in range(rng.randint(0, 6)):
        op = rng.randrange(8)
        pos = rng.randint(0, len(b))
        if op == 0 and b:
            b[min(pos, len(b) - 1)] = rng.randrange(256)
        elif op == 1:
            b[pos:pos] = rng.choice(TOKENS)
        elif op == 2 and b:
            del b[pos:pos + rng.randint(1, 16)]
        elif op == 3:
            other = rng.choice(pool)
            s = rng.randint(0, len(other))
            b[pos:pos] = other[s:s + rng.randint(1, 64)]
        elif op == 4 and b:
            s = rng.randint(0, len(b) - 1)
            b[pos:pos] = b[s:s + rng.randint(1, 32)] * rng.randint(1, 8)
        elif op == 5:
            b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 6 and b:
            # A size field to something large, small or negative.
            b[pos:pos] = rng.choice([b" 0", b" 1", b" 4096", b" 1048577", b" 99999999", b" -5"])
        elif op == 7:
            del b[pos:]
    return bytes(b)


def ws_upgrade(rng):
    key = base64.b64encode(bytes(rng.randrange(256) for _ in range(16)))
    ext = b"Sec-WebSocket-Extensions: permessage-deflate\r\n" if rng.random() < 0.3 else b""
    return (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + b"\r\n" + ext + b"\r\n")


def ws_frame(rng, payload, opcode=2, fin=True):
    """A client frame (masked) around payload; the header forms a peer may choose, all of them."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    mask = bytes(rng.randrange(256) for _ in range(4))
    if n < 126 and rng.random() < 0.8:
        head = struct.pack("!BB", b0, 0x80 | n)
    elif n < 65536 and rng.random() < 0.8:
        head = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, 0x80 | 127, n)
    return head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


def ws_stream(rng, data):
    """The client protocol in frames: split anywhere, with continuations, pings and a close."""
    out = []
    pos = 0
    first = True
    while pos < len(data):
        n = rng.choice([1, 5, 64, 1000, len(data)])
        part = data[pos:pos + n]
        pos += n
        last = pos >= len(data)
        fin = last or rng.random() < 0.5
        out.append(ws_frame(rng, part, opcode=(rng.choice([1, 2]) if first else 0), fin=fin))
        first = fin
        if rng.random() < 0.1:
            out.append(ws_frame(rng, b"p" * rng.randint(0, 125), opcode=9))
    if rng.random() < 0.2:
        out.append(ws_frame(rng, struct.pack("!H", rng.choice([1000, 1001, 1002, 1005, 3000, 4999, 999])) + b"bye",
                            opcode=8))
    return b"".join(out)


def connection_bytes(rng, kind, pools):
    """What one connection of `kind` sends, mutated (over TLS, what its PLAIN_KIND sends)."""
    kind = PLAIN_KIND.get(kind, kind)
    if kind == "client":
        if rng.random() < 0.2:
            data = b"CONNECT " + rng.choice(pools["json"]) + b"\r\nPING\r\n"
        else:
            data = b"".join(rng.choice(pools["client"]) for _ in range(rng.randint(1, 3)))
        return mutate(rng, data, pools["client"])
    if kind == "route":
        if rng.random() < 0.2:
            data = (b'CONNECT {"verbose":false,"name":"F%d","cluster":""}\r\nINFO ' % rng.randrange(1 << 30) +
                    rng.choice(pools["json"]) + b"\r\n")
        else:
            data = b"".join(rng.choice(pools["route"]) for _ in range(rng.randint(1, 3)))
        return mutate(rng, data, pools["route"])
    if kind == "ws":
        if rng.random() < 0.3:
            return mutate(rng, ws_upgrade(rng), HTTP_TOKENS)  # sent alone (see fuzz_worker)
        proto = b"CONNECT {\"verbose\":false}\r\n" + b"".join(rng.choice(pools["client"])
                                                                for _ in range(rng.randint(1, 3)))
        frames = ws_stream(rng, mutate(rng, proto, pools["client"]))
        if rng.random() < 0.6:
            frames = mutate(rng, frames, [ws_frame(rng, b"PING\r\n"), b"\x88\x80", b"\x89\xfe", b"\x7f"])
        return frames
    if kind == "http":
        query = rng.choice(pools["query"]) if rng.random() < 0.7 else b""
        if query.startswith(b"/"):
            target = query
        else:
            target = rng.choice(HTTP_PATHS) + (b"?" + query if query else b"")
        data = b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        return mutate(rng, data, HTTP_TOKENS + pools["query"]) if rng.random() < 0.7 else data
    # leaf: the stream after the TLS handshake
    data = (b'CONNECT {"verbose":false,"name":"L%d","headers":true}\r\n' % rng.randrange(1 << 30) +
            b"".join(rng.choice(pools["leaf"]) for _ in range(rng.randint(1, 3))))
    return mutate(rng, data, pools["leaf"])


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.conns = {kind: 0 for kind, _ in KINDS}
        self.refused = 0
        self.bytes = 0

    def add(self, kind, nbytes, refused=False):
        with self.lock:
            self.conns[kind] += 1
            self.bytes += nbytes
            if refused:
                self.refused += 1


def tls_handshake(rng, s, kind, data, pools, ctxs):
    """The start of a connection to a TLS listener: the server's INFO first on a client port
    without handshake_first, then a handshake with a good client certificate (most), with one
    from a CA the server does not trust, or with none; or, instead, bytes that are no handshake
    (the stream the connection would have sent, behind a TLS record header or not). Returns
    the socket and the stream."""
    s.settimeout(2)
    if kind == "tls_client":
        s.recv(4096)
    r = rng.random()
    ctx = ctxs["good"] if r < 0.7 else ctxs["wrong"] if r < 0.8 else ctxs["none"] if r < 0.9 else None
    if ctx is None:
        head = b"\x16\x03\x01\x00\x05hello" if rng.random() < 0.5 else b""
        return s, mutate(rng, head + data, pools["client" if PLAIN_KIND[kind] == "ws" else PLAIN_KIND[kind]])
    return ctx.wrap_socket(s, server_hostname="localhost"), data


def fuzz_worker(seed, deadline, stats, pools, stop, ctxs):
    rng = random.Random(seed)
    kinds = [k for k, w in KINDS for _ in range(w)]
    while time.monotonic() < deadline and not stop.is_set():
        kind = rng.choice(kinds)
        data = connection_bytes(rng, kind, pools)
        sent = 0
        try:
            s = socket.create_connection(("127.0.0.1", PORTS[kind]), timeout=2)
        except OSError:
            stats.add(kind, 0, refused=True)
            continue
        try:
            s.settimeout(0.2)
            if kind == "leaf":
                # The server's INFO first, then TLS (2.9's order); or bytes that are no handshake.
                s.settimeout(2)
                s.recv(4096)
                if rng.random() < 0.8:
                    s = ctxs["leaf"].wrap_socket(s, server_hostname="localhost")
                else:
                    data = mutate(rng, b"\x16\x03\x01\x00\x05hello" + data, pools["leaf"])
                s.settimeout(0.2)
            elif kind in PLAIN_KIND:
                s, data = tls_handshake(rng, s, kind, data, pools, ctxs)
                s.settimeout(0.2)
            if PLAIN_KIND.get(kind, kind) == "ws" and not data.startswith(b"GET") and rng.random() < 0.9:
                # Frames go after the 101: data sent with the upgrade is refused as the
                # reference refuses it ("client sent data before handshake is complete").
                s.sendall(ws_upgrade(rng))
                s.settimeout(2)
                got = b""
                while b"\r\n\r\n" not in got:
                    chunk = s.recv(4096)
                    if not chunk:
                        raise OSError("closed before the 101")
                    got += chunk
                s.settimeout(0.2)
            elif kind in ("client", "route") and rng.random() < 0.7:
                try:
                    s.recv(4096)  # the INFO
                except OSError:
                    pass
            pos = 0
            while pos < len(data):
                n = rng.choice([1, 1, 2, 3, 7, 16, 64, 512, len(data)])
                s.sendall(data[pos:pos + n])
                sent += len(data[pos:pos + n])
                pos += n
                if rng.random() < 0.05:
                    time.sleep(rng.random() * 0.01)
            if rng.random() < 0.5:
                try:
                    s.recv(65536)
                except OSError:
                    pass
            if rng.random() < 0.3:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
        except (OSError, ssl.SSLError):
            pass  # the server closed on us: that is its answer to bad input
        finally:
            s.close()
        stats.add(kind, sent)


class Canary:
    """A publisher and a subscriber on one server; numbered messages, checked in order. With
    `ctx`, both connect over TLS: after the server's INFO, as 2.9 orders it, or before it with
    `tls_first` (handshake_first)."""

    def __init__(self, subject, port=CLIENT_PORT, ctx=None, tls_first=False):
        self.subject = subject
        self.port = port
        self.ctx = ctx
        self.tls_first = tls_first
        self.sent = 0
        self.received = 0
        self.errors = []
        self.done = threading.Event()
        self.sub = self._connect()
        self.sub.sendall(b"SUB %s 1\r\nPING\r\n" % subject.encode())
        self._await_pong(self.sub)
        self.pub = self._connect()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        if self.ctx and not self.tls_first:
            info = b""
            while not info.endswith(b"\r\n"):
                chunk = s.recv(1)
                if not chunk:
                    raise RuntimeError("canary: the server closed the connection before its INFO")
                info += chunk
        if self.ctx:
            s = self.ctx.wrap_socket(s, server_hostname="localhost")
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"name":"canary"}\r\n')
        return s

    @staticmethod
    def _await_pong(s):
        buf = b""
        deadline = time.monotonic() + 10
        while b"PONG\r\n" not in buf:
            if time.monotonic() > deadline:
                raise RuntimeError("canary: no PONG")
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError("canary: server closed the connection")
            buf += chunk

    def publish(self):
        self.sent += 1
        body = str(self.sent).encode()
        self.pub.sendall(b"PUB %s %d\r\n%s\r\n" % (self.subject.encode(), len(body), body))

    def flush(self):
        self.pub.sendall(b"PING\r\n")
        self.pub.settimeout(10)
        self._await_pong(self.pub)

    def _read(self):
        buf = b""
        self.sub.settimeout(1)
        while not self.done.is_set():
            try:
                chunk = self.sub.recv(65536)
            except socket.timeout:
                continue
            except OSError as e:
                self.errors.append("subscriber: %s" % e)
                return
            if not chunk:
                self.errors.append("subscriber: the server closed the connection")
                return
            buf += chunk
            while True:
                eol = buf.find(b"\r\n")
                if eol < 0:
                    break
                line = buf[:eol]
                if line.startswith(b"MSG "):
                    size = int(line.split()[-1])
                    if len(buf) < eol + 2 + size + 2:
                        break
                    body = buf[eol + 2:eol + 2 + size]
                    buf = buf[eol + 2 + size + 2:]
                    n = int(body)
                    if n != self.received + 1:
                        self.errors.append("canary message %d arrived after %d" % (n, self.received))
                    self.received = n
                else:
                    buf = buf[eol + 2:]
                    if line == b"PING":
                        self.sub.sendall(b"PONG\r\n")
                    elif line.startswith(b"-ERR"):
                        self.errors.append("subscriber got %r" % line)

    def wait_all(self, timeout):
        deadline = time.monotonic() + timeout
        while self.received < self.sent and time.monotonic() < deadline and not self.errors:
            time.sleep(0.01)
        self.done.set()


def sanitizer_reports(report_dir):
    return sorted(os.path.join(report_dir, f) for f in os.listdir(report_dir))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True, help="the pylon-server binary (an ASan+UBSan build)")
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS", 60)))
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--rate", type=int, default=200, help="canary messages per second")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--keep", help="directory for the server log and sanitizer reports (kept)")
    ap.add_argument("--in-netns", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if not args.in_netns:
        # Re-run inside a private network namespace with only loopback.
        cmd = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', sys.executable,
               os.path.abspath(__file__), "--in-netns"] + sys.argv[1:]
        return subprocess.call(cmd)

    work = args.keep or tempfile.mkdtemp(prefix="pylon-net-fuzz-")
    os.makedirs(work, exist_ok=True)
    reports = os.path.join(work, "sanitizer-reports")
    shutil.rmtree(reports, ignore_errors=True)
    os.makedirs(reports)
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "log_path=%s/asan:detect_leaks=1:abort_on_error=1" % reports
    env["UBSAN_OPTIONS"] = "log_path=%s/ubsan:print_stacktrace=1:halt_on_error=1" % reports
    certs = os.path.join(work, "certs")
    subprocess.run(["bash", os.path.join(ROOT, "tests", "common", "make-test-certs.sh"), certs], check=True,
                   stdout=subprocess.DEVNULL)
    tls_block = 'tls { cert_file: "%s/server.pem", key_file: "%s/server-key.pem", ca_file: "%s/ca.pem"%s }'
    confs = {
        # Every plaintext listener, and leaf nodes over TLS.
        "server": """listen: "127.0.0.1:%d"
http: "127.0.0.1:%d"
cluster { listen: "127.0.0.1:%d" }
websocket { listen: "127.0.0.1:%d", no_tls: true, compression: true }
leafnodes {
  listen: "127.0.0.1:%d"
  %s
}
""" % (CLIENT_PORT, HTTP_PORT, ROUTE_PORT, WS_PORT, LEAF_PORT, tls_block % (certs, certs, certs, "")),
        # Clients and routes over TLS only, each with a certificate the test CA signed.
        "tls-server": """listen: "127.0.0.1:%d"
%s
cluster {
  listen: "127.0.0.1:%d"
  %s
}
websocket {
  listen: "127.0.0.1:%d"
  compression: true
  %s
}
""" % (TLS_CLIENT_PORT, tls_block % (certs, certs, certs, ", verify: true, timeout: 2"), TLS_ROUTE_PORT,
       tls_block % (certs, certs, certs, ", timeout: 2"), WSS_PORT, tls_block % (certs, certs, certs, "")),
        # TLS before INFO; no client certificate asked for.
        "tls-first-server": """listen: "127.0.0.1:%d"
%s
""" % (TLS_FIRST_PORT, tls_block % (certs, certs, certs, ", handshake_first: true, timeout: 2")),
    }

    def context(cert=None):
        ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
        if cert:
            ctx.load_cert_chain(os.path.join(certs, cert + ".pem"), os.path.join(certs, cert + "-key.pem"))
        return ctx

    ctxs = {"leaf": context(), "good": context("client"), "wrong": context("wrong-client"), "none": context()}
    servers = {}
    for name, text in confs.items():
        conf = os.path.join(work, name + ".conf")
        with open(conf, "w") as fh:
            fh.write(text)
        with open(os.path.join(work, name + ".out"), "wb") as out:
            servers[name] = subprocess.Popen([args.server, "-c", conf, "-l", os.path.join(work, name + ".log")],
                                             stdout=out, stderr=subprocess.STDOUT, env=env)
    print("net_fuzz: servers %s, ports: %s, seed %d, %gs, logs in %s" %
          (", ".join("%s pid %d" % (n, p.pid) for n, p in servers.items()),
           ", ".join("%s %d" % kv for kv in PORTS.items()), args.seed, args.seconds, work), flush=True)
    failures = []

    def dead():
        return ["%s died (exit status %s)" % (n, p.returncode) for n, p in servers.items() if p.poll() is not None]

    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                for port in PORTS.values():
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if dead() or time.monotonic() > deadline:
                    raise RuntimeError("the servers did not start (%s)" % ("; ".join(dead()) or "no listener"))
                time.sleep(0.05)

        subject_rng = random.Random(args.seed)
        canaries = [Canary("canary.%016x" % subject_rng.getrandbits(64)),
                    Canary("canary.%016x" % subject_rng.getrandbits(64), TLS_CLIENT_PORT, ctxs["good"]),
                    Canary("canary.%016x" % subject_rng.getrandbits(64), TLS_FIRST_PORT, ctxs["none"], tls_first=True)]
        route = load_corpus("proto_route")
        pools = {"client": load_corpus("proto_client"), "route": route, "json": load_corpus("json"),
                 "query": load_corpus("query"),
                 # The leaf protocol: LS+/LS-/LMSG, and the route seeds' framing around them.
                 "leaf": [b"LS+ foo\r\n", b"LS+ foo.* q 1\r\n", b"LS- foo\r\n", b"LMSG foo 5\r\nhello\r\n",
                          b"LMSG foo + r q 2\r\nhi\r\n", b"HLMSG foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n",
                          b"PING\r\n", b"PONG\r\n", b"INFO {}\r\n"] + route}
        stats = Stats()
        stop = threading.Event()
        end = time.monotonic() + args.seconds
        workers = [threading.Thread(target=fuzz_worker, args=(args.seed * 1000 + i, end, stats, pools, stop, ctxs),
                                    daemon=True) for i in range(args.workers)]
        for w in workers:
            w.start()
        next_report = time.monotonic() + 5
        started = time.monotonic()
        def canary_line():
            return ", ".join("%d/%d" % (c.received, c.sent) for c in canaries)

        while time.monotonic() < end:
            for c in canaries:
                c.publish()
            time.sleep(1.0 / args.rate)
            now = time.monotonic()
            if dead():
                failures.extend(dead())
                break
            if sanitizer_reports(reports):
                failures.append("sanitizer report(s) written")
                break
            errors = [e for c in canaries for e in c.errors]
            if errors:
                failures.extend(errors)
                break
            if now >= next_report:
                next_report = now + 5
                print("net_fuzz: %3.0fs  connections: %s  canaries %s" %
                      (now - started, ", ".join("%s %d" % kv for kv in stats.conns.items()), canary_line()),
                      flush=True)
        stop.set()
        for w in workers:
            w.join(10)
        if not dead() and not failures:
            for c in canaries:
                c.flush()
            for c in canaries:
                c.wait_all(15)
                if c.errors:
                    failures.extend(c.errors)
                elif c.received != c.sent:
                    failures.append("canary %s lost messages: %d of %d arrived" % (c.subject, c.received, c.sent))
        total = sum(stats.conns.values())
        print("net_fuzz: %d connections tried (%s; %d refused), %d bytes sent" %
              (total, ", ".join("%s %d" % kv for kv in stats.conns.items()), stats.refused, stats.bytes))
        print("net_fuzz: canaries (plain, TLS, TLS first) %s sent and received in order" % canary_line())
    except Exception as e:  # noqa: BLE001 - any harness failure fails the run, with its reason
        failures.append("net_fuzz: %s" % e)
    finally:
        for name, server in servers.items():
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
                    failures.append("%s did not exit within 30s of SIGTERM" % name)
    for name in servers:
        with open(os.path.join(work, name + ".out"), "rb") as fh:
            output = fh.read().decode("utf-8", "replace")
        for needle in ("terminate called", "runtime error:", "AddressSanitizer", "LeakSanitizer"):
            if needle in output:
                failures.append("%s output contains %r" % (name, needle))
    for r in sanitizer_reports(reports):
        failures.append("sanitizer report %s" % r)
        with open(r, errors="replace") as fh:
            print(fh.read()[:6000])
    if failures:
        print("net_fuzz: FAILED")
        for f in failures:
            print("  " + f)
        print("net_fuzz: the servers' logs and output kept in %s" % work)
        return 1
    print("net_fuzz: PASSED (no crash, no sanitizer report, every canary message in order)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
