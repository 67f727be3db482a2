#!/usr/bin/env bash
# The newcomer's check: `make test` (as .ci/run) on a fresh Debian 12, in a chroot made
# by debootstrap. It proves that scripts/install-deps.sh installs everything from Debian's
# packages alone (on a fresh Debian that means Node.js 18 and npm 9, not a newer Node an
# image may ship) and that the suite passes there. Needs root, debootstrap and the network
# to Debian's mirror and the npm registry; takes 15-20 minutes on 2 cores.
#
#   scripts/fresh-debian.sh [DIR]     (default DIR: /var/tmp/pylon-fresh-debian)
#
# DIR/root is the chroot. An existing one is reused (debootstrap is skipped; install-deps
# finds its packages there). The repository is cloned into it at HEAD, so commit first;
# ../shared is copied beside the clone as in CI. The host's /etc/hosts, resolv.conf and
# local CA certificates (a proxy's, say) are copied in, as a real machine would have its
# own. The log is DIR/ci.log; the exit code is .ci/run's.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-/var/tmp/pylon-fresh-debian}
root=$dir/root
mkdir -p "$dir"

if [ ! -x "$root/bin/bash" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
  echo "fresh-debian: debootstrap bookworm into $root"
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$dir/debootstrap.log" 2>&1 ||
    { tail -20 "$dir/debootstrap.log"; exit 1; }
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
[ -f "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
if [ -n "$(ls /usr/local/share/ca-certificates 2>/dev/null)" ]; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/* "$root/usr/local/share/ca-certificates/"
  if [ -x "$root/usr/sbin/update-ca-certificates" ]; then chroot "$root" update-ca-certificates >/dev/null; fi
fi

mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
for m in proc sys dev; do
  if ! mountpoint -q "$root/$m"; then
    case $m in
      proc) mount -t proc proc "$root/proc" ;;
      *) mount --rbind "/$m" "$root/$m" ;;
    esac
    mounted+=("$root/$m")
  fi
done

echo "fresh-debian: cloning $(git -C "$repo" rev-parse --short HEAD) into $root/work/check/main"
rm -rf "$root/work/check"
mkdir -p "$root/work/check"
git clone -q "$repo" "$root/work/check/main"
if [ -d "$repo/../shared" ]; then cp -r "$repo/../shared" "$root/work/check/shared"; fi

echo "fresh-debian: .ci/run in the chroot (log: $dir/ci.log)"
rc=0
# install-deps.sh runs first and needs ca-certificates before npm: refresh the store after it.
chroot "$root" bash -c 'cd /work/check/main && export CI=true &&
  ./scripts/install-deps.sh && { [ ! -x /usr/sbin/update-ca-certificates ] || update-ca-certificates >/dev/null; } &&
  node --version && npm --version && bash .ci/run </dev/null' >"$dir/ci.log" 2>&1 || rc=$?
tail -6 "$dir/ci.log"
echo "fresh-debian: .ci/run exit $rc"
exit $rc
