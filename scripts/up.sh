#!/usr/bin/env bash
# scripts/up.sh -- bring the local stack up (`make up`): Redis, RabbitMQ,
# FerretDB (MongoDB wire), a Docker engine, a moto server (the AWS
# endpoint, when [cloud] endpoint is loopback) and an SMTP sink (the notify
# action's mail server, when [smtp] host is loopback), each started as a
# background process with its data and logs under var/ unless something
# already answers on its address, then the platform services from build/bin (api, spawner,
# health, clientg, updater, launcher; the spawner starts the workers).
# What it starts is recorded in var/run/*.pid; scripts/down.sh stops exactly
# that. Running it again starts nothing twice.
#
# Addresses come from $ABACO_CONF (default: abaco.conf) with the services'
# own override rule (<section>_<option> environment variables, e.g.
# store_redis_port=6380 web_port=8001). Other environment:
#   ABACO_RABBIT_NODENAME  RabbitMQ node name (default rabbit@localhost)
#   ABACO_NO_BUILD=1       do not run cmake before starting the services
#   ABACO_SERVERS_ONLY=1   start the servers only, not the services
#   ABACO_UP_TIMEOUT       seconds to wait for the API (default 60)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

T0=$(now_ms)

# Open files: each idle worker holds an AMQP and a Redis connection, so the
# servers started here (Redis, RabbitMQ, inheriting this limit) hold a
# socket per worker and per service: 500 workers need ~1,100 in RabbitMQ
# and ~500 in Redis (which lowers its maxclients to the limit minus 32).
# A fresh Debian shell's soft limit is 1024: raised to the hard limit
# (capped at 65536) for what this script starts.
raise_nofile() {
  local soft hard want=65536
  soft=$(ulimit -Sn) hard=$(ulimit -Hn)
  [[ $hard == unlimited || $hard -gt $want ]] && hard=$want
  if [[ $soft != unlimited && $soft -lt $hard ]]; then
    if ulimit -Sn "$hard" 2>/dev/null; then
      note "open files limit raised from $soft to $hard"
    else
      warn "cannot raise the open files limit from $soft: at most about $((soft - 100)) workers"
    fi
  fi
}
raise_nofile
mkdir -p "$RUN_DIR" "$LOG_DIR"
load_stack_config
[[ -r $ABACO_CONF ]] || die "config file $ABACO_CONF not found"
say "local stack from $ABACO_ROOT (config $ABACO_CONF)"

# server_failed NAME LOG [EXTRA_LOG]: report a server that did not come up.
server_failed() {
  local name=$1
  shift
  warn "$name did not come up"
  local f
  for f in "$@"; do log_tail "$f" 30; done
  die "$name failed to start (see above); 'make down' stops what was started"
}

# ---------------------------------------------------------------- Redis

up_redis() {
  local pid t log="$LOG_DIR/redis.log"
  if pid=$(our_pid redis redis-server); then
    say "Redis: already running (ours, pid $pid) on $REDIS_HOST:$REDIS_PORT"
    return
  fi
  if port_open "$REDIS_HOST" "$REDIS_PORT"; then
    say "Redis: reusing the server already on $REDIS_HOST:$REDIS_PORT ($(port_owner "$REDIS_PORT"))"
    return
  fi
  is_local_host "$REDIS_HOST" || die "Redis at $REDIS_HOST:$REDIS_PORT does not answer (remote: not started here)"
  command -v redis-server >/dev/null 2>&1 || die "redis-server not installed: run scripts/deps.sh"
  mkdir -p "$VAR_DIR/redis"
  # Live state must survive a Redis restart: append-only file, fsync each second.
  say "Redis: starting on 127.0.0.1:$REDIS_PORT (dir var/redis, append-only file)"
  start_bg redis "$log" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 -::1 \
    --dir "$VAR_DIR/redis" --save "" --appendonly yes --appendfsync everysec \
    --daemonize no --logfile ""
  pid=$STARTED_PID t=$(now_ms)
  wait_until 15 "$pid" port_open 127.0.0.1 "$REDIS_PORT" || server_failed Redis "$log"
  note "Redis up (pid $pid) in $(fmt_ms $(($(now_ms) - t)))"
}

