#!/usr/bin/env bash
# scripts/test.sh -- the whole test run from a fresh machine (`make test`):
# deps -> imports (every module the tests import is installed and listed)
# -> build -> up (servers + services) -> images (abaco/core, from the
# build; up starts the engine) -> samples -> unit tests (ctest,
# some against the live servers) -> functional tests (pytest over HTTP) ->
# compose (the compose stack under a project of its own on free ports:
# scripts/compose.sh test with docker-compose 1.29, which builds the other
# images) -> down, which runs always (trap), even after a failure or Ctrl-C. Prints a
# per-stage summary and the total time; exits non-zero if any stage failed.
#
# Environment: ABACO_FUNCTIONAL_TIMEOUT (seconds, default 2400) bounds the
# pytest run; ABACO_KEEP_UP=1 leaves the stack running at the end.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

T0=$(now_ms)
SCRIPTS="$ABACO_ROOT/scripts"
SUMMARY=()
FAILED=0
UP_TRIED=0
STAGE_NO=0

# stage NAME CMD...: run one stage with a header; record status and time.
stage() {
  local name=$1 t rc=0
  shift
  STAGE_NO=$((STAGE_NO + 1))
  CURRENT_STAGE=$name
  printf '\n==> [%d] %s\n' "$STAGE_NO" "$name"
  t=$(now_ms)
  "$@" || rc=$?
  t=$(($(now_ms) - t))
  if ((rc == 0)); then
    SUMMARY+=("$(printf '%-12s ok      %s' "$name" "$(fmt_ms "$t")")")
  else
    SUMMARY+=("$(printf '%-12s FAILED  %s (exit %d)' "$name" "$(fmt_ms "$t")" "$rc")")
    FAILED=1
    warn "stage '$name' failed (exit $rc)"
  fi
  return "$rc"
}

finish() {
  local rc=$?
  trap - EXIT INT TERM
  if ((UP_TRIED)); then
    if [[ ${ABACO_KEEP_UP:-0} == 1 ]]; then
      printf '\n==> stack left running (ABACO_KEEP_UP=1); stop it with make down\n'
    else
      stage down "$SCRIPTS/down.sh" || true
      stage leftovers check_leftovers || true
    fi
  fi
  ((rc == 0)) || FAILED=1
  printf '\n==> summary\n'
  local line
  for line in "${SUMMARY[@]}"; do printf '    %s\n' "$line"; done
  if ((FAILED)); then
    printf '==> make test FAILED after %s\n' "$(fmt_ms $(($(now_ms) - T0)))"
    exit 1
  fi
  printf '==> make test OK in %s\n' "$(fmt_ms $(($(now_ms) - T0)))"
  exit 0
}
trap finish EXIT
on_signal() {
  warn "interrupted"
  SUMMARY+=("$(printf '%-12s INTERRUPTED' "${CURRENT_STAGE:-?}")")
  exit 130
}
trap on_signal INT TERM

# After `make down` nothing of ours may be left: no service or worker
# process of this build, no moto server of this tree's venv nor SMTP sink
# of this tree, no platform container.
check_leftovers() {
  local procs containers=""
  procs=$(pgrep -af "$BUILD_DIR/bin/|$VENV_DIR/bin/.*moto_server|$ABACO_ROOT/scripts/smtp_sink.py" |
    grep -v pgrep || true)
  if docker_ping 2>/dev/null; then
    containers=$(docker ps -aq --filter label=abaco.platform=1 2>/dev/null || true)
  fi
  if [[ -n $procs || -n $containers ]]; then
    warn "left running after down: ${procs:-no processes}; containers: ${containers:-none}"
    return 1
  fi
  note "no process or container of ours left"
}

run_samples() {
  if [[ ! -f $SCRIPTS/samples.sh ]]; then
    warn "scripts/samples.sh is missing: the test actor images cannot be built"
    return 1
  fi
  export_test_env
  bash "$SCRIPTS/samples.sh"
}

