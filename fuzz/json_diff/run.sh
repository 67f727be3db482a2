#!/usr/bin/env bash
# The JSON differential check of `make fuzz`: Pylon's CONNECT/INFO decoding (pylon_side.cc,
# built in the fuzz build dir) against go1.19's encoding/json into nats-server 2.9.10's own
# structs (oracle.go), on generated documents plus every input of the json fuzz target's
# corpus (committed and newly found). Any difference in an error text or a decoded field
# fails, printing the input. Skipped (exit 0 with a message) without the go tool.
#   fuzz/json_diff/run.sh <fuzz build dir>
set -euo pipefail
cd "$(dirname "$0")/../.."
bf=$1
if ! command -v go >/dev/null 2>&1; then
  echo "json_diff: no go tool (Debian golang-go); skipped"
  exit 0
fi
out=$bf/json_diff
mkdir -p "$out"
(cd fuzz/json_diff && GOCACHE=$(realpath "../../$out")/go-cache GOFLAGS=-mod=mod GOPROXY=off \
  go build -o "$(realpath "../../$out")/oracle" oracle.go)
count=$(( ${FUZZ_SECONDS:-60} * 500 ))
python3 fuzz/json_diff/gen.py "$RANDOM" "$count" > "$out/inputs.hex"
for d in fuzz/corpus/json "$bf/corpus/json"; do
  [ -d "$d" ] || continue
  find "$d" -type f -size -64k -print0 | xargs -0 -r -n 200 python3 -c '
import sys
for p in sys.argv[1:]:
    print(open(p, "rb").read().replace(b"\n", b"").hex())' >> "$out/inputs.hex"
done
"$out/oracle" < "$out/inputs.hex" | sed 's/main\.\(ClientOpts\|Info\|connectInfo\|SubjectPermission\)/server.\1/g' > "$out/go.txt"
"$bf/json_diff_pylon" < "$out/inputs.hex" > "$out/pylon.txt"
n=$(wc -l < "$out/inputs.hex")
if ! cmp -s "$out/go.txt" "$out/pylon.txt"; then
  echo "json_diff: Pylon and Go differ; first differences (input hex, then Go, then Pylon):"
  paste -d '\n' <(awk '{for(i=0;i<3;i++) print}' "$out/inputs.hex") "$out/go.txt" "$out/pylon.txt" |
    awk 'NR%3==1{i=$0} NR%3==2{g=$0} NR%3==0{if (g!=$0) {print i; print "  go:    " g; print "  pylon: " $0; if (++k==10) exit}}' || true
  exit 1
fi
errors=$(grep -c -v '<nil>\|: lang$' "$out/go.txt" || true)
echo "json_diff: $n inputs x 3 structs, identical to go1.19 ($errors error texts, the rest decoded values)"
