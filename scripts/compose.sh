#!/usr/bin/env bash
# scripts/compose.sh -- the compose stack (compose/compose.yaml):
#
#   compose.sh up [--monitoring]   build the images (scripts/images.sh), then
#                                  `up -d` and wait until every service is
#                                  healthy (make compose-up)
#   compose.sh down [--volumes]    remove the containers and the network,
#                                  with --volumes the data too (make compose-down)
#   compose.sh test                the whole cycle under a project of its own
#                                  on free ports with images tagged
#                                  compose-test: images, up (with monitoring),
#                                  healthy, tests/compose, down -v, and a check
#                                  that nothing of the project is left
#                                  (make compose-test)
#   compose.sh ps | logs [SERVICE] | config
#
# The Compose implementation is chosen by ABACO_COMPOSE:
#   auto (default)  `docker compose` when the docker client has that plugin,
#                   else docker-compose (Debian 12's 1.29)
#   v1              docker-compose on PATH, which must be 1.x (Debian 12's)
#   v2              Compose v2+: ABACO_COMPOSE_BIN when set (a docker-compose
#                   binary of v2 or later), else the CLI pinned in
#                   scripts/lib.sh (COMPOSE_V2_VERSION), built once from the Go
#                   module proxy into var/tools/compose/<version>/ (make
#                   compose-v2-test)
#   plugin          `docker compose` (the docker client's plugin)
# Settings: compose/.env (see
# compose/.env.example), then the environment. Defaults filled in here:
# ABACO_CONF_HOST_PATH (compose/abaco.conf), DOCKER_GID (the socket's
# group), ABACO_RUN_HOST_DIR (/var/lib/abaco-compose/<project>, made and
# given to uid 10001). The project name is ABACO_COMPOSE_PROJECT (default
# abaco). ABACO_COMPOSE_TIMEOUT: seconds to wait for healthy (default 180).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COMPOSE_DIR="$ABACO_ROOT/compose"
COMPOSE_FILE_PATH="$COMPOSE_DIR/compose.yaml"
DAEMON_UID=10001
# Services started without and with the monitoring profile.
BASE_SERVICES=(redis rabbitmq ferretdb api spawner health clientg launcher updater)

# compose_cmd: the Compose command line into COMPOSE (an array), as
# ABACO_COMPOSE says (see the top of this file).
compose_cmd() {
  local want=${ABACO_COMPOSE:-auto} v
  case $want in
    auto)
      if docker compose version >/dev/null 2>&1; then
        COMPOSE=(docker compose)
      elif command -v docker-compose >/dev/null 2>&1; then
        COMPOSE=(docker-compose)
      else
        die "neither 'docker compose' nor docker-compose is installed (scripts/deps.sh installs docker-compose)"
      fi
      ;;
    v1)
      command -v docker-compose >/dev/null 2>&1 ||
        die "ABACO_COMPOSE=v1: docker-compose is not installed (scripts/deps.sh installs it)"
      v=$(docker-compose version --short 2>/dev/null) || v=
      [[ $v == 1.* ]] || die "ABACO_COMPOSE=v1: $(command -v docker-compose) is version '${v:-?}', not 1.x"
      COMPOSE=(docker-compose)
      ;;
    v2)
      if [[ -n ${ABACO_COMPOSE_BIN:-} ]]; then
        [[ -x $ABACO_COMPOSE_BIN ]] || die "ABACO_COMPOSE_BIN '$ABACO_COMPOSE_BIN' is not an executable file"
        COMPOSE=("$ABACO_COMPOSE_BIN")
      else
        ensure_compose_v2
        COMPOSE=("$COMPOSE_V2_BIN")
      fi
      v=$("${COMPOSE[0]}" version --short 2>/dev/null) || v=
      [[ ${v#v} =~ ^([2-9]|[1-9][0-9]+)\. ]] ||
        die "ABACO_COMPOSE=v2: ${COMPOSE[0]} is version '${v:-?}', not Compose v2 or later"
      ;;
    plugin)
      docker compose version >/dev/null 2>&1 ||
        die "ABACO_COMPOSE=plugin: the docker client has no compose plugin ('docker compose')"
      COMPOSE=(docker compose)
      ;;
    *) die "ABACO_COMPOSE '$want': auto, v1, v2 or plugin" ;;
  esac
}