# ---------------------------------------------------------------- RabbitMQ

# RabbitMQ run as root drops to the rabbitmq user, so its directories must
# belong to that user and be reachable by it. When the repository sits below
# a directory rabbitmq cannot enter (e.g. /root), keep them in /tmp and link
# var/rabbitmq there.
rabbit_base() {
  local base="$VAR_DIR/rabbitmq"
  if [[ -L $base ]]; then
    mkdir -p "$(readlink "$base")"
  else
    mkdir -p "$base"
  fi
  if [[ $(id -u) -eq 0 ]] && id rabbitmq >/dev/null 2>&1; then
    chown rabbitmq:rabbitmq "$base/"
    if ! su rabbitmq -s /bin/sh -c "test -w '$base/' && test -x '$base/'" 2>/dev/null; then
      local alt
      alt="/tmp/abaco-rabbitmq-$(printf '%s' "$ABACO_ROOT" | md5sum | cut -c1-8)"
      mkdir -p "$alt"
      rmdir "$base" 2>/dev/null || rm -rf "$base"
      ln -sfn "$alt" "$base"
      note "the rabbitmq user cannot reach $VAR_DIR; its data is in $alt (var/rabbitmq links there)" >&2
    fi
  fi
  # The real path: the rabbitmq user may not be able to follow the link.
  readlink -f "$base"
}

# rabbit_mgmt_check HINT: a note when a RabbitMQ we did not just start has
# no management API where [rabbit] management_url says.
rabbit_mgmt_check() {
  [[ -z $RABBIT_MGMT_URL ]] && return
  port_open "$(connect_host "$RABBIT_MGMT_HOST")" "$RABBIT_MGMT_PORT" && return
  warn "RabbitMQ management API not on $RABBIT_MGMT_URL: the health agent will not sweep orphan queues ($1)"
}

up_rabbitmq() {
  local pid log="$LOG_DIR/rabbitmq.log" base
  if pid=$(our_pid rabbitmq rabbitmq-server); then
    say "RabbitMQ: already running (ours, pid $pid) on $RABBIT_HOST:$RABBIT_PORT"
    rabbit_mgmt_check "make down && make up restarts it with the plugin"
    return
  fi
  if port_open "$RABBIT_HOST" "$RABBIT_PORT"; then
    say "RabbitMQ: reusing the server already on $RABBIT_HOST:$RABBIT_PORT ($(port_owner "$RABBIT_PORT"))"
    rabbit_mgmt_check "enable it there: rabbitmq-plugins enable rabbitmq_management"
    return
  fi
  is_local_host "$RABBIT_HOST" || die "RabbitMQ at $RABBIT_HOST:$RABBIT_PORT does not answer (remote: not started here)"
  command -v rabbitmq-server >/dev/null 2>&1 || die "rabbitmq-server not installed: run scripts/deps.sh"
  base=$(rabbit_base)
  mkdir -p "$base/mnesia" "$base/log"
  rabbit_plugins "$base"
  rm -f "$base/rabbit.pid"
  if [[ $(id -u) -eq 0 ]] && id rabbitmq >/dev/null 2>&1; then
    chown -R rabbitmq:rabbitmq "$base/"
  fi
  # epmd is started by the first Erlang node; if that is ours, so is epmd.
  local epmd_before
  epmd_before=$(pids_by_comm epmd | sed -n 1p) # not head: SIGPIPE under pipefail
  say "RabbitMQ: starting node $RABBIT_NODENAME on port $RABBIT_PORT (data var/rabbitmq)"
  echo "$RABBIT_NODENAME" >"$RUN_DIR/rabbitmq.node"
  start_bg rabbitmq "$log" env \
    RABBITMQ_NODENAME="$RABBIT_NODENAME" \
    RABBITMQ_NODE_PORT="$RABBIT_PORT" \
    RABBITMQ_MNESIA_BASE="$base/mnesia" \
    RABBITMQ_LOG_BASE="$base/log" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$base/enabled_plugins" \
    RABBITMQ_CONFIG_FILE="$base/rabbitmq.conf" \
    RABBITMQ_PID_FILE="$base/rabbit.pid" \
    ERL_CRASH_DUMP="$base/log/erl_crash.dump" \
    rabbitmq-server
  pid=$STARTED_PID
  local rc=0 t
  t=$(now_ms)
  wait_until 90 "$pid" port_open 127.0.0.1 "$RABBIT_PORT" || rc=$?
  if ((rc != 0)); then
    server_failed RabbitMQ "$log" "$base/log/$RABBIT_NODENAME.log"
  fi
  # The listener opens at the end of the boot; give the last steps a moment.
  sleep 1
  if [[ -z $epmd_before ]]; then
    local epmd
    epmd=$(pids_by_comm epmd | sed -n 1p)
    if [[ -n $epmd ]]; then echo "$epmd" >"$(pidfile_of epmd)"; fi
  fi
  note "RabbitMQ up (pid $pid, beam $(cat "$base/rabbit.pid" 2>/dev/null || echo '?')) in $(fmt_ms $(($(now_ms) - t)))"
  if [[ -n $RABBIT_MGMT_URL ]]; then
    # The plugin's listener opens with the AMQP one, a moment later at most.
    if wait_until 10 "$pid" port_open "$(connect_host "$RABBIT_MGMT_HOST")" "$RABBIT_MGMT_PORT"; then
      note "RabbitMQ management API on $RABBIT_MGMT_URL"
    else
      warn "RabbitMQ management API does not answer on $RABBIT_MGMT_URL: orphan queues are not swept"
    fi
  fi
}