# The suite's worker modules again with [spawner] worker_backend = docker:
# the stack's spawner is restarted with the override (each worker is then a
# container of abaco/core:dev, built by the images stage), and the modules
# are told (ABACO_WORKER_BACKEND) which cid and worker processes to expect.
WORKER_MODULES=(tests/functional/test_api_workers.py tests/functional/test_worker_contract.py
  tests/functional/test_stateful_workers.py)
run_docker_workers() {
  export_test_env
  local pid rc=0
  if pid=$(our_pid spawner "$BUILD_DIR/bin/spawner"); then stop_pids 20 "$pid"; fi
  spawner_worker_backend=docker ABACO_NO_BUILD=1 "$SCRIPTS/up.sh" >/dev/null || return 1
  note "spawner restarted with worker_backend = docker (pid $(our_pid spawner "$BUILD_DIR/bin/spawner"))"
  (cd "$ABACO_ROOT" && ABACO_WORKER_BACKEND=docker timeout --foreground -k 10 900 \
    python3 -m pytest -q "${WORKER_MODULES[@]}") || rc=$?
  return "$rc"
}

# The execution modules again with [workers] runtime = oci (docs/oci.md):
# the stack's spawner is restarted with workers_runtime=oci in its
# environment, which its workers (and the private pairs the modules start)
# inherit; ABACO_WORKER_RUNTIME tells the modules where containers live.
OCI_MODULES=(tests/functional/test_worker_contract.py tests/functional/test_messages.py
  tests/functional/test_api_messages.py tests/functional/test_api_workers.py
  tests/functional/test_stateful_workers.py)
run_oci_workers() {
  export_test_env
  local pid rc=0
  if pid=$(our_pid spawner "$BUILD_DIR/bin/spawner"); then stop_pids 20 "$pid"; fi
  workers_runtime=oci ABACO_NO_BUILD=1 "$SCRIPTS/up.sh" >/dev/null || return 1
  note "spawner restarted with workers_runtime=oci (pid $(our_pid spawner "$BUILD_DIR/bin/spawner"))"
  (cd "$ABACO_ROOT" && workers_runtime=oci ABACO_WORKER_RUNTIME=oci \
    timeout --foreground -k 10 900 python3 -m pytest -q "${OCI_MODULES[@]}") || rc=$?
  return "$rc"
}

run_functional() {
  export_test_env
  note "ABACO_API=$ABACO_API"
  local rc=0
  (cd "$ABACO_ROOT" && timeout --foreground -k 10 "${ABACO_FUNCTIONAL_TIMEOUT:-2400}" \
    python3 -m pytest -q tests/functional) || rc=$?
  case $rc in
    0) return 0 ;;
    5) warn "pytest collected no tests in tests/functional: counted as a failure" ;;
    124) warn "pytest did not finish within ${ABACO_FUNCTIONAL_TIMEOUT:-2400}s" ;;
  esac
  return "$rc"
}

# A stage that everything after it depends on ends the run when it fails
# (the EXIT trap still stops the stack and prints the summary).
stage deps "$SCRIPTS/deps.sh" || exit 1
hash -r # python3 is now var/venv's (lib.sh puts it first on PATH)
stage imports python3 "$SCRIPTS/check_imports.py" || exit 1
stage build abaco_build || exit 1
UP_TRIED=1
stage up env ABACO_NO_BUILD=1 "$SCRIPTS/up.sh" || exit 1
stage images env ABACO_NO_BUILD=1 "$SCRIPTS/images.sh" core || true
stage samples run_samples || true
stage unit run_unit_tests "$BUILD_DIR" || true
stage functional run_functional || true
stage workers-docker run_docker_workers || true
stage workers-oci run_oci_workers || true
# Debian 12's docker-compose 1.29 (Compose v2+: make compose-v2-test, CI).
stage compose env ABACO_NO_BUILD=1 ABACO_COMPOSE="${ABACO_COMPOSE:-v1}" "$SCRIPTS/compose.sh" test || true
