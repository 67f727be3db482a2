#!/usr/bin/env python3
# Writes the handwritten part of the seed corpus (fuzz/corpus/<target>/seed-*). Run from the
# repository root after changing it; regression inputs (crash-*) are added by hand beside them.
import glob, os, hashlib

def put(target, items):
    d = os.path.join('fuzz', 'corpus', target)
    os.makedirs(d, exist_ok=True)
    for data in items:
        if isinstance(data, str):
            data = data.encode('latin-1')
        name = 'seed-' + hashlib.sha1(data).hexdigest()[:12]
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)

# Client side: what tests/unit/parser_test.cc and the integration tests send and read.
put('proto_client', [
    'CONNECT {"verbose":false,"pedantic":false,"protocol":1,"headers":true}\r\nPING\r\n',
    'CONNECT{}\r\nCONNECT \r\n',
    'PING\r\nPONG\r\nPINGXYZ\r\n+OK\r\n',
    'PUB foo 5\r\nhello\r\n',
    'PUB foo reply.1 5\r\nhello\r\nPUB empty 0\r\n\r\n',
    'PUB crlf 4\r\n\r\n\r\n\r\n',
    'HPUB foo 12 17\r\nNATS/1.0\r\n\r\nhello\r\n',
    'HPUB foo reply 22 27\r\nNATS/1.0\r\nA: b\r\n\r\nhello\r\n',
    'HPUB foo 0 0\r\n\r\n',
    'SUB foo 1\r\nSUB foo q 2\r\nSUB foo.* 3\r\nSUB foo.> 4\r\n',
    'UNSUB 1\r\nUNSUB 2 10\r\nUNSUB 3 x\r\n',
    'pUb foo 1\r\nx\r\nsub a 1\r\nuNsUb 1\r\n',
    'PUB\tfoo \t reply\t 2\r\nab\r\n',
    'PUB foo 3\nabc\r\nSUB a 1\n',
    '-ERR \'Unknown Protocol Operation\'\r\nINFO {"server_id":"x"}\r\n',
    'INFO {"server_id":"S","version":"2.9.10","proto":1,"headers":true,"max_payload":1048576}\r\n',
    'MSG foo 1 5\r\nhello\r\nMSG foo 1 reply 0\r\n\r\n',
    'HMSG foo 1 12 17\r\nNATS/1.0\r\n\r\nhello\r\nHMSG foo 1 r 16 16\r\nNATS/1.0 503\r\n\r\n\r\n',
    'PUB foo 1000000000\r\n',
    'PUB foo -1\r\nx\r\n',
    'PUB foo 5\r\nhelloXY',
    'PUB a b c d\r\n',
    'SUB\r\n',
    'HPUB foo 10 5\r\n',
    'XYZ\r\n',
    'PUB foo 2\r\nab\r\n' * 20,
    'PUB ' + 'x' * 5000 + ' 1\r\nx\r\n',
    'SUB foo 1\r\nPUB foo 11\r\nhello world\r\nUNSUB 1\r\nPING\r\n',
])

put('proto_route', [
    'CONNECT {"echo":true,"verbose":false,"pedantic":false,"tls_required":false,"headers":true,"name":"NX","cluster":"c","cluster_dynamic":false,"lnoc":true}\r\n',
    'INFO {"server_id":"NX","server_name":"nx","version":"2.9.10","proto":1,"host":"127.0.0.1","port":4248,"headers":true,"max_payload":1048576,"cluster":"c","connect_urls":["127.0.0.1:4222"],"lnoc":true}\r\n',
    'PING\r\nPONG\r\n',
    'RS+ $G foo\r\nRS+ $G foo q 1\r\nRS- $G foo\r\nRS- $G foo q\r\n',
    'RS+ $G foo q 99999\r\nRS+ $G foo q x\r\n',
    'RMSG $G foo 5\r\nhello\r\n',
    'RMSG $G foo reply 5\r\nhello\r\n',
    'RMSG $G foo + reply q1 q2 5\r\nhello\r\n',
    'RMSG $G foo | q1 q2 q3 q4 q5 q6 q7 5\r\nhello\r\n',
    'RMSG $G foo + reply 0\r\n\r\n',
    'HMSG $G foo 12 17\r\nNATS/1.0\r\n\r\nhello\r\n',
    'HMSG $G foo + r q 12 12\r\nNATS/1.0\r\n\r\n',
    'LS+ cl $G foo\r\nLS+ cl $G foo q 2\r\nLS- $G foo\r\n',
    'LMSG cl $G foo 12 17\r\nNATS/1.0\r\n\r\nhello\r\n',
    'RMSG $G foo * q 5\r\nhello\r\n',
    'RMSG foo\r\n',
    'SUB foo 1\r\n',
    '-ERR \'Authorization Violation\'\r\n+OK\r\n',
])