# rabbit_plugins BASE: the management plugin (the health agent lists orphan
# queues through its API; the Debian package bundles it), enabled offline
# in the node's enabled_plugins file, and its listener on the port of
# [rabbit] management_url, local only, in the node's own config file. It
# costs the boot well under a second (measured: within the noise of a
# 3-7 s start). Plugins someone added to the file stay.
rabbit_plugins() {
  local base=$1 file="$1/enabled_plugins"
  if [[ -z $RABBIT_MGMT_URL ]]; then
    [[ -f $file ]] || echo '[].' >"$file"
    : >"$base/rabbitmq.conf"
    return
  fi
  if [[ ! -s $file ]] || grep -qx '\[\] *\.' "$file"; then
    echo '[rabbitmq_management].' >"$file"
  elif ! grep -q 'rabbitmq_management\b' "$file"; then
    sed -i '0,/\[/s//[rabbitmq_management,/' "$file"
  fi
  local ip=127.0.0.1
  is_local_host "$RABBIT_MGMT_HOST" || ip=0.0.0.0
  [[ $RABBIT_MGMT_HOST == 0.0.0.0 ]] && ip=0.0.0.0
  printf '%s\n' "# written by scripts/up.sh at every start" \
    "management.tcp.port = $RABBIT_MGMT_PORT" "management.tcp.ip = $ip" >"$base/rabbitmq.conf"
}

# ---------------------------------------------------------------- FerretDB

up_ferretdb() {
  local pid t log="$LOG_DIR/ferretdb.log" bin addr
  if pid=$(our_pid ferretdb ferretdb); then
    say "FerretDB: already running (ours, pid $pid) on $MONGO_HOST:$MONGO_PORT"
    return
  fi
  if port_open "$MONGO_HOST" "$MONGO_PORT"; then
    say "MongoDB wire: reusing the server already on $MONGO_HOST:$MONGO_PORT ($(port_owner "$MONGO_PORT"))"
    return
  fi
  is_local_host "$MONGO_HOST" || die "MongoDB at $MONGO_HOST:$MONGO_PORT does not answer (remote: not started here)"
  if ! bin=$(ferretdb_bin); then
    note "no FerretDB binary yet; building it (scripts/deps.sh does this too)"
    build_ferretdb "$TOOLS_BIN/ferretdb"
    bin="$TOOLS_BIN/ferretdb"
  fi
  case $MONGO_HOST in
    "" | localhost | 0.0.0.0) addr="127.0.0.1:$MONGO_PORT" ;;
    *:*) addr="[$MONGO_HOST]:$MONGO_PORT" ;;
    *) addr="$MONGO_HOST:$MONGO_PORT" ;;
  esac
  mkdir -p "$VAR_DIR/ferretdb"
  say "FerretDB: starting on $addr (SQLite data var/ferretdb)"
  start_bg ferretdb "$log" "$bin" --handler=sqlite --sqlite-url="file:$VAR_DIR/ferretdb/" \
    --state-dir="$VAR_DIR/ferretdb" --listen-addr="$addr" --telemetry=disable --debug-addr=-
  pid=$STARTED_PID t=$(now_ms)
  wait_until 30 "$pid" port_open 127.0.0.1 "$MONGO_PORT" || server_failed FerretDB "$log"
  note "FerretDB up (pid $pid) in $(fmt_ms $(($(now_ms) - t)))"
}

