#!/usr/bin/env python3
# Random CONNECT/INFO-like JSON documents for the differential check (fuzz/json_diff/run.sh):
# the reference's field names with values of every JSON kind, numbers at the edges of Go's
# integer types, strings with escapes, surrogates and invalid UTF-8, base64 text, nesting,
# and byte-level damage. Prints one hex-encoded document per line.
#   gen.py SEED COUNT
import random, sys
random.seed(int(sys.argv[1]))
keys = ['"echo"','"verbose"','"pedantic"','"protocol"','"import"','"export"','"name"','"lang"','"user"','"pass"',
        '"auth_token"','"headers"','"no_responders"','"server_id"','"server_name"','"port"','"proto"','"max_payload"',
        '"client_id"','"cluster"','"cluster_dynamic"','"connect_urls"','"ldm"','"lnoc"','"gateway_cmd"',
        '"gateway_cmd_payload"','"gateway"','"host"','"VERBOSE"','"Port"','"x"','"n\\u0061me"','"allow"','"deny"']
def val(d=0):
    r = random.random()
    opts = ['true','false','null','1','-1','0','1.5','1e400','99999999999999999999','2147483648','-2147483649','255','256','-0','18446744073709551615','18446744073709551616',
            '"x"','"\\u00e9"','"\\ud83d\\ude00"','"\\ud83d"','"\\udc00x"','"\xff\xfe"','"\xc3\xa9"','"\xed\xa0\x80"','"\xf4\x90\x80\x80"','"\xe0\x80\x80"','"aGVsbG8="','"aGVsbG8"','"a=="','"YQ=\\n="','"Y Q=="','"===="','"YWJj\\r\\nZA=="','""','"\\/\\b\\f\\n\\r\\t\\"\\\\"']
    if d < 3 and r < 0.15:
        return '[' + ','.join(val(d+1) for _ in range(random.randint(0,3))) + ']'
    if d < 3 and r < 0.3:
        return '{' + ','.join(random.choice(keys)+':'+val(d+1) for _ in range(random.randint(0,3))) + '}'
    return random.choice(opts)
def doc():
    s = '{' + ','.join(random.choice(keys)+random.choice([':',' : '])+val() for _ in range(random.randint(0,4))) + '}'
    if random.random() < 0.3:
        b = bytearray(s.encode('latin-1'))
        for _ in range(random.randint(1,3)):
            op = random.random(); pos = random.randint(0, len(b))
            if op < 0.4 and b: del b[min(pos, len(b)-1)]
            elif op < 0.8: b.insert(pos, random.choice(b'{}[],:"\\ \t\n\r0-.eE+tfnaxu\x00\x7f\x80\xa0\xad\xff\'/'))
            else: b = b[:pos]
        return bytes(b)
    if random.random() < 0.05: return random.choice([b'[1]', b'"s"', b'1', b'true', b'null', b' ', b'', b'[' * 10001, b'{"a":' * 3 + b'1}}}'])
    return s.encode('latin-1')
for _ in range(int(sys.argv[2])): print(doc().hex())
