# scripts/lib.sh -- shell functions shared by the local-stack scripts
# (deps.sh, up.sh, down.sh, test.sh). Source it from bash; it sets no shell
# options itself. Paths are absolute and computed from this file's location,
# so the scripts work from any current directory.
#
# Ownership rule: a server or service counts as "ours" only while a pid file
# under var/run/ names a live process whose command line still matches what
# we started. down.sh stops only those; anything found already running is
# reused and left alone.

# shellcheck shell=bash
# Globals set here are used by the scripts that source this file.
# shellcheck disable=SC2034

ABACO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VAR_DIR="$ABACO_ROOT/var"
RUN_DIR="$VAR_DIR/run"
LOG_DIR="$VAR_DIR/log"
TOOLS_BIN="$VAR_DIR/tools/bin"
BUILD_DIR="${ABACO_BUILD_DIR:-$ABACO_ROOT/build}"
FERRETDB_VERSION="v1.24.0"
# Changes when our build of it changes (see build_ferretdb), forcing a rebuild.
FERRETDB_BUILD_ID="$FERRETDB_VERSION+idindex1+static"
# Compose v2+ (`ABACO_COMPOSE=v2` in scripts/compose.sh): Debian 12 packages
# only docker-compose 1.29, so build_compose_v2 builds the Compose CLI from
# the Go module proxy at this pinned version (v5.6.0's go.mod says go
# 1.26.8, the machine's Go; later versions need a newer one).
COMPOSE_V2_MODULE="github.com/docker/compose/v5"
COMPOSE_V2_VERSION="v5.6.0"
# Platform services started by up.sh, in start order (worker is started by
# the spawner, never directly).
ABACO_SERVICES=(api spawner health clientg updater launcher)
# The login the stack's SMTP sink accepts with AUTH (loopback, tests only;
# sending without AUTH works too).
SMTP_SINK_AUTH="abaco-notify:sink-secret"
# Its TLS listeners (STARTTLS required; TLS from the first byte), with a
# self-signed certificate it writes to var/smtp/tls/cert.pem at each start.
SMTP_SINK_STARTTLS_PORT=2587
SMTP_SINK_SMTPS_PORT=2465