json_seeds = [
    '{"verbose":false,"pedantic":false,"tls_required":false,"name":"","lang":"go","version":"1.24.0","protocol":1,"echo":true,"headers":true,"no_responders":true}',
    '{"verbose":true,"pedantic":true,"user":"a","pass":"b","auth_token":"t","name":"n\\u00e9\\ud83d\\ude00"}',
    '{"verbose":"x"}',
    '{"protocol":1e400}',
    '{"protocol":99999999999999999999}',
    '{"verbose":false,"name":"NX","cluster":5}',
    '{"import":{"allow":["a.>"],"deny":[1]}}',
    '{"export":null,"import":5}',
    '{"server_id":"S","server_name":"s","version":"2.9.10","proto":1,"git_commit":"","go":"go1.19.8","host":"0.0.0.0","port":4248,"headers":true,"auth_required":false,"tls_required":false,"tls_verify":false,"max_payload":1048576,"ip":"nats-route://127.0.0.1:4248/","cluster":"c","cluster_dynamic":true,"connect_urls":["127.0.0.1:4222","[::1]:4222"],"ldm":false,"lnoc":true,"monitor_url":"http://0.0.0.0:8222"}',
    '{"max_payload":2147483648}',
    '{"client_id":-1}',
    '{"gateway_cmd":256,"gateway_cmd_payload":"aGVsbG8="}',
    '{"gateway_cmd_payload":"aGVsbG8"}',
    '{"gateway_cmd_payload":[1,2,300]}',
    '{"connect_urls":"x"}',
    '{"connect_urls":[null,"a",{"b":1}]}',
    '{"PORT":"x","Server_ID":"y"}',
    '{"a":1,}',
    '{"a" 1}',
    '[1]', 'null', '"s"', '1', 'true', '', ' ',
    '{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}',
    '{"name":"\xff\xfe\xed\xa0\x80"}',
    '{"name":"\\ud800\\u0041"}',
    '{"lang":"go","verbose":3}',
    '{"verbose":false}{"verbose":true}',
    '{"n":-0.5e-3,"m":1E+2}',
]
put('json', json_seeds)
# The client library's reading of a server INFO: the same documents, and numbers a double
# cannot turn into an integer.
put('client_info', json_seeds + ['{"server_id":"S","version":"2.9.10","proto":1,"max_payload":1e300,"port":-1e300}'])

cfg = []
for pattern in ['tests/unit/testdata/config/*.conf', 'examples/cluster/*.conf']:
    for p in sorted(glob.glob(pattern)):
        data = open(p, 'rb').read()
        if b'include' in data.lower() and (b'/' in data or b'\\' in data):
            continue
        cfg.append(data)
cfg += [
    'port: 4222\nhttp: 8222\ndebug: true\n',
    'listen = 127.0.0.1:4222\nmax_payload: 64MB\nwrite_deadline: "2s"\n',
    'authorization {\n  user: a\n  password: "$2a$11$abc"\n  timeout: 2\n}\n',
    'cluster {\n  listen: 0.0.0.0:4248\n  routes = [\n    nats-route://127.0.0.1:5248\n    nats-route://127.0.0.1:6248\n  ]\n}\n',
    'a: 1\nb: $a\nc: $FUZZ_PORT\nd: $FUZZ_MAP\ne: $FUZZ_SELF\n',
    'include a.conf\ninclude b.conf\n',
    'include self.conf\n',
    'include bad.conf\n',
    'x: (\nraw\n)\n',
    "s: 'raw'\nt: \"esc \\t \\x41 \\\"\"\n",
    'd: 2016-05-04T18:53:41Z\nk: 1k\nm: 1MiB\nf: 1.5\nn: -5\n',
    '{ port: 4222 }\n',
    'a { b { c { d: [1, [2, [3]]] } } }\n',
    'x: [1, 2\n',
    '}\n',
    'port: 1kbb\n',
    '# comment\n// comment\nport 4222; http 8222,\n',
    '\xef\xbb\xbfport: 4222\n',
    'a: "\xff\n',
    # accounts (tests/unit/accounts_config_test.cc): users, exports, imports, no_auth_user
    'accounts {\n  A: {\n    users: [ {user: a, password: pa, permissions: {publish: {deny: "s.>"}, allow_responses: {max: 3, expires: "5s"}}} ]\n'
    '    exports: [ {stream: "news.>"}, {service: "help", accounts: [B], response_type: stream, response_threshold: "3s"} ]\n  }\n'
    '  B: {\n    users: [ {user: b, password: pb} ]\n'
    '    imports: [ {stream: {account: A, subject: "news.>"}, prefix: "a"}, {service: {account: A, subject: "help"}, to: "a.help"} ]\n  }\n}\n'
    'no_auth_user: b\n',
    'accounts: [A, B]\n',
]
put('config', cfg)