# env_value RAW: a value of compose/.env as Compose reads it, on stdout:
# surrounding blanks dropped; a value in "..." or '...' without its quotes
# (anything after the closing quote ignored); an unquoted one up to an
# inline comment (" #").
env_value() {
  local v=$1
  v=${v#"${v%%[![:space:]]*}"}
  if [[ $v =~ ^\"([^\"]*)\" || $v =~ ^\'([^\']*)\' ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
    return
  fi
  [[ $v =~ ^(.*[^[:space:]])?[[:space:]]+#.*$ ]] && v=${BASH_REMATCH[1]}
  [[ $v == \#* ]] && v=
  v=${v%"${v##*[![:space:]]}"}
  printf '%s' "$v"
}

# load_env: compose/.env (KEY=VALUE lines, values as env_value reads them)
# under what the environment already sets, then the defaults; everything
# exported for Compose.
load_env() {
  local line key val
  if [[ -f $COMPOSE_DIR/.env ]]; then
    while IFS= read -r line || [[ -n $line ]]; do
      [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
      key=${BASH_REMATCH[2]}
      val=$(env_value "${BASH_REMATCH[3]}")
      if [[ -z ${!key:-} ]]; then export "$key=$val"; fi
    done <"$COMPOSE_DIR/.env"
  fi
  PROJECT=${ABACO_COMPOSE_PROJECT:-${COMPOSE_PROJECT_NAME:-abaco}}
  [[ $PROJECT =~ ^[a-z0-9][a-z0-9_-]*$ ]] ||
    die "ABACO_COMPOSE_PROJECT '$PROJECT': lower-case letters, digits, '_' and '-' only"
  export COMPOSE_PROJECT_NAME=$PROJECT
  export ABACO_IMAGE_TAG=${ABACO_IMAGE_TAG:-dev}
  export ABACO_CONF_HOST_PATH=${ABACO_CONF_HOST_PATH:-$COMPOSE_DIR/abaco.conf}
  [[ $ABACO_CONF_HOST_PATH == /* && -r $ABACO_CONF_HOST_PATH ]] ||
    die "ABACO_CONF_HOST_PATH '$ABACO_CONF_HOST_PATH' is not an absolute path to a readable file"
  export ABACO_DOCKER_SOCK=${ABACO_DOCKER_SOCK:-/var/run/docker.sock}
  # No engine on the default socket (a fresh machine; make down and the
  # ansible test stop the ones they started): start one, left running.
  if [[ $ABACO_DOCKER_SOCK == /var/run/docker.sock ]] && ! docker_ping "$ABACO_DOCKER_SOCK" &&
    command -v dockerd >/dev/null 2>&1; then
    say "starting a Docker engine on $ABACO_DOCKER_SOCK (log var/log/dockerd-compose.log; left running)"
    start_bg compose-dockerd "$LOG_DIR/dockerd-compose.log" dockerd
    wait_until 30 "$STARTED_PID" docker_ping "$ABACO_DOCKER_SOCK" ||
      die "dockerd did not start (var/log/dockerd-compose.log)"
  fi
  [[ -S $ABACO_DOCKER_SOCK ]] || die "ABACO_DOCKER_SOCK '$ABACO_DOCKER_SOCK' is not a socket (is dockerd running?)"
  export DOCKER_GID=${DOCKER_GID:-$(stat -c %g "$ABACO_DOCKER_SOCK")}
  export ABACO_RUN_HOST_DIR=${ABACO_RUN_HOST_DIR:-/var/lib/abaco-compose/$PROJECT}
  [[ $ABACO_RUN_HOST_DIR == /* ]] || die "ABACO_RUN_HOST_DIR '$ABACO_RUN_HOST_DIR' must be absolute"
}

compose() { "${COMPOSE[@]}" -f "$COMPOSE_FILE_PATH" -p "$PROJECT" "$@"; }

# run_dir: the workers' socket and fifo directories, owned by the daemons' uid.
run_dir() {
  mkdir -p "$ABACO_RUN_HOST_DIR/sockets" "$ABACO_RUN_HOST_DIR/fifos"
  chown -R "$DAEMON_UID:$DAEMON_UID" "$ABACO_RUN_HOST_DIR" 2>/dev/null ||
    warn "cannot give $ABACO_RUN_HOST_DIR to uid $DAEMON_UID (not root?): the spawner may not write there"
}

# project_containers: ids of every container of the project.
project_containers() {
  docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"
}

# wait_healthy SERVICE...: until each service's container reports healthy;
# fails when one exits or is unhealthy, or after ABACO_COMPOSE_TIMEOUT s.
wait_healthy() {
  local timeout=${ABACO_COMPOSE_TIMEOUT:-180} deadline svc id state pending bad
  deadline=$(($(now_ms) + timeout * 1000))
  while :; do
    pending=() bad=()
    for svc in "$@"; do
      id=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" \
        --filter "label=com.docker.compose.service=$svc" | sed -n 1p)
      if [[ -z $id ]]; then
        pending+=("$svc(no container)")
        continue
      fi
      state=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")
      case $state in
        "running healthy") ;;
        exited* | dead* | "running unhealthy") bad+=("$svc($state)") ;;
        *) pending+=("$svc($state)") ;;
      esac
    done
    if ((${#bad[@]} > 0)); then
      warn "not healthy: ${bad[*]}"
      for svc in "${bad[@]}"; do
        svc=${svc%%(*}
        printf -- '---- last lines of %s ----\n' "$svc" >&2
        compose logs --tail 30 "$svc" >&2 || true
        id=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" \
          --filter "label=com.docker.compose.service=$svc" | sed -n 1p)
        [[ -n $id ]] && docker inspect -f '{{if .State.Health}}{{range .State.Health.Log}}probe exit {{.ExitCode}}: {{.Output}}{{"\n"}}{{end}}{{end}}' "$id" >&2
      done
      return 1
    fi
    ((${#pending[@]} == 0)) && return 0
    if (($(now_ms) >= deadline)); then
      warn "not healthy after ${timeout}s: ${pending[*]}"
      return 1
    fi
    sleep 1
  done
}

cmd_up() {
  local monitoring=0 services=("${BASE_SERVICES[@]}") profile=() t
  while (($# > 0)); do
    case $1 in
      --monitoring) monitoring=1 ;;
      *) die "compose.sh up: unknown option '$1'" ;;
    esac
    shift
  done
  if ((monitoring)); then
    profile=(--profile monitoring)
    services+=(prometheus)
  fi
  if [[ ${ABACO_NO_IMAGES:-0} != 1 ]]; then
    bash "$ABACO_ROOT/scripts/images.sh"
  fi
  run_dir
  say "compose ($("${COMPOSE[@]}" version --short 2>/dev/null || echo "${COMPOSE[*]}")): up -d, project $PROJECT, tag $ABACO_IMAGE_TAG"
  t=$(now_ms)
  # up -d itself fails when a dependency ends unhealthy: wait_healthy then
  # names it and shows its log and its last probes.
  compose "${profile[@]}" up -d --remove-orphans || warn "compose up -d failed"
  wait_healthy "${services[@]}" || die "the stack did not become healthy ('make compose-down' removes it)"
  HEALTHY_MS=$(($(now_ms) - t))
  say "every service healthy in $(fmt_ms "$HEALTHY_MS"); API on http://${ABACO_API_BIND:-127.0.0.1}:${ABACO_API_PORT:-8000}"
}

cmd_down() {
  local volumes=()
  while (($# > 0)); do
    case $1 in
      --volumes | -v) volumes=(--volumes) ;;
      *) die "compose.sh down: unknown option '$1'" ;;
    esac
    shift
  done
  say "compose: down, project $PROJECT${volumes:+ (and its volumes)}"
  # The spawner removes its workers when it stops; those it could not
  # (killed first, or already gone) are not compose's containers and would
  # keep the network busy ("network has active endpoints"): removed first.
  remove_worker_containers
  # Every profile, so a monitoring service goes too.
  compose --profile monitoring down --remove-orphans "${volumes[@]}"
}

# leftovers: what of the project still exists (containers, volumes,
# networks, the actor containers of its host id); empty when nothing.
leftovers() {
  local c v n a
  c=$(project_containers | tr '\n' ' ')
  v=$(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT" | tr '\n' ' ')
  n=$(docker network ls -q --filter "name=^${ABACO_NETWORK}\$" | tr '\n' ' ')
  a=$(docker ps -aq --filter label=abaco.platform=1 --filter "label=abaco.host=$ABACO_HOST_ID" | tr '\n' ' ')
  [[ -z $c$v$n$a ]] && return 0
  printf 'containers: %s volumes: %s networks: %s actor containers: %s\n' \
    "${c:-none}" "${v:-none}" "${n:-none}" "${a:-none}"
}

# remove_worker_containers: the spawner's worker containers of this stack's
# host id (ABACO_HOST_ID, default compose), after the spawner is stopped so
# it does not replace them.
remove_worker_containers() {
  local ids
  compose stop spawner >/dev/null 2>&1 || true
  mapfile -t ids < <(docker ps -aq --filter label=abaco.role=worker \
    --filter "label=abaco.host=${ABACO_HOST_ID:-compose}")
  if ((${#ids[@]} > 0)); then docker rm -f "${ids[@]}" >/dev/null || true; fi
}

# remove_actor_containers: the platform containers of this stack's host id
# (only a throw-away stack's id is unique to it), after a failure.
remove_actor_containers() {
  local ids
  mapfile -t ids < <(docker ps -aq --filter label=abaco.platform=1 --filter "label=abaco.host=$ABACO_HOST_ID")
  if ((${#ids[@]} > 0)); then docker rm -f "${ids[@]}" >/dev/null || true; fi
}

# A port nothing listens on, from the kernel (bind to port 0).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cmd_test() {
  local t0 rc=0 left
  t0=$(now_ms)
  # A project of its own, so neither a running compose stack nor the local
  # stack (ports 8000, 5672, 15672, ...) is touched.
  PROJECT="abacotest$$"
  export COMPOSE_PROJECT_NAME=$PROJECT ABACO_NETWORK=$PROJECT ABACO_HOST_ID=$PROJECT
  export ABACO_API_BIND=127.0.0.1
  # Images of a tag of its own: a concurrent `make images` (tag dev) cannot
  # swap them under the test. The tags stay as a build cache.
  export ABACO_IMAGE_TAG=${ABACO_COMPOSE_TEST_TAG:-compose-test}
  ABACO_API_PORT=$(free_port) ABACO_RABBIT_MGMT_PORT=$(free_port) ABACO_PROMETHEUS_PORT=$(free_port)
  export ABACO_API_PORT ABACO_RABBIT_MGMT_PORT ABACO_PROMETHEUS_PORT
  # A fresh directory of its own (mktemp: not a predictable /tmp name that
  # someone else could have made first; chowned and removed below).
  ABACO_RUN_HOST_DIR=$(mktemp -d "${TMPDIR:-/tmp}/$PROJECT.XXXXXX") ||
    die "cannot make the run directory in ${TMPDIR:-/tmp}"
  export ABACO_RUN_HOST_DIR
  # The health agent's pass every 5 s: the killed worker's orphans go soon.
  export ABACO_HEALTH_INTERVAL=5
  note "project $PROJECT: api :$ABACO_API_PORT, prometheus :$ABACO_PROMETHEUS_PORT, run dir $ABACO_RUN_HOST_DIR"
  on_exit() {
    local r=$?
    trap - EXIT
    remove_actor_containers
    cmd_down --volumes >/dev/null 2>&1 || warn "compose down failed"
    rm -rf "$ABACO_RUN_HOST_DIR"
    exit "$r"
  }
  trap on_exit EXIT
  trap 'exit 130' INT TERM
  if [[ ${ABACO_NO_IMAGES:-0} != 1 ]]; then
    local ti
    ti=$(now_ms)
    bash "$ABACO_ROOT/scripts/images.sh"
    note "images in $(fmt_ms $(($(now_ms) - ti)))"
  fi
  # The sample actors the tests run (idempotent, seconds).
  bash "$ABACO_ROOT/scripts/samples.sh" >/dev/null || die "building the sample actor images failed"
  ABACO_NO_IMAGES=1 cmd_up --monitoring
  export ABACO_API="http://127.0.0.1:$ABACO_API_PORT"
  export ABACO_PROMETHEUS="http://127.0.0.1:$ABACO_PROMETHEUS_PORT"
  export ABACO_COMPOSE_PROJECT=$PROJECT ABACO_HOST_ID
  (cd "$ABACO_ROOT" && timeout --foreground -k 10 "${ABACO_COMPOSE_TEST_TIMEOUT:-300}" \
    python3 -m pytest -q tests/compose) || rc=$?
  if ((rc != 0)); then
    warn "tests/compose failed (exit $rc); the last lines of the daemons:"
    compose logs --tail 20 api spawner health >&2 || true
  fi
  trap - EXIT
  cmd_down --volumes
  rm -rf "$ABACO_RUN_HOST_DIR"
  if left=$(leftovers) && [[ -z $left ]]; then
    note "nothing of project $PROJECT left (containers, volumes, network)"
  else
    warn "left behind by project $PROJECT: $left"
    rc=1
    remove_actor_containers
    cmd_down --volumes >/dev/null 2>&1 || true
  fi
  say "compose test $( ((rc == 0)) && echo OK || echo FAILED) in $(fmt_ms $(($(now_ms) - t0))) (healthy in $(fmt_ms "${HEALTHY_MS:-0}"))"
  return "$rc"
}

main() {
  local cmd=${1:-}
  (($# > 0)) && shift
  command -v docker >/dev/null || die "docker not found (scripts/deps.sh installs docker.io)"
  compose_cmd
  load_env
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    test) cmd_test "$@" ;;
    ps) compose --profile monitoring ps ;;
    logs) compose --profile monitoring logs "$@" ;;
    config) compose --profile monitoring config ;;
    *) die "usage: scripts/compose.sh up [--monitoring] | down [--volumes] | test | ps | logs [SERVICE] | config" ;;
  esac
}

main "$@"