# Configuration file: ABACO_CONF (relative to the caller's cwd) or the repo's.
if [[ -n ${ABACO_CONF:-} ]]; then
  case $ABACO_CONF in
    /*) ;;
    *) ABACO_CONF="$PWD/$ABACO_CONF" ;;
  esac
else
  ABACO_CONF="$ABACO_ROOT/abaco.conf"
fi
export ABACO_CONF

# The test suite's Python environment (scripts/deps.sh makes it from
# REQUIREMENTS); first on PATH, so `python3` in the scripts and the tests is
# the venv's, never a machine's interpreter with modules installed by hand.
VENV_DIR="$VAR_DIR/venv"
REQUIREMENTS="$ABACO_ROOT/tests/functional/requirements.txt"
case ":$PATH:" in *":$VENV_DIR/bin:"*) ;; *) PATH="$VENV_DIR/bin:$PATH" ;; esac

# Sbin dirs (rabbitmq-server, dockerd, iptables) and a Go toolchain, if any.
for _d in /usr/local/sbin /usr/sbin /sbin /usr/local/go/bin "${HOME:-/root}/go/bin"; do
  if [[ -d $_d && ":$PATH:" != *":$_d:"* ]]; then PATH="$PATH:$_d"; fi
done
unset _d
export PATH

# ---------------------------------------------------------------- output

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf '!!  %s\n' "$*" >&2; }
die() {
  printf 'ERROR: %s\n' "$*" >&2
  exit 1
}

# Milliseconds since the epoch, and a duration formatter.
now_ms() { date +%s%3N; }
fmt_ms() { printf '%d.%01ds' $(($1 / 1000)) $(($1 % 1000 / 100)); }

# Print the last lines of a log file, indented, to stderr.
log_tail() {
  local file=$1 n=${2:-30}
  if [[ -s $file ]]; then
    printf -- '---- last %d lines of %s ----\n' "$n" "$file" >&2
    # Only what the latest start wrote (start_bg marks each start).
    awk '/^===== .*: starting / { n = 0 } { buf[n++] = $0 } END { for (i = 0; i < n; i++) print buf[i] }' "$file" |
      tail -n "$n" | sed 's/^/    /' >&2
    printf -- '----\n' >&2
  else
    printf '    (%s is empty or missing)\n' "$file" >&2
  fi
}

# ---------------------------------------------------------------- config

# conf_get SECTION OPTION [DEFAULT]: the environment variable
# <section>_<option> when set and non-empty (the same override rule as the
# services), else the value in $ABACO_CONF, else DEFAULT.
conf_get() {
  local sec=$1 opt=$2 def=${3-} env="${1}_${2}" val=""
  if [[ $env =~ ^[A-Za-z_][A-Za-z0-9_]*$ && -n ${!env:-} ]]; then
    printf '%s\n' "${!env}"
    return 0
  fi
  if [[ -r $ABACO_CONF ]]; then
    val=$(awk -v s="$sec" -v k="$opt" '
      /^[ \t]*[;#]/ { next }
      /^[ \t]*\[/ { cur = $0; gsub(/^[ \t]*\[|\][ \t]*$/, "", cur); next }
      cur == s {
        i = index($0, "="); if (!i) next
        kk = substr($0, 1, i - 1); v = substr($0, i + 1)
        gsub(/^[ \t]+|[ \t]+$/, "", kk); gsub(/^[ \t]+|[ \t]+$/, "", v)
        if (tolower(kk) == tolower(k)) val = v
      }
      END { printf "%s", val }' "$ABACO_CONF")
  fi
  printf '%s\n' "${val:-$def}"
}

# Loopback / unspecified host: a server we may start ourselves.
is_local_host() {
  case $1 in
    "" | localhost | 127.* | ::1 | "[::1]" | 0.0.0.0) return 0 ;;
    *) return 1 ;;
  esac
}

# Host to connect to when a service binds HOST (0.0.0.0 -> 127.0.0.1).
connect_host() {
  case $1 in
    "" | 0.0.0.0 | "*") echo 127.0.0.1 ;;
    *) echo "$1" ;;
  esac
}

# Read every address the stack needs into globals.
load_stack_config() {
  REDIS_HOST=$(conf_get store redis_host 127.0.0.1)
  REDIS_PORT=$(conf_get store redis_port 6379)
  MONGO_HOST=$(conf_get store mongo_host 127.0.0.1)
  MONGO_PORT=$(conf_get store mongo_port 27017)
  MONGO_DB=$(conf_get store mongo_db abaco)
  AMQP_URI=$(conf_get rabbit uri "amqp://guest:guest@127.0.0.1:5672/%2f")
  local rest=${AMQP_URI#*://} def_port=5672
  [[ $AMQP_URI == amqps://* ]] && def_port=5671
  rest=${rest%%/*}
  rest=${rest##*@}
  if [[ $rest == *:* ]]; then
    RABBIT_HOST=${rest%:*}
    RABBIT_PORT=${rest##*:}
  else
    RABBIT_HOST=$rest
    RABBIT_PORT=$def_port
  fi
  RABBIT_NODENAME=${ABACO_RABBIT_NODENAME:-rabbit@localhost}
  # The management API ([rabbit] management_url; empty: not wanted): the
  # health agent lists orphan queues through it.
  RABBIT_MGMT_URL=$(conf_get rabbit management_url "http://127.0.0.1:15672")
  RABBIT_MGMT_HOST="" RABBIT_MGMT_PORT=""
  if [[ -n $RABBIT_MGMT_URL ]]; then
    rest=${RABBIT_MGMT_URL#*://}
    rest=${rest%%/*}
    rest=${rest##*@}
    if [[ $rest == *:* ]]; then
      RABBIT_MGMT_HOST=${rest%:*} RABBIT_MGMT_PORT=${rest##*:}
    else
      RABBIT_MGMT_HOST=$rest RABBIT_MGMT_PORT=80
      [[ $RABBIT_MGMT_URL == https://* ]] && RABBIT_MGMT_PORT=443
    fi
  fi
  local dd
  dd=$(conf_get docker dd "unix:///var/run/docker.sock")
  DOCKER_SOCK=""
  if [[ $dd == unix://* ]]; then DOCKER_SOCK=${dd#unix://}; fi
  DOCKER_DD=$dd
  # The cloud endpoint ([cloud] endpoint, one base URL for EC2 and
  # CloudFormation; empty: AWS itself). A loopback one is a moto server that
  # up.sh starts (MOTO_HOST/MOTO_PORT empty otherwise).
  CLOUD_ENDPOINT=$(conf_get cloud endpoint "")
  CLOUD_ENDPOINT=${CLOUD_ENDPOINT%/}
  MOTO_HOST="" MOTO_PORT=""
  if [[ $CLOUD_ENDPOINT == http://* ]]; then
    rest=${CLOUD_ENDPOINT#http://}
    rest=${rest%%/*}
    rest=${rest##*@}
    local mhost=$rest mport=80
    if [[ $rest == \[*\]:* ]]; then
      mhost=${rest%]:*}] mport=${rest##*]:}
    elif [[ $rest == *:* && $rest != \[* ]]; then
      mhost=${rest%:*} mport=${rest##*:}
    fi
    if [[ -n $mhost ]] && is_local_host "$mhost" && [[ $mport =~ ^[0-9]+$ ]]; then
      MOTO_HOST=$mhost MOTO_PORT=$mport
    fi
  fi
  # The SMTP server of the notify action ([smtp] host/port; empty host:
  # email off). A loopback one without TLS is the stack's own sink
  # (scripts/smtp_sink.py), which up.sh starts (SMTP_SINK_PORT empty
  # otherwise); what it receives lands in SMTP_SPOOL.
  SMTP_HOST=$(conf_get smtp host "")
  SMTP_TLS=$(conf_get smtp tls none)
  SMTP_PORT=$(conf_get smtp port "")
  if [[ -z $SMTP_PORT ]]; then
    SMTP_PORT=25
    [[ ${SMTP_TLS,,} == smtps ]] && SMTP_PORT=465
  fi
  SMTP_SINK_PORT=""
  if [[ -n $SMTP_HOST ]] && is_local_host "$SMTP_HOST" && [[ ${SMTP_TLS,,} == none ]] &&
    [[ $SMTP_PORT =~ ^[0-9]+$ ]]; then
    SMTP_SINK_PORT=$SMTP_PORT
  fi
  SMTP_SPOOL="$VAR_DIR/smtp"
  WEB_BIND=$(conf_get web bind 127.0.0.1)
  WEB_PORT=$(conf_get web port 8000)
  WEB_URL="http://$(connect_host "$WEB_BIND"):$WEB_PORT"
}

# Environment for unit and functional tests that need the live servers.
export_test_env() {
  load_stack_config
  REDIS_URL="redis://$(connect_host "$REDIS_HOST"):$REDIS_PORT"
  MONGO_URL="mongodb://$(connect_host "$MONGO_HOST"):$MONGO_PORT"
  export REDIS_URL MONGO_URL AMQP_URI
  # The moto server the stack starts for a loopback [cloud] endpoint (the
  # AWS client's tests, test_aws_moto); else moto's usual port.
  if [[ -z ${MOTO_URL:-} ]]; then
    local ep
    ep=$(conf_get cloud endpoint "")
    case $ep in
      http://127.0.0.1:* | http://localhost:*) MOTO_URL=${ep%/} ;;
      *) MOTO_URL=http://127.0.0.1:5000 ;;
    esac
  fi
  export MOTO_URL
  # The stack's SMTP sink (test_notify): where it listens, where it keeps
  # what it receives, and the one login its AUTH accepts.
  if [[ -z ${SMTP_URL:-} ]]; then
    SMTP_URL="smtp://127.0.0.1:${SMTP_SINK_PORT:-2525}"
  fi
  SMTP_STARTTLS_URL=${SMTP_STARTTLS_URL:-smtp://127.0.0.1:$SMTP_SINK_STARTTLS_PORT}
  SMTPS_URL=${SMTPS_URL:-smtps://127.0.0.1:$SMTP_SINK_SMTPS_PORT}
  export SMTP_URL SMTP_STARTTLS_URL SMTPS_URL SMTP_SPOOL SMTP_SINK_AUTH
  export ABACO_API="${ABACO_API:-$WEB_URL}"
  if [[ -n $DOCKER_SOCK ]]; then export DOCKER_HOST="unix://$DOCKER_SOCK"; fi
  export ABACO_SOURCE_DIR="$ABACO_ROOT"
  export ABACO_BUILD="$BUILD_DIR"
}

# Names of the environment variables that override config options
# (<section>_<option> for every section of $ABACO_CONF), set right now.
conf_override_vars() {
  local sec v
  [[ -r $ABACO_CONF ]] || return 0
  while read -r sec; do
    for v in $(compgen -e -- "${sec}_"); do echo "$v"; done
  done < <(sed -n 's/^[[:space:]]*\[\([A-Za-z0-9_]*\)\].*/\1/p' "$ABACO_CONF")
}

