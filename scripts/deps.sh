#!/usr/bin/env bash
# scripts/deps.sh -- install what the platform needs to build, run and be
# tested on a Debian 12 machine (`make deps`). Installs only what is
# missing: Debian packages are checked with dpkg / command -v / pkg-config
# first and `apt-get update` runs at most once, only when something must be
# installed. Python test tools come from PyPI when not importable, and
# FerretDB (the MongoDB-wire server) is built from the Go module proxy into
# var/tools/bin/ unless a server already listens on the mongo port.
#
# Environment: FORCE_FERRETDB=1 rebuilds FerretDB even when one exists.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

T0=$(now_ms)
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

# Installed packages, read once (one dpkg-query per package is slow).
declare -A INSTALLED=()
while read -r name status; do
  [[ $status == "install ok installed" ]] && INSTALLED[${name%%:*}]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' 2>/dev/null || true)
pkg_installed() { [[ -n ${INSTALLED[$1]:-} ]]; }

# want PKG [CHECK]: queue PKG unless CHECK finds it. CHECK is cmd:NAME
# (a command on PATH), pc:MODULE (a pkg-config module) or empty (dpkg only).
MISSING=()
want() {
  local pkg=$1 check=${2:-}
  if pkg_installed "$pkg"; then return 0; fi
  case $check in
    cmd:*) command -v "${check#cmd:}" >/dev/null 2>&1 && return 0 ;;
    pc:*) command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "${check#pc:}" && return 0 ;;
  esac
  MISSING+=("$pkg")
}

APT_UPDATED=0
apt_install() {
  (($# > 0)) || return 0
  [[ $(id -u) -eq 0 || -n $SUDO ]] || die "not root and no sudo: install these by hand: $*"
  if ((APT_UPDATED == 0)); then
    say "apt-get update"
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  # Keep package scripts from starting the servers as system services: the
  # local stack starts them itself (scripts/up.sh) and stops what it started.
  local policy=/usr/sbin/policy-rc.d added=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    added=1
  fi
  local rc=0 log="$LOG_DIR/apt.log"
  mkdir -p "$LOG_DIR"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$log" 2>&1 || rc=$?
  if ((added)); then $SUDO rm -f "$policy"; fi
  if ((rc != 0)); then
    log_tail "$log" 30
    die "apt-get install failed (exit $rc, full log $log)"
  fi
  note "installed (log: var/log/apt.log)"
}

say "checking Debian packages"
# Build tools.
want gcc cmd:gcc
want cmake cmd:cmake
want make cmd:make
want libc6-dev
want pkg-config cmd:pkg-config
want ca-certificates
# Libraries (headers + pkg-config files).
want libuv1-dev pc:libuv
want libhiredis-dev pc:hiredis
want librabbitmq-dev pc:librabbitmq
want libmongoc-dev pc:libmongoc-1.0
want libbson-dev pc:libbson-1.0
want libmicrohttpd-dev pc:libmicrohttpd
want libjansson-dev pc:jansson
want libcurl4-openssl-dev pc:libcurl
want libssl-dev pc:openssl
want libinih-dev pc:inih
want libjwt-dev pc:libjwt
# Servers.
want rabbitmq-server cmd:rabbitmq-server
want redis-server cmd:redis-server
if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then want docker.io; fi
want iptables cmd:iptables
want busybox-static
# Tools.
want wrk cmd:wrk
want valgrind cmd:valgrind
want curl cmd:curl
want python3 cmd:python3
# Prometheus (scrapes /metrics in the functional tests; ships promtool).
want prometheus cmd:prometheus

# pytest + requests (+ PyJWT and cryptography, which the identity tests use
# to make and forge tokens): Debian's packages for Debian's own python3 (pip
# refuses to install into it), PyPI for any other python3 (pyenv, venv) below.
PY_NEEDS_PIP=0
if ! command -v python3 >/dev/null 2>&1; then
  MISSING+=(python3-pytest python3-requests python3-jwt python3-cryptography)
elif ! python3 -c 'import pytest, requests, jwt, cryptography' >/dev/null 2>&1; then
  case $(readlink -f "$(command -v python3)") in
    /usr/bin/python3*) MISSING+=(python3-pytest python3-requests python3-jwt python3-cryptography) ;;
    *) PY_NEEDS_PIP=1 ;;
  esac
