# Free loopback ports for the scripts that start servers (sourced by bench.sh, msgcost.sh,
# clientcost.sh, scale.sh, route-join.sh and route-mesh.sh; the tests lease theirs with
# tests/common/test_ports.h instead).
#
# A port is free when no socket uses it (ss) and nothing accepts on it (a probe). The ports
# a script has picked are kept in a file, $TMP/picked-ports, not in a variable: pick_port
# runs in $(...), a subshell, where a variable's update is lost, so two picks could have
# named the same port. The caller's TMP (its temporary directory) must exist.

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A free port not picked before (since ports_forget).
pick_port() {
  local port list="${TMP:?TMP must name the temporary directory}/picked-ports"
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    grep -qx "$port" "$list" 2>/dev/null && continue
    if command -v ss >/dev/null 2>&1; then
      [ -z "$(ss -Htan "( sport = :$port )" 2>/dev/null)" ] || continue
    fi
    port_open "$port" && continue
    echo "$port" >>"$list"
    echo "$port"
    return 0
  done
  echo "$(basename "$0"): found no free port" >&2
  exit 1
}

# Forgets the ports picked so far (a new setup may use them again once they are free).
ports_forget() { rm -f "${TMP:?}/picked-ports"; }