# apt_suite_uri SUITE: the first archive URI that this machine's own apt
# sources (one-line .list files and deb822 .sources files under $APT_ETC,
# default /etc/apt) use for SUITE, e.g. `apt_suite_uri bookworm`; fails when
# none does. So a site mirror is followed rather than a hard-coded host.
apt_suite_uri() {
  local suite=$1 etc=${APT_ETC:-/etc/apt} f uri=""
  for f in "$etc/sources.list" "$etc"/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    uri=$(awk -v s="$suite" '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == s) { print $i; exit }
      }' "$f")
    [[ -n $uri ]] && break
  done
  if [[ -z $uri ]]; then
    for f in "$etc"/sources.list.d/*.sources; do
      [[ -r $f ]] || continue
      uri=$(awk -v s="$suite" '
        function flush() {
          if (on && types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " s " ")) {
            split(uris, u, " "); print u[1]; found = 1; exit
          }
          types = uris = suites = ""; on = 1
        }
        BEGIN { on = 1 }
        /^[ \t]*$/ { flush(); next }
        /^#/ { next }
        {
          k = tolower(substr($0, 1, index($0, ":") - 1)); v = substr($0, index($0, ":") + 1)
          gsub(/^[ \t]+|[ \t]+$/, "", v)
          if (k == "types") types = v; else if (k == "uris") uris = v
          else if (k == "suites") suites = v; else if (k == "enabled" && tolower(v) == "no") on = 0
        }
        END { if (!found) flush() }' "$f")
      [[ -n $uri ]] && break
    done
  fi
  [[ -n $uri ]] || return 1
  printf '%s\n' "$uri"
}

# run_unit_tests [BUILD_DIR]: ctest with the live servers' addresses
# (REDIS_URL, MONGO_URL, AMQP_URI, DOCKER_HOST, MOTO_URL, SMTP_URL) but without config overrides
# meant for the stack (e.g. web_port=8001), which would leak into the config
# tests. Every server is given, so a skipped test is a failure here.
run_unit_tests() {
  local dir=${1:-$BUILD_DIR} unset_args=() v n rc=0 out
  export_test_env
  local docker_host=${DOCKER_HOST:-$DOCKER_DD}
  note "REDIS_URL=$REDIS_URL MONGO_URL=$MONGO_URL AMQP_URI=$AMQP_URI DOCKER_HOST=$docker_host MOTO_URL=$MOTO_URL SMTP_URL=$SMTP_URL"
  for v in $(conf_override_vars); do unset_args+=(-u "$v"); done
  if ((${#unset_args[@]} > 0)); then
    note "not passed to unit tests: $(conf_override_vars | tr '\n' ' ')"
  fi
  n=$(ctest --test-dir "$dir" -N 2>/dev/null | sed -n 's/^Total Tests: *//p')
  if [[ ${n:-0} == 0 ]]; then
    warn "no unit tests are registered in $dir (tests/unit/test_*.c)"
  fi
  out=$(mktemp) || return 1
  {
    env "${unset_args[@]}" DOCKER_HOST="$docker_host" ctest --test-dir "$dir" \
      --output-on-failure | tee "$out"
    rc=${PIPESTATUS[0]}
  } || true
  n=$(grep -c '(Skipped)$' "$out" || true)
  rm -f "$out"
  if ((n > 0)); then
    warn "$n unit test(s) skipped although every server was given: counted as a failure"
    if ((rc == 0)); then rc=1; fi
  fi
  return "$rc"
}