# ---------------------------------------------------------------- Docker

up_docker() {
  local pid t log="$LOG_DIR/dockerd.log" args=()
  if [[ -z $DOCKER_SOCK ]]; then
    say "Docker: $DOCKER_DD is not a unix socket; not managed here"
    return
  fi
  if pid=$(our_pid dockerd dockerd); then
    say "Docker: already running (ours, pid $pid) on $DOCKER_SOCK"
    return
  fi
  if docker_ping "$DOCKER_SOCK"; then
    say "Docker: reusing the engine already answering on $DOCKER_SOCK"
    return
  fi
  command -v dockerd >/dev/null 2>&1 || die "dockerd not installed: run scripts/deps.sh"
  if [[ $DOCKER_SOCK != /var/run/docker.sock && $DOCKER_SOCK != /run/docker.sock ]]; then
    # A second engine beside the system one: its own socket, state and
    # runtime dirs, and no bridge/iptables so it cannot disturb the first.
    mkdir -p "$VAR_DIR/docker/data" "$VAR_DIR/docker/exec"
    args=(-H "unix://$DOCKER_SOCK" --data-root "$VAR_DIR/docker/data"
      --exec-root "$VAR_DIR/docker/exec" --pidfile "$VAR_DIR/docker/dockerd.pid"
      --bridge=none --iptables=false)
  fi
  say "Docker: starting dockerd on $DOCKER_SOCK (log var/log/dockerd.log)"
  start_bg dockerd "$log" dockerd "${args[@]}"
  pid=$STARTED_PID t=$(now_ms)
  wait_until 30 "$pid" docker_ping "$DOCKER_SOCK" || server_failed dockerd "$log"
  note "Docker up (pid $pid) in $(fmt_ms $(($(now_ms) - t)))"
}

# ---------------------------------------------------------------- moto

# moto answers every path (the EC2/CloudFormation Query APIs on POST /); its
# own API under /moto-api/ tells it from any other HTTP server.
moto_ready() {
  [[ $(http_status "$CLOUD_ENDPOINT/moto-api/") == 200 ]]
}

# A moto server (the AWS endpoint of the cloud services and tests) when
# [cloud] endpoint points at loopback; a remote or empty one (AWS) is used
# as it is.
up_moto() {
  local pid t log="$LOG_DIR/moto.log" bin="$VENV_DIR/bin/moto_server" bind
  if [[ -z $CLOUD_ENDPOINT ]]; then
    say "moto: [cloud] endpoint is empty (AWS itself); no moto server started"
    return
  fi
  if [[ -z $MOTO_PORT ]]; then
    say "moto: [cloud] endpoint $CLOUD_ENDPOINT is not a loopback http URL; not started here"
    return
  fi
  if pid=$(our_pid moto moto_server); then
    say "moto: already running (ours, pid $pid) on $CLOUD_ENDPOINT"
    return
  fi
  if port_open "$MOTO_HOST" "$MOTO_PORT"; then
    moto_ready || die "port $MOTO_PORT ([cloud] endpoint $CLOUD_ENDPOINT) is in use by something that is not a moto server ($(port_owner "$MOTO_PORT"))"
    say "moto: reusing the server already on $CLOUD_ENDPOINT ($(port_owner "$MOTO_PORT"))"
    return
  fi
  [[ -x $bin ]] || die "$bin is missing: run scripts/deps.sh (moto[server] is in tests/functional/requirements.txt)"
  case $MOTO_HOST in
    "[::1]" | ::1) bind=::1 ;;
    *) bind=127.0.0.1 ;;
  esac
  say "moto: starting on $CLOUD_ENDPOINT (log var/log/moto.log)"
  start_bg moto "$log" "$bin" -H "$bind" -p "$MOTO_PORT"
  pid=$STARTED_PID t=$(now_ms)
  wait_until 30 "$pid" moto_ready || server_failed moto "$log"
  note "moto up (pid $pid) in $(fmt_ms $(($(now_ms) - t)))"
}