put('headers', [
    'NATS/1.0\r\n\r\n',
    'NATS/1.0\r\nA: b\r\nA: c\r\nKey-Two:  spaced value \r\n\r\n',
    'NATS/1.0 503\r\n\r\n',
    'NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\n\r\n',
    'NATS/1.0 -5 x\r\n\r\n',
    'NATS/1.0\r\nno colon\r\n\r\n',
    'NATS/1.0\r\n: empty key\r\n\r\n',
    'NATS/1.0\r\nA: b',
    'NATS/2.0\r\n\r\n',
    'NATS/1.0 99999999999\r\n\r\n',
])

put('query', [
    '/connz?limit=2&offset=1&sort=cid&subs=true',
    '/connz?limit=-1&offset=+5&cid=18446744073709551615',
    '/connz?limit=99999999999999999999&cid=18446744073709551616',
    '/connz?limit=1x&subs=maybe&auth=T',
    '/connz?limit=%2B1&sort=bytes_to&state=closed',
    '/subsz?subs=1;limit=0&test=foo.bar',
    '/routez?subs=detail#frag',
    '/varz?%zz=%4&a+b=c+d',
    '/connz?limit=+-5&offset=-+5',
    '/connz?limit=&limit=5',
])

# sub_index reads operations from raw bytes: a few random-looking seeds.
put('sub_index', [bytes(range(256)), bytes([0, 1, 2, 3] * 40), b'\x00' * 64, b'\xff\x01' * 80,
                  hashlib.sha512(b'a').digest() * 4, hashlib.sha512(b'b').digest() * 8])

# nkeys: keys, seeds and signatures from tests/unit/testdata/nkeys/vectors.txt (Go's nkeys made
# them from fixed patterns: public test data), a decorated seed file, and near misses.
nkey_lines = [l.split() for l in open('tests/unit/testdata/nkeys/vectors.txt') if l.startswith('key ')]
nkey_items = []
for f in nkey_lines:
    if f[1] in ('user', 'account') and f[2].startswith('00'):
        nkey_items += [f[3], f[4], f[5], f[7]]
put('nkeys', nkey_items + [
    '-----BEGIN USER NKEY SEED-----\nSUAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEQ\n------END USER NKEY SEED------\n',
    'UA5WUJ54Z23KILLCUOUNAKTPBVZWKM1VO4O6EQ5GHLAERIMLLHNCTYM5',
    'UA5WUJ54Z23KILLCUOUN\nAKTPBVZWKMQVO4O6EQ5GHLAERIMLLHNCTYM5A',
    'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==',
])

# WebSocket (websocket_frame_fuzz.cc): byte 0 picks the mode (0 frames, 1 round trip, 2 upgrade).
def ws_frame(payload, op=2, fin=True, rsv1=False, key=b'\x01\x02\x03\x04', mask=True):
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | op
    n = len(payload)
    mb = 0x80 if mask else 0
    if n < 126:
        h = bytes([b0, mb | n])
    elif n < 65536:
        h = bytes([b0, mb | 126]) + n.to_bytes(2, 'big')
    else:
        h = bytes([b0, mb | 127]) + n.to_bytes(8, 'big')
    if not mask:
        return h + payload
    return h + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))

put('websocket_frame', [
    b'\x00' + ws_frame(b'CONNECT {}\r\nPING\r\n'),
    b'\x00' + ws_frame(b'PUB foo 5\r\nhel', fin=False) + ws_frame(b'lo\r\n', op=0),
    b'\x00' + ws_frame(b'ping!', op=9) + ws_frame(b'', op=10) + ws_frame(b'SUB a 1\r\n'),
    b'\x00' + ws_frame(b'\x03\xe8bye', op=8),
    b'\x00' + ws_frame(b'\x03\xe8\xff\xfe', op=8),
    b'\x00' + ws_frame(b'x' * 300) + ws_frame(b'y' * 1000),
    b'\x00' + ws_frame(b'\xf2\x0c\x75\x52\x70\xf7\xf0\x0f\x00', rsv1=True),
    b'\x00' + ws_frame(b'abc', op=0),
    b'\x00' + ws_frame(b'abc', op=3),
    b'\x00' + ws_frame(b'abc', mask=False),
    b'\x01\x03' + b'MSG foo 1 5\r\nhello\r\n' * 20,
    b'\x01\x00PONG\r\n',
    b'\x02\x00GET / HTTP/1.1\r\nHost: localhost:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'
    b'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nOrigin: http://localhost:8080\r\n'
    b'User-Agent: Mozilla/5.0 Version/16 Safari/605\r\n\r\n',
    b'\x02\x02POST / HTTP/1.1\r\nHost: x\r\n\r\n',
    b'\x02\x01GET / HTTP/1.1\r\nHost: [::1]:80\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n'
    b'Sec-WebSocket-Key: a\r\nSec-WebSocket-Version: 13\r\nOrigin: https://example.com\r\n\r\nextra',
])