# ---------------------------------------------------------------- probes

# port_open HOST PORT: something accepts TCP connections there.
port_open() {
  # shellcheck disable=SC2016 # $0/$1 expand in the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$(connect_host "$1")" "$2" 2>/dev/null
}

docker_ping() {
  local sock=${1:-$DOCKER_SOCK}
  [[ -S $sock ]] || return 1
  [[ $(curl -s -m 3 --unix-socket "$sock" http://x/_ping 2>/dev/null) == OK ]]
}

# HTTP status of GET URL ("000" when nothing answers).
http_status() {
  curl -s -o /dev/null -m 3 -w '%{http_code}' "$1" 2>/dev/null || true
}

# Who listens on a TCP port (best effort, for error messages).
port_owner() {
  if command -v ss >/dev/null 2>&1; then
    ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | sed -n 1p
  fi
}

# ---------------------------------------------------------------- processes

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# Command line of a pid, spaces for NULs (empty for zombies / gone).
pid_cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# pid_matches PID PATTERN: live process whose command line contains PATTERN.
pid_matches() {
  local cmd
  pid_alive "$1" || return 1
  cmd=$(pid_cmdline "$1")
  [[ -n $cmd && $cmd == *"$2"* ]]
}

pidfile_of() { echo "$RUN_DIR/$1.pid"; }

# our_pid NAME PATTERN: print the pid recorded for NAME if that process is
# still alive and still matches PATTERN; drop a stale pid file otherwise.
our_pid() {
  local f pid
  f=$(pidfile_of "$1")
  [[ -f $f ]] || return 1
  pid=$(head -n1 "$f" 2>/dev/null || true)
  if [[ $pid =~ ^[0-9]+$ ]] && pid_matches "$pid" "$2"; then
    echo "$pid"
    return 0
  fi
  rm -f "$f"
  return 1
}

# start_bg NAME LOGFILE CMD...: start CMD detached (own session, stdin from
# /dev/null, output appended to LOGFILE) and record its pid as ours.
start_bg() {
  local name=$1 log=$2
  shift 2
  mkdir -p "$RUN_DIR" "$(dirname "$log")"
  printf '\n===== %s: starting %s =====\n' "$(date '+%F %T')" "$*" >>"$log"
  # A background child of a non-interactive shell is not a process-group
  # leader, so setsid execs in place and $! is the server's own pid.
  setsid "$@" </dev/null >>"$log" 2>&1 &
  echo $! >"$(pidfile_of "$name")"
  STARTED_PID=$!
}

# wait_until SECONDS PID CMD...: poll CMD every 0.2 s until it succeeds.
# Fails early when PID (if non-empty) has exited, and after SECONDS.
wait_until() {
  local secs=$1 pid=$2 deadline
  shift 2
  deadline=$(($(now_ms) + secs * 1000))
  while :; do
    if "$@"; then return 0; fi
    if [[ -n $pid ]] && ! pid_alive "$pid"; then return 2; fi
    if (($(now_ms) >= deadline)); then return 1; fi
    sleep 0.2
  done
}

# Direct children and all descendants of a pid (from /proc, no procps).
child_pids() {
  local d stat rest
  for d in /proc/[0-9]*; do
    read -r stat 2>/dev/null <"$d/stat" || continue
    rest=${stat##*) }
    # rest: state ppid ...
    rest=${rest#* }
    [[ ${rest%% *} == "$1" ]] && echo "${d#/proc/}"
  done
  return 0
}
descendant_pids() {
  local c
  for c in $(child_pids "$1"); do
    echo "$c"
    descendant_pids "$c"
  done
}

# Pids whose executable is PATH (also after the file was rebuilt/deleted).
pids_by_exe() {
  local d exe comm want=${1##*/}
  want=${want:0:15}
  for d in /proc/[0-9]*; do
    # comm (the name, cut to 15 bytes) first: no fork per process.
    read -r comm 2>/dev/null <"$d/comm" || continue
    [[ $comm == "$want" ]] || continue
    exe=$(readlink "$d/exe" 2>/dev/null) || continue
    exe=${exe% (deleted)}
    [[ $exe == "$1" ]] && echo "${d#/proc/}"
  done
  return 0
}

# Pids whose command name (comm) is NAME.
pids_by_comm() {
  local d comm
  for d in /proc/[0-9]*; do
    read -r comm 2>/dev/null <"$d/comm" || continue
    [[ $comm == "$1" ]] && echo "${d#/proc/}"
  done
  return 0
}

# stop_pids SECONDS PID...: SIGTERM, wait up to SECONDS, then SIGKILL.
stop_pids() {
  local secs=$1 p left deadline
  shift
  (($# > 0)) || return 0
  kill -TERM "$@" 2>/dev/null || true
  deadline=$(($(now_ms) + secs * 1000))
  while :; do
    left=()
    for p in "$@"; do
      if pid_alive "$p" && [[ -n $(pid_cmdline "$p") ]]; then left+=("$p"); fi
    done
    ((${#left[@]} == 0)) && return 0
    if (($(now_ms) >= deadline)); then
      warn "still running after ${secs}s, sending SIGKILL: ${left[*]}"
      kill -KILL "${left[@]}" 2>/dev/null || true
      sleep 0.3
      return 0
    fi
    sleep 0.2
  done
}

# ---------------------------------------------------------------- build

# abaco_build [BUILD_DIR [CMAKE_ARGS...]]: configure once, then build.
abaco_build() {
  local dir=${1:-$BUILD_DIR}
  shift || true
  local jobs
  jobs=$(nproc 2>/dev/null || echo 2)
  if [[ ! -f $dir/CMakeCache.txt ]]; then
    cmake -S "$ABACO_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" || return
  fi
  cmake --build "$dir" -j"$jobs" || return
}

# ---------------------------------------------------------------- go / ferretdb

# go_version_ok: a go >= 1.22 is on PATH (FerretDB v1.24's go.mod says go 1.22).
go_version_ok() {
  local v
  command -v go >/dev/null 2>&1 || return 1
  v=$(go env GOVERSION 2>/dev/null || true)
  v=${v#go}
  [[ $v =~ ^([0-9]+)\.([0-9]+) ]] || return 1
  ((BASH_REMATCH[1] > 1 || (BASH_REMATCH[1] == 1 && BASH_REMATCH[2] >= 22)))
}

# ensure_go: put a go >= 1.22 first on PATH if one is installed anywhere we
# know (/usr/local/go, Debian's versioned /usr/lib/go-1.NN); fails otherwise.
ensure_go() {
  local d
  go_version_ok && return 0
  for d in /usr/local/go/bin $(printf '%s\n' /usr/lib/go-1.*/bin | sort -Vr); do
    if [[ -x $d/go ]]; then
      PATH="$d:$PATH"
      if go_version_ok; then
        export PATH
        return 0
      fi
      PATH=${PATH#"$d:"}
    fi
  done
  return 1
}

# The FerretDB binary to run: $FERRETDB_BIN, var/tools/bin/ferretdb, PATH.
ferretdb_bin() {
  if [[ -n ${FERRETDB_BIN:-} && -x $FERRETDB_BIN ]]; then
    echo "$FERRETDB_BIN"
  elif [[ -x $TOOLS_BIN/ferretdb ]]; then
    echo "$TOOLS_BIN/ferretdb"
  elif command -v ferretdb >/dev/null 2>&1; then
    command -v ferretdb
  else
    return 1
  fi
}

# build_ferretdb DEST: build FerretDB $FERRETDB_VERSION into DEST.
# `go install ...@v1.24.0` fails on this network (the proxy refuses the
# @latest deprecation lookup), so fetch the module source with
# `go mod download`, stamp the version file its build expects (without it
# the binary panics at start), and build it from a writable copy.
build_ferretdb() {
  local dest=$1 tmp json dir t0
  ensure_go || die "FerretDB $FERRETDB_VERSION needs Go >= 1.22 on PATH (Debian 12's golang-go is 1.19); run scripts/deps.sh"
  t0=$(now_ms)
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferretdb-build.XXXXXX")
  say "building FerretDB $FERRETDB_VERSION with $(go env GOVERSION) (about a minute when cold)"
  (cd "$tmp" && go mod init tmp >/dev/null 2>&1) || true
  json=$(cd "$tmp" && go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" 2>&1) ||
    {
      rm -rf "$tmp"
      die "go mod download github.com/FerretDB/FerretDB@$FERRETDB_VERSION failed: $json"
    }
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir":[[:space:]]*"\(.*\)",\{0,1\}$/\1/p' | sed -n 1p)
  [[ -n $dir && -d $dir ]] || {
    rm -rf "$tmp"
    die "could not find the module directory in: $json"
  }
  cp -r "$dir" "$tmp/src"
  chmod -R u+w "$tmp/src"
  mkdir -p "$tmp/src/build/version"
  printf '%s' "$FERRETDB_VERSION" >"$tmp/src/build/version/version.txt"
  # FerretDB v1.24's SQLite backend filters `_id` with the path expression
  # `->'$._id'`, but creates its unique _id index on `->"_id"`; SQLite only
  # uses an expression index for the identical expression, so every lookup
  # or update by _id scans the whole collection (measured: 243 ms per find
  # by _id at 15k executions). Use the index's own expression (1.7 ms).
  local meta="$tmp/src/internal/backends/sqlite/metadata/metadata.go"
  grep -q "IDColumn = DefaultColumn + \"->'\$\._id'\"" "$meta" ||
    { rm -rf "$tmp"; die "FerretDB source changed: the _id index fix no longer applies"; }
  sed -i "s|IDColumn = DefaultColumn + \"->'\$\._id'\"|IDColumn = DefaultColumn + \`->\"_id\"\`|" "$meta"
  printf '%s\n' "$FERRETDB_BUILD_ID" >"$tmp/build-id"
  mkdir -p "$(dirname "$dest")"
  local blog="$LOG_DIR/ferretdb-build.log"
  mkdir -p "$LOG_DIR"
  note "go build ./cmd/ferretdb (output in var/log/ferretdb-build.log)"
  # CGO_ENABLED=0: a static binary (its SQLite is pure Go), so the same
  # build serves the local stack, the .deb and the FROM scratch image.
  if ! (cd "$tmp/src" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false" \
    go build -trimpath -o "$dest.tmp" ./cmd/ferretdb) >"$blog" 2>&1; then
    log_tail "$blog" 30
    rm -rf "$tmp" "$dest.tmp"
    die "go build of FerretDB failed"
  fi
  mv -f "$dest.tmp" "$dest"
  cp "$tmp/build-id" "$dest.build-id"
  rm -rf "$tmp"
  note "FerretDB built into $dest in $(fmt_ms $(($(now_ms) - t0)))"
}

# ---------------------------------------------------------------- compose v2

# go_at_least VERSION: the go on PATH is at least VERSION (e.g. 1.26.8).
go_at_least() {
  local have want=$1
  command -v go >/dev/null 2>&1 || return 1
  have=$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null) || return 1
  have=${have#go}
  have=${have%%[!0-9.]*}
  [[ -n $have ]] || return 1
  [[ $(printf '%s\n%s\n' "$want" "$have" | sort -V | sed -n 1p) == "$want" ]]
}

# compose_v2_bin: where build_compose_v2 puts the pinned Compose CLI, one
# directory per version (var/tools/compose/<version>/docker-compose).
compose_v2_bin() { printf '%s\n' "$VAR_DIR/tools/compose/$COMPOSE_V2_VERSION/docker-compose"; }

# compose_v2_ok BIN: BIN is a runnable Compose CLI of the pinned version.
compose_v2_ok() {
  [[ -x $1 ]] && [[ $("$1" version --short 2>/dev/null) == "${COMPOSE_V2_VERSION#v}" ]]
}

# ensure_compose_v2: the pinned Compose CLI, built once (build_compose_v2)
# and cached; its path into COMPOSE_V2_BIN.
ensure_compose_v2() {
  COMPOSE_V2_BIN=$(compose_v2_bin)
  compose_v2_ok "$COMPOSE_V2_BIN" && return 0
  build_compose_v2 "$COMPOSE_V2_BIN"
  compose_v2_ok "$COMPOSE_V2_BIN" ||
    die "the Compose CLI built into $COMPOSE_V2_BIN does not report version ${COMPOSE_V2_VERSION#v}"
}

# build_compose_v2 DEST: build the Compose CLI $COMPOSE_V2_MODULE at
# $COMPOSE_V2_VERSION into DEST, as upstream's Makefile does (`go build
# ./cmd` of the module, the version stamped into internal.Version): the
# module's source comes from the Go module proxy (`go mod download`) and is
# built in place with its own go.mod and go.sum, so its dependencies are
# exactly those it was released with. Without `-tags e2e` (tests only) and
# stripped (-s -w). The binary runs standalone (as docker-compose: its
# arguments are those of `docker compose`); a copy in a cli-plugins
# directory would serve `docker compose` too. Concurrent builds wait for
# one another (flock), and the second finds the first's binary.
build_compose_v2() {
  local dest=$1 dir tmp json want t0 blog lock
  ensure_go || die "the Compose CLI needs Go on PATH; run scripts/deps.sh"
  mkdir -p "$(dirname "$dest")" "$LOG_DIR"
  lock="$(dirname "$dest")/.build.lock"
  exec {_compose_lock}>"$lock"
  flock "$_compose_lock"
  if compose_v2_ok "$dest"; then
    exec {_compose_lock}>&-
    return 0
  fi
  t0=$(now_ms)
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/compose-build.XXXXXX")
  (cd "$tmp" && go mod init tmp >/dev/null 2>&1) || true
  json=$(cd "$tmp" && GOTOOLCHAIN=local go mod download -json "$COMPOSE_V2_MODULE@$COMPOSE_V2_VERSION" 2>&1) ||
    {
      rm -rf "$tmp"
      die "go mod download $COMPOSE_V2_MODULE@$COMPOSE_V2_VERSION failed: $json"
    }
  rm -rf "$tmp"
  dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir":[[:space:]]*"\(.*\)",\{0,1\}$/\1/p' | sed -n 1p)
  [[ -n $dir && -f $dir/go.mod && -d $dir/cmd ]] ||
    die "could not find the module directory of $COMPOSE_V2_MODULE in: $json"
  # The Go its go.mod asks for, with this machine's toolchain only
  # (GOTOOLCHAIN=local: no other Go is fetched).
  want=$(sed -n 's/^go \([0-9][0-9.]*\)[[:space:]]*$/\1/p' "$dir/go.mod" | sed -n 1p)
  go_at_least "${want:-1.0}" ||
    die "$COMPOSE_V2_MODULE $COMPOSE_V2_VERSION needs Go >= $want (its go.mod); $(GOTOOLCHAIN=local go env GOVERSION) is on PATH"
  blog="$LOG_DIR/compose-v2-build.log"
  say "building Compose $COMPOSE_V2_VERSION with $(GOTOOLCHAIN=local go env GOVERSION) (minutes when cold; output in var/log/compose-v2-build.log)"
  if ! (cd "$dir" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false -mod=readonly" \
    go build -trimpath -ldflags "-s -w -X $COMPOSE_V2_MODULE/internal.Version=$COMPOSE_V2_VERSION" \
    -o "$dest.tmp" ./cmd) >"$blog" 2>&1; then
    log_tail "$blog" 30
    rm -f "$dest.tmp"
    exec {_compose_lock}>&-
    die "go build of Compose $COMPOSE_V2_VERSION failed"
  fi
  mv -f "$dest.tmp" "$dest"
  exec {_compose_lock}>&-
  note "Compose $COMPOSE_V2_VERSION built into $dest ($(du -h "$dest" | cut -f1)) in $(fmt_ms $(($(now_ms) - t0)))"
}