# ---------------------------------------------------------------- SMTP

# The banner of our sink (scripts/smtp_sink.py) tells it from any other
# SMTP server.
smtp_ready() {
  # shellcheck disable=SC2016 # $0/$1 expand in the inner bash
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && read -r l <&3 && printf "QUIT\r\n" >&3 &&
    [[ $l == 220*abaco-smtp-sink* ]]' 127.0.0.1 "$SMTP_SINK_PORT" 2>/dev/null
}

# The SMTP server of the notify action when [smtp] host is loopback and tls
# none: the sink, which keeps each message as a JSON file under var/smtp/new
# and refuses recipients @reject.invalid (docs/notify.md). A remote or TLS
# server is used as it is.
up_smtp() {
  local pid t log="$LOG_DIR/smtp.log" py="$VENV_DIR/bin/python3"
  if [[ -z $SMTP_HOST ]]; then
    say "SMTP: [smtp] host is empty (email notifications off); no SMTP server started"
    return
  fi
  if [[ -z $SMTP_SINK_PORT ]]; then
    say "SMTP: $SMTP_HOST:$SMTP_PORT (tls $SMTP_TLS) is not a loopback plain server; not started here"
    return
  fi
  if pid=$(our_pid smtp smtp_sink.py); then
    say "SMTP: already running (ours, pid $pid) on 127.0.0.1:$SMTP_SINK_PORT"
    return
  fi
  if port_open 127.0.0.1 "$SMTP_SINK_PORT"; then
    smtp_ready || die "port $SMTP_SINK_PORT ([smtp] port) is in use by something that is not the stack's SMTP sink ($(port_owner "$SMTP_SINK_PORT"))"
    say "SMTP: reusing the sink already on 127.0.0.1:$SMTP_SINK_PORT ($(port_owner "$SMTP_SINK_PORT"))"
    return
  fi
  "$py" -c 'import aiosmtpd' 2>/dev/null ||
    die "aiosmtpd is missing from var/venv: run scripts/deps.sh (it is in tests/functional/requirements.txt)"
  local p
  for p in "$SMTP_SINK_STARTTLS_PORT" "$SMTP_SINK_SMTPS_PORT"; do
    if port_open 127.0.0.1 "$p"; then
      die "port $p (the SMTP sink's TLS listener) is in use ($(port_owner "$p"))"
    fi
  done
  say "SMTP: starting the sink on 127.0.0.1:$SMTP_SINK_PORT, STARTTLS $SMTP_SINK_STARTTLS_PORT, TLS $SMTP_SINK_SMTPS_PORT (messages in var/smtp/new, log var/log/smtp.log)"
  start_bg smtp "$log" "$py" "$ABACO_ROOT/scripts/smtp_sink.py" --host 127.0.0.1 \
    --port "$SMTP_SINK_PORT" --starttls-port "$SMTP_SINK_STARTTLS_PORT" \
    --smtps-port "$SMTP_SINK_SMTPS_PORT" --spool "$SMTP_SPOOL" \
    --reject-domain reject.invalid --auth "$SMTP_SINK_AUTH"
  pid=$STARTED_PID t=$(now_ms)
  wait_until 20 "$pid" smtp_ready || server_failed "SMTP sink" "$log"
  note "SMTP sink up (pid $pid) in $(fmt_ms $(($(now_ms) - t)))"
}

# ---------------------------------------------------------------- services

