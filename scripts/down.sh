#!/usr/bin/env bash
# scripts/down.sh -- stop what scripts/up.sh started (`make down`), and only
# that: the processes named by var/run/*.pid that are still the ones we
# started. Order: platform services (SIGTERM, up to 10 s, then SIGKILL),
# leftover workers of ours, the platform's containers (label
# abaco.platform=1, removed while the engine still runs), then the SMTP
# sink, moto, FerretDB, RabbitMQ, Redis, dockerd and the epmd our RabbitMQ
# brought. Servers that were already running before `make up` are left
# alone.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

T0=$(now_ms)
load_stack_config
mkdir -p "$RUN_DIR"
say "stopping what 'make up' started"
STOPPED=0

# ---------------------------------------------------------------- services

WORKER_BIN="$BUILD_DIR/bin/worker"
SPAWNER_BIN="$BUILD_DIR/bin/spawner"

# Workers of our spawner, noted before it goes (they may outlive it).
spawner_workers=()
if spawner_pid=$(our_pid spawner "$SPAWNER_BIN"); then
  for p in $(descendant_pids "$spawner_pid"); do
    pid_matches "$p" "$WORKER_BIN" && spawner_workers+=("$p")
  done
fi

svc_pids=()
svc_names=()
for ((i = ${#ABACO_SERVICES[@]} - 1; i >= 0; i--)); do
  svc=${ABACO_SERVICES[i]}
  if pid=$(our_pid "$svc" "$BUILD_DIR/bin/$svc"); then
    svc_pids+=("$pid")
    svc_names+=("$svc")
  fi
done
if ((${#svc_pids[@]} > 0)); then
  say "services: stopping ${svc_names[*]}"
  t=$(now_ms)
  stop_pids 10 "${svc_pids[@]}"
  note "stopped in $(fmt_ms $(($(now_ms) - t)))"
  STOPPED=$((STOPPED + ${#svc_pids[@]}))
else
  note "no service of ours is running"
fi
for svc in "${ABACO_SERVICES[@]}"; do rm -f "$(pidfile_of "$svc")"; done

# Leftover workers: those of our spawner, and any worker of this tree whose
# parent is no longer a spawner of this tree (orphaned by an earlier run).
leftover=()
for p in "${spawner_workers[@]}"; do
  pid_matches "$p" "$WORKER_BIN" && leftover+=("$p")
done
for p in $(pids_by_exe "$WORKER_BIN"); do
  [[ " ${leftover[*]} " == *" $p "* ]] && continue
  ppid=$(awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$p/stat" 2>/dev/null || true)
  if [[ -z $ppid ]] || [[ $(readlink "/proc/$ppid/exe" 2>/dev/null) != "$SPAWNER_BIN"* ]]; then
    leftover+=("$p")
  fi
done
if ((${#leftover[@]} > 0)); then
  say "workers: stopping ${#leftover[@]} leftover worker process(es): ${leftover[*]}"
  stop_pids 5 "${leftover[@]}"
fi

# ---------------------------------------------------------------- containers

if [[ -n $DOCKER_SOCK ]] && command -v docker >/dev/null 2>&1 && docker_ping "$DOCKER_SOCK"; then
  mapfile -t ids < <(docker -H "unix://$DOCKER_SOCK" ps -aq --filter label=abaco.platform=1 2>/dev/null || true)
  if ((${#ids[@]} > 0)); then
    say "containers: removing ${#ids[@]} platform container(s) (label abaco.platform=1)"
    t=$(now_ms)
    docker -H "unix://$DOCKER_SOCK" rm -f "${ids[@]}" >/dev/null || warn "docker rm -f failed"
    note "removed in $(fmt_ms $(($(now_ms) - t)))"
  fi
fi

# ---------------------------------------------------------------- servers

# stop_server NAME EXE LABEL: stops our NAME server (SIGTERM, up to 10 s,
# then SIGKILL) when its pid file names a live EXE, and drops the pid file.
stop_server() {
  local name=$1 exe=$2 label=$3 pid t
  if pid=$(our_pid "$name" "$exe"); then
    say "$label: stopping (pid $pid)"
    t=$(now_ms)
    stop_pids 10 "$pid"
    note "stopped in $(fmt_ms $(($(now_ms) - t)))"
    STOPPED=$((STOPPED + 1))
  fi
  rm -f "$(pidfile_of "$name")"
}

stop_server smtp smtp_sink.py "SMTP sink"
stop_server moto moto_server moto
stop_server ferretdb ferretdb FerretDB

# Resolved: the rabbitmq user (rabbitmqctl) may not follow a link below var/.
RABBIT_BASE=$(readlink -f "$VAR_DIR/rabbitmq" 2>/dev/null || echo "$VAR_DIR/rabbitmq")
if pid=$(our_pid rabbitmq rabbitmq-server); then
  node=$(cat "$RUN_DIR/rabbitmq.node" 2>/dev/null || echo "$RABBIT_NODENAME")
  say "RabbitMQ: stopping node $node (pid $pid)"
  t=$(now_ms)
  tree=("$pid")
  mapfile -t -O 1 tree < <(descendant_pids "$pid")
  if command -v rabbitmqctl >/dev/null 2>&1; then
    timeout 60 rabbitmqctl -n "$node" stop "$RABBIT_BASE/rabbit.pid" >>"$LOG_DIR/rabbitmq.log" 2>&1 ||
      warn "rabbitmqctl stop failed; killing the node"
  fi
  wait_until 15 "" bash -c "! kill -0 $pid 2>/dev/null" || true
  alive=()
  for p in "${tree[@]}"; do
    if pid_alive "$p" && [[ -n $(pid_cmdline "$p") ]]; then alive+=("$p"); fi
  done
  if ((${#alive[@]} > 0)); then stop_pids 10 "${alive[@]}"; fi
  note "stopped in $(fmt_ms $(($(now_ms) - t)))"
  STOPPED=$((STOPPED + 1))
elif [[ -f $RABBIT_BASE/rabbit.pid ]]; then
  # The wrapper is gone but the node it started may not be.
  beam=$(cat "$RABBIT_BASE/rabbit.pid" 2>/dev/null || true)
  if [[ $beam =~ ^[0-9]+$ ]] && pid_matches "$beam" beam; then
    say "RabbitMQ: stopping orphaned node (beam pid $beam)"
    stop_pids 15 "$beam"
    STOPPED=$((STOPPED + 1))
  fi
fi
rm -f "$(pidfile_of rabbitmq)" "$RUN_DIR/rabbitmq.node" "$RABBIT_BASE/rabbit.pid" 2>/dev/null || true

stop_server redis redis-server Redis

if pid=$(our_pid dockerd dockerd); then
  say "Docker: stopping dockerd (pid $pid)"
  t=$(now_ms)
  mapfile -t kids < <(descendant_pids "$pid")
  stop_pids 30 "$pid"
  alive=()
  for p in "${kids[@]}"; do
    if pid_alive "$p" && [[ -n $(pid_cmdline "$p") ]]; then alive+=("$p"); fi
  done
  if ((${#alive[@]} > 0)); then stop_pids 5 "${alive[@]}"; fi
  note "stopped in $(fmt_ms $(($(now_ms) - t)))"
  STOPPED=$((STOPPED + 1))
fi
rm -f "$(pidfile_of dockerd)"

# epmd outlives the node; stop it if our node started it and no node
# (ours or anyone's) is registered with it any more.
if pid=$(our_pid epmd epmd); then
  if command -v epmd >/dev/null 2>&1 && epmd -names 2>/dev/null | grep -q '^name '; then
    note "epmd (pid $pid) still serves other Erlang nodes; leaving it"
  else
    say "epmd: stopping (pid $pid)"
    stop_pids 5 "$pid"
  fi
fi
rm -f "$(pidfile_of epmd)"

if ((STOPPED == 0)); then
  say "nothing of ours was running ($(fmt_ms $(($(now_ms) - T0))))"
else
  say "stopped $STOPPED process(es) in $(fmt_ms $(($(now_ms) - T0)))"
fi
