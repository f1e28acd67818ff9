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
want libxml2-dev pc:libxml-2.0
want libyaml-dev pc:yaml-0.1
# Servers.
want rabbitmq-server cmd:rabbitmq-server
want redis-server cmd:redis-server
if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then want docker.io; fi
want iptables cmd:iptables
# [workers] runtime = oci (docs/oci.md): the OCI runtime; ip, with which
# tests/unit/test_worker_oci.c looks at the network namespaces the worker
# makes (by rtnetlink, not ip).
want runc cmd:runc
want iproute2 cmd:ip
want busybox-static
# PID 1 of the platform's image (scripts/images.sh copies tini-static).
want tini cmd:tini-static
# The compose stack (compose/, scripts/compose.sh): Debian 12's Compose
# (1.29; ABACO_COMPOSE=v2 builds Compose v2+ from the Go module proxy), the
# base of abaco/rabbitmq (mmdebstrap) and redis-cli for abaco/redis.
want docker-compose cmd:docker-compose
want mmdebstrap cmd:mmdebstrap
want redis-tools cmd:redis-cli
# Tools.
want wrk cmd:wrk
# Profiles for bench/intake.sh BENCH_PERF=1.
want linux-perf cmd:perf
want valgrind cmd:valgrind
want curl cmd:curl
# Prometheus (scrapes /metrics in the functional tests; ships promtool).
want prometheus cmd:prometheus

# The test suite's Python modules: one list, tests/functional/requirements.txt,
# installed
# into a virtual environment of our own (var/venv) whatever kind of python3
# the machine has (Debian's, pyenv's, a venv's). Nothing is taken from the
# interpreter's own site-packages, so a module missing from the list fails
# here on every machine, not only on a fresh one. lib.sh puts var/venv/bin
# first on PATH, so `python3` in the scripts and tests is the venv's.
# Debian's python3 needs python3-venv for `-m venv` (ensurepip).
want python3 cmd:python3
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  MISSING+=(python3-venv)
fi

# setup_test_venv: (re)make var/venv when it is missing or broken, and
# install REQUIREMENTS into it when the list or the interpreter changed.
setup_test_venv() {
  [[ -f $REQUIREMENTS ]] || die "the test suite's module list $REQUIREMENTS is missing"
  local base_path=${PATH//"$VENV_DIR/bin:"/} stamp log="$LOG_DIR/pip.log"
  mkdir -p "$LOG_DIR"
  if ! "$VENV_DIR/bin/python3" -c '' >/dev/null 2>&1; then
    rm -rf "$VENV_DIR"
    say "python3 -m venv var/venv ($(PATH=$base_path python3 --version 2>&1), $(PATH=$base_path command -v python3))"
    PATH=$base_path python3 -m venv "$VENV_DIR" >>"$log" 2>&1 ||
      { log_tail "$log" 20; die "python3 -m venv $VENV_DIR failed"; }
  fi
  stamp="$(sha256sum <"$REQUIREMENTS" | cut -c1-16) $("$VENV_DIR/bin/python3" -c 'import sys; print(sys.version.split()[0])')"
  if [[ $(cat "$VENV_DIR/.requirements" 2>/dev/null) != "$stamp" ]]; then
    say "pip install -r tests/functional/requirements.txt (into var/venv; log var/log/pip.log)"
    "$VENV_DIR/bin/python3" -m pip install -q --disable-pip-version-check -r "$REQUIREMENTS" >>"$log" 2>&1 ||
      { log_tail "$log" 30; die "pip install -r $REQUIREMENTS failed"; }
    printf '%s\n' "$stamp" >"$VENV_DIR/.requirements"
  fi
  note "python: $("$VENV_DIR/bin/python3" --version 2>&1) in var/venv, pytest $("$VENV_DIR/bin/python3" -c 'import pytest; print(pytest.__version__)')"
}

if ((${#MISSING[@]} > 0)); then
  apt_install "${MISSING[@]}"
else
  note "all Debian packages present"
fi

setup_test_venv

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
  # The archive that serves bookworm here (a site mirror, perhaps) serves
  # its backports too.
  if ! apt_suite_uri bookworm-backports >/dev/null; then
    local uri
    uri=$(apt_suite_uri bookworm) ||
      die "no apt source of this machine serves bookworm; add bookworm-backports (or Go >= 1.22) by hand"
    note "adding bookworm-backports from $uri"
    echo "deb $uri bookworm-backports main" |
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
  say "FerretDB: already built ($FERRET_DEST, $("$FERRET_DEST" --version 2>/dev/null | sed -n 1p))"
elif ! is_local_host "$MONGO_HOST"; then
  say "FerretDB: mongo is remote ($MONGO_HOST:$MONGO_PORT); not building it"
else
  install_go
  build_ferretdb "$FERRET_DEST"
fi

say "dependencies ready in $(fmt_ms $(($(now_ms) - T0)))"