fi

if ((${#MISSING[@]} > 0)); then
  apt_install "${MISSING[@]}"
else
  note "all Debian packages present"
fi

pip_install() {
  if ! python3 -m pip --version >/dev/null 2>&1; then
    apt_install python3-pip
  fi
  python3 -m pip install -q "$@" ||
    python3 -m pip install -q --break-system-packages "$@"
}

if ((PY_NEEDS_PIP)) || ! python3 -c 'import pytest, requests, jwt, cryptography' >/dev/null 2>&1; then
  say "python3 -m pip install pytest requests PyJWT cryptography"
  pip_install pytest requests PyJWT cryptography
fi
python3 -c 'import pytest, requests, jwt, cryptography' || die "pytest/requests/jwt/cryptography still not importable by $(command -v python3)"
note "python: $(python3 --version 2>&1), pytest $(python3 -c 'import pytest; print(pytest.__version__)')"
if [[ -f $ABACO_ROOT/tests/functional/requirements.txt ]]; then
  say "python3 -m pip install -r tests/functional/requirements.txt"
  pip_install -r "$ABACO_ROOT/tests/functional/requirements.txt"
fi

# A Go toolchain new enough for FerretDB: /usr/local/go or Debian's
# versioned packages. Debian 12's own golang-go is 1.19 (too old), so fall
# back to bookworm-backports (priority 100: it upgrades nothing else).
install_go() {
  ensure_go && return 0
  if command -v go >/dev/null 2>&1; then
    warn "$(go version) is too old for FerretDB $FERRETDB_VERSION (needs go >= 1.22)"
  else
    warn "no Go toolchain found (FerretDB $FERRETDB_VERSION needs go >= 1.22)"
  fi
  note "Debian 12's golang-go is 1.19, too old; trying bookworm-backports"
  local codename
  codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
  [[ $codename == bookworm ]] || die "install Go >= 1.22 (e.g. into /usr/local/go) and rerun"
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian bookworm-backports main" |
      $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
  fi
  say "apt-get update (bookworm-backports)"
  $SUDO apt-get update -qq
  APT_UPDATED=1
  local pkg
  pkg=$(apt-cache pkgnames golang-1. 2>/dev/null | grep -E '^golang-1\.[0-9]+-go$' | sort -V | tail -1)
  [[ -n $pkg ]] || die "no golang-1.NN-go package found; install Go >= 1.22 by hand"
  apt_install -t bookworm-backports "$pkg"
  ensure_go || die "installed $pkg but still no go >= 1.22"
}

# RabbitMQ, run as root, drops to the rabbitmq user through su, which
# applies PAM limits: the default 1024 open files is too few to recover a
# node holding a thousand durable queues after a restart (it hangs).
LIMITS=/etc/security/limits.d/rabbitmq-nofile.conf
if [[ ! -f $LIMITS ]] && [[ -d /etc/security/limits.d ]]; then
  printf 'rabbitmq - nofile 20000\n' >"$LIMITS"
  note "raised the rabbitmq user's open-file limit ($LIMITS)"
fi

load_stack_config
FERRET_DEST="$TOOLS_BIN/ferretdb"
if [[ ${FORCE_FERRETDB:-0} == 1 ]]; then
  install_go
  build_ferretdb "$FERRET_DEST"
elif port_open "$MONGO_HOST" "$MONGO_PORT"; then
  say "FerretDB: something already listens on $MONGO_HOST:$MONGO_PORT ($(port_owner "$MONGO_PORT")); not building it"
elif [[ -x $FERRET_DEST && $(cat "$FERRET_DEST.build-id" 2>/dev/null) == "$FERRETDB_BUILD_ID" ]]; then
  say "FerretDB: already built ($FERRET_DEST, $("$FERRET_DEST" --version 2>/dev/null | head -1))"
elif ! is_local_host "$MONGO_HOST"; then
  say "FerretDB: mongo is remote ($MONGO_HOST:$MONGO_PORT); not building it"
else
  install_go
  build_ferretdb "$FERRET_DEST"
fi

say "dependencies ready in $(fmt_ms $(($(now_ms) - T0)))"