start_services() {
  local svc pid bin started=() failed=0
  if [[ ${ABACO_NO_BUILD:-0} != 1 ]]; then
    say "building the platform (${BUILD_DIR#"$ABACO_ROOT"/})"
    local blog="$LOG_DIR/build.log"
    if ! abaco_build "$BUILD_DIR" >"$blog" 2>&1; then
      log_tail "$blog" 40
      die "build failed (full log: $blog)"
    fi
    note "build ok"
  fi
  for svc in "${ABACO_SERVICES[@]}"; do
    [[ -x $BUILD_DIR/bin/$svc ]] || die "build/bin/$svc is missing: the build did not produce it"
  done
  # The socket/fifo dirs the spawner hands to workers (relative = repo root).
  local d
  for d in "$(conf_get workers socket_host_path_dir var/run/sockets)" \
    "$(conf_get workers fifo_host_path_dir var/run/fifos)"; do
    [[ -n $d ]] && (cd "$ABACO_ROOT" && mkdir -p "$d")
  done

  if ! our_pid api "$BUILD_DIR/bin/api" >/dev/null && port_open "$WEB_BIND" "$WEB_PORT"; then
    die "port $WEB_PORT is already in use ($(port_owner "$WEB_PORT")) by something 'make up' did not start; stop it or set web_port"
  fi

  say "starting services from ${BUILD_DIR#"$ABACO_ROOT"/}/bin"
  cd "$ABACO_ROOT"
  for svc in "${ABACO_SERVICES[@]}"; do
    bin="$BUILD_DIR/bin/$svc"
    if pid=$(our_pid "$svc" "$bin"); then
      note "$svc: already running (pid $pid)"
      continue
    fi
    start_bg "$svc" "$LOG_DIR/$svc.log" "$bin" -c "$ABACO_CONF"
    started+=("$svc")
    note "$svc: started (pid $STARTED_PID, log var/log/$svc.log)"
  done

  # Wait for the API to answer, watching that nothing died meanwhile.
  local timeout=${ABACO_UP_TIMEOUT:-60} deadline code=000
  deadline=$(($(now_ms) + timeout * 1000))
  while :; do
    for svc in "${ABACO_SERVICES[@]}"; do
      if ! our_pid "$svc" "$BUILD_DIR/bin/$svc" >/dev/null; then
        warn "$svc exited during start"
        log_tail "$LOG_DIR/$svc.log" 30
        failed=1
      fi
    done
    ((failed == 0)) || die "a service died at start (see above); 'make down' stops the rest"
    code=$(http_status "$WEB_URL/actors")
    [[ $code != 000 ]] && break
    if (($(now_ms) >= deadline)); then
      log_tail "$LOG_DIR/api.log" 30
      die "the API did not answer on $WEB_URL/actors within ${timeout}s"
    fi
    sleep 0.2
  done
  # A service that fails on its first connection dies right after start.
  if ((${#started[@]} > 0)); then
    sleep 1
    for svc in "${ABACO_SERVICES[@]}"; do
      if ! our_pid "$svc" "$BUILD_DIR/bin/$svc" >/dev/null; then
        warn "$svc exited right after start"
        log_tail "$LOG_DIR/$svc.log" 30
        failed=1
      fi
    done
    ((failed == 0)) || die "a service died at start (see above); 'make down' stops the rest"
  fi
  note "GET /actors -> HTTP $code"
}

up_redis
up_rabbitmq
up_ferretdb
up_docker
up_moto
up_smtp
if [[ ${ABACO_SERVERS_ONLY:-0} == 1 ]]; then
  say "servers up in $(fmt_ms $(($(now_ms) - T0))) (services not started: ABACO_SERVERS_ONLY=1)"
  exit 0
fi
# The sample actor images (the README walkthrough uses them); idempotent, ~1 s.
mkdir -p "$LOG_DIR"
say "building the sample actor images"
bash "$(dirname "${BASH_SOURCE[0]}")/samples.sh" >"$LOG_DIR/samples.log" 2>&1 ||
  { log_tail "$LOG_DIR/samples.log" 30; die "building the sample images failed"; }
start_services
say "API listening on $WEB_URL (logs in var/log/); up in $(fmt_ms $(($(now_ms) - T0)))"
