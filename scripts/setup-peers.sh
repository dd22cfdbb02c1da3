#!/usr/bin/env bash
# setup-peers.sh - install the peers the interop and differential tests talk to.
#
# The peers are real programs, never our own code:
#   - Debian's xenstore-utils (xenstore-read/-write/-ls/..., libxenstore) and
#     python3-pyxs (a client that does not use libxenstore);
#   - Debian's chromium, which the hang report's test drives headless through
#     playwright-core (a devDependency that downloads no browser);
#   - Xen 4.17's own daemons, cxenstored (Debian installs it as "xenstored")
#     and oxenstored, from Debian 12's xen-utils-4.17, run WITHOUT a
#     hypervisor: the .debs are fetched with `apt-get download` and unpacked
#     with `dpkg -x` into a cache folder (nothing of Xen is installed: no
#     hypervisor, no init scripts), and scripts/peers/fakexen.c, preloaded,
#     answers the few calls the daemons make to Xen at start-up
#     (test/support/anchor_kit.ts starts them).
#
# Idempotent: a second run changes nothing. `apt-get update` runs only when a
# package is missing or a download fails. Needs root (or sudo) for apt-get.
#
# Environment:
#   XENODE_PEERS_DIR   cache folder (default ${XDG_CACHE_HOME:-$HOME/.cache}/xenode-peers)
#   XENODE_XEN_VERSION Debian version of xen-utils-4.17 (default: apt's candidate)
#
# Writes $XENODE_PEERS_DIR/env (XS_XEN_VERSION, XS_ROOT, XS_LIBDIR, XS_XENBIN,
# XS_STUB), read by test/support/anchor_kit.ts.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${XENODE_PEERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/xenode-peers}
say() { echo "setup-peers: $*" >&2; }
fail() { say "error: $*"; exit 1; }

export DEBIAN_FRONTEND=noninteractive
sudo=
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || fail "not root and no sudo: apt-get cannot run"
    sudo=sudo
fi
updated=
update_once() { [ -n "$updated" ] || { say "apt-get update"; $sudo apt-get update -qq; updated=1; }; }

# 1. Packages: the clients, and what building the stub needs (libxen-dev has
#    the headers of the libraries the stub replaces).
want=
for p in xenstore-utils python3-pyxs chromium gcc libc6-dev libxen-dev util-linux mount; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || want="$want $p"
done
if [ -n "$want" ]; then
    update_once
    say "apt-get install$want"
    # shellcheck disable=SC2086
    $sudo apt-get install -y -qq --no-install-recommends $want >/dev/null
fi

# 2. The daemons, unpacked (not installed). The libraries are pinned to the
#    daemons' version: they are built from the same Xen tree.
version() { apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n1; }
v=${XENODE_XEN_VERSION:-$(version xen-utils-4.17)}
[ -n "$v" ] || { update_once; v=$(version xen-utils-4.17); }
[ -n "$v" ] || fail "apt has no xen-utils-4.17 (Debian 12 with the main archive is needed)"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd -P)
root=$dir/root
if [ "$(cat "$dir/version" 2>/dev/null)" != "$v" ] || [ ! -x "$root/usr/lib/xen-4.17/bin/xenstored" ]; then
    rm -rf "$dir/debs" "$root" "$dir/version"
    mkdir -p "$dir/debs" "$root"
    pkgs=
    for p in xen-utils-4.17 xen-utils-common libxencall1 libxendevicemodel1 libxenevtchn1 libxenforeignmemory1 \
             libxengnttab1 libxenhypfs1 libxenmisc4.17 libxenstore4 libxentoolcore1 libxentoollog1; do
        pkgs="$pkgs $p=$v"
    done
    pkgs="$pkgs libyajl2"
    # As root, apt's download sandbox user "_apt" may not write here.
    asroot=()
    [ "$(id -u)" -ne 0 ] || asroot=(-o APT::Sandbox::User=root)
    say "apt-get download (Xen $v)"
    # shellcheck disable=SC2086
    (cd "$dir/debs" && apt-get download -qq "${asroot[@]}" $pkgs) ||
        { update_once; (cd "$dir/debs" && apt-get download -qq "${asroot[@]}" $pkgs); } ||
        fail "apt-get download failed"
    for deb in "$dir"/debs/*.deb; do dpkg -x "$deb" "$root"; done
    echo "$v" >"$dir/version"
fi
xenbin=$root/usr/lib/xen-4.17/bin
ctrl=$(find "$root/usr/lib" -name 'libxenctrl.so.*' -print -quit)
[ -n "$ctrl" ] || fail "no libxenctrl under $root"
libdir=$(dirname "$ctrl")
for b in xenstored oxenstored; do
    [ -x "$xenbin/$b" ] || fail "$xenbin/$b missing"
    ! LD_LIBRARY_PATH=$libdir ldd "$xenbin/$b" | grep 'not found' || fail "$b: unresolved libraries"
done

# 3. The stub, rebuilt when its source changes.
stub=$dir/libfakexen.so
if [ ! -f "$stub" ] || [ "$here/peers/fakexen.c" -nt "$stub" ]; then
    say "gcc fakexen.c"
    gcc -O2 -Wall -Werror -shared -fPIC -o "$stub.tmp" "$here/peers/fakexen.c" -ldl
    mv -f "$stub.tmp" "$stub"
fi

{
    echo "# written by scripts/setup-peers.sh"
    printf 'XS_XEN_VERSION=%s\nXS_ROOT=%s\nXS_LIBDIR=%s\nXS_XENBIN=%s\nXS_STUB=%s\n' "$v" "$root" "$libdir" "$xenbin" "$stub"
} >"$dir/env.tmp"
mv -f "$dir/env.tmp" "$dir/env"
say "ready: Xen $v in $dir"
