#!/usr/bin/env bash
# scripts/ansible_test.sh -- `make ansible-test`: deploy the platform with
# ansible/ onto test hosts made on this machine, for real, and tear them down.
#
#   1. tools: mmdebstrap, systemd-container (systemd-nspawn), iproute2,
#      openssh-client, dpkg-dev (apt); ansible-core, ansible-lint, yamllint
#      (ansible/requirements.txt, into var/venv); a Docker engine (the
#      machine's, or one started here and stopped at the end).
#   2. packages: scripts/build_deb.sh (abaco, abaco-ferretdb under var/deb/),
#      sample actor images (scripts/samples.sh echo sleep).
#   3. lint: yamllint and ansible-lint (production profile) over ansible/.
#   4. hosts: a Debian 12 tree made once with mmdebstrap (cached under
#      var/ansible-test/base), one overlay of it per host; network
#      namespaces abt-db, abt-web, abt-c1, abt-c2 with veth pairs on the
#      bridge abt-br0 (10.77.0.0/24, machine side 10.77.0.1); each host
#      boots systemd as its PID 1 with systemd-nspawn in its namespace and
#      runs sshd. The compute hosts get the machine's Docker socket and
#      /srv/<host> (their sockets/FIFOs dirs, the same path on both sides)
#      bound in.
#   5. ansible-playbook -i inventories/test site.yml twice: the second run
#      must report changed=0 on every host.
#   6. systemd-analyze security --offline=yes on each of the 7 units the
#      roles wrote: exposure scores printed, fail above the thresholds
#      (ABT_MAX_EXPOSURE for api, FerretDB, clientg, launcher and updater,
#      ABT_MAX_EXPOSURE_DOCKER for spawner/health, which hold the Docker
#      socket; docs/operations.md explains them).
#   7. end to end through the web host's api (tests/ansible/e2e.py): two
#      actors, their executions COMPLETE with logs, run by workers on both
#      compute hosts; clientg, launcher and updater active on abt-web
#      (clientg's key written, the cloud daemons' one warning); then
#      update.yml (rolling restart) and one more message.
#   8. teardown of the hosts (also on failure or ^C): machines powered off,
#      overlays unmounted, namespaces, veths, bridge, iptables rules and
#      /srv/abt-* removed. ABT_KEEP=1 keeps everything up for a look (then
#      run `scripts/ansible_test.sh --down`).
#   9. second scenario, abaco_install_method=compose (roles/compose): the
#      compose stack deployed on this machine itself (inventories/
#      compose-test, ansible_connection=local, this machine's Docker
#      engine) as project abtcompose on ports 18300/18301: images tagged
#      abt-compose (scripts/images.sh), site.yml twice (the second run
#      changed=0), update.yml (changed=0: nothing new), one message end to
#      end through its api, then site.yml
#      with abaco_compose_state=absent and a check that nothing of the
#      project is left (containers, network, volumes, actor containers,
#      image tags, directories).
#
# Environment: ABT_KEEP=1 (above), ABT_LINT=0 skips step 3 (development
# only), ABT_MAX_EXPOSURE / ABT_MAX_EXPOSURE_DOCKER (the limits of step 6),
# ABT_SCENARIOS (default "hosts compose": which scenarios run).
#
# Usage: scripts/ansible_test.sh [--down]
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

T0=$(now_ms)
AT="$VAR_DIR/ansible-test"
BASE="$AT/base"
HOSTS_DIR="$AT/hosts"
SSH_KEY="$AT/ssh/id_ed25519"
LOGS="$AT/log"
ANSIBLE_DIR="$ABACO_ROOT/ansible"
BRIDGE=abt-br0
SUBNET=10.77.0.0/24
GATEWAY=10.77.0.1
# name ip role
HOSTS=("abt-db 10.77.0.11" "abt-web 10.77.0.12" "abt-c1 10.77.0.21" "abt-c2 10.77.0.22")
COMPUTE=(abt-c1 abt-c2)
MAX_EXPOSURE=${ABT_MAX_EXPOSURE:-1.5}
MAX_EXPOSURE_DOCKER=${ABT_MAX_EXPOSURE_DOCKER:-2.0}
SCENARIOS=${ABT_SCENARIOS:-hosts compose}
# Second scenario (inventories/compose-test): the project, its host id and
# network, its ports, its image tags (built here; shipped to the "host"),
# its directories on this machine.
CPROJECT=abtcompose
CAPI_PORT=18300
CMGMT_PORT=18301
CSRC_TAG=abt-compose
CHOST_TAG=abt-compose-host
CDIR=/srv/abt-compose
CIMAGES=(core redis rabbitmq ferretdb)
BASE_PACKAGES=systemd,systemd-sysv,dbus,openssh-server,python3,python3-apt,sudo,iproute2,ca-certificates,curl
# Preinstalled so the hosts need no network: what the roles install
# (Redis, RabbitMQ, Prometheus) and the shared libraries of the abaco
# package (apt checks its Depends against them).
BASE_PACKAGES+=,redis-server,rabbitmq-server,prometheus
BASE_PACKAGES+=,libbson-1.0-0,libcurl4,libhiredis0.14,libinih1,libjansson4,libjwt0,libmicrohttpd12
BASE_PACKAGES+=,libmongoc-1.0-0,librabbitmq4,libssl3,libuv1,libxml2,libyaml-0-2

[[ $(id -u) -eq 0 ]] || die "run as root (network namespaces, systemd-nspawn, mounts)"

host_name() { echo "${1%% *}"; }
host_ip() { echo "${1##* }"; }
is_compute() { [[ " ${COMPUTE[*]} " == *" $1 "* ]]; }

# ---------------------------------------------------------------- teardown

nspawn_pid() { cat "$AT/run/$1.pid" 2>/dev/null || true; }

teardown() {
  local h name pid i
  say "teardown"
  for h in "${HOSTS[@]}"; do
    name=$(host_name "$h")
    pid=$(nspawn_pid "$name")
    if [[ -n $pid ]] && pid_matches "$pid" "systemd-nspawn"; then
      # nspawn turns SIGTERM into a clean poweroff of the host's systemd.
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for h in "${HOSTS[@]}"; do
    name=$(host_name "$h")
    pid=$(nspawn_pid "$name")
    [[ -n $pid ]] || continue
    for ((i = 0; i < 150; i++)); do pid_matches "$pid" systemd-nspawn || break; sleep 0.2; done
    if pid_matches "$pid" systemd-nspawn; then
      warn "$name: still running after 30 s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 1
    fi
    rm -f "$AT/run/$name.pid"
  done
  for h in "${HOSTS[@]}"; do
    name=$(host_name "$h")
    if mountpoint -q "$HOSTS_DIR/$name/root" 2>/dev/null; then
      umount "$HOSTS_DIR/$name/root" || umount -l "$HOSTS_DIR/$name/root" || warn "cannot unmount $HOSTS_DIR/$name/root"
    fi
    rm -rf "${HOSTS_DIR:?}/$name"
    ip link del "$name-v" 2>/dev/null || true
    ip netns del "$name" 2>/dev/null || true
    if [[ -d /srv/$name ]]; then rm -rf "/srv/${name:?}"; fi
  done
  if mountpoint -q "$AT/plain/root" 2>/dev/null; then umount "$AT/plain/root" || umount -l "$AT/plain/root" || true; fi
  rm -rf "$AT/plain"
  ip link del "$BRIDGE" 2>/dev/null || true
  while iptables -D FORWARD -i "$BRIDGE" -j ACCEPT -m comment --comment abt 2>/dev/null; do :; done
  while iptables -D FORWARD -o "$BRIDGE" -j ACCEPT -m comment --comment abt 2>/dev/null; do :; done
  compose_leftovers_remove
  if pid=$(our_pid abt-dockerd dockerd); then
    note "stopping the Docker engine started here (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    wait_until 30 "" bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
    rm -f "$(pidfile_of abt-dockerd)"
  fi
}

# compose_leftovers: what of the compose scenario's project exists, on
# stdout (empty: nothing).
compose_leftovers() {
  local c v n a t=() d=() i
  c=$(docker ps -aq --filter "label=com.docker.compose.project=$CPROJECT" | tr '\n' ' ')
  v=$(docker volume ls -q --filter "label=com.docker.compose.project=$CPROJECT" | tr '\n' ' ')
  n=$(docker network ls -q --filter "name=^$CPROJECT\$" | tr '\n' ' ')
  a=$(docker ps -aq --filter label=abaco.platform=1 --filter "label=abaco.host=$CPROJECT" | tr '\n' ' ')
  for i in "${CIMAGES[@]}" prometheus; do
    [[ -z $(docker images -q "abaco/$i:$CHOST_TAG") ]] || t+=("abaco/$i:$CHOST_TAG")
  done
  # The role's directories (the test removes their parent $CDIR itself).
  for i in "$CDIR/app" "$CDIR/run"; do [[ ! -e $i ]] || d+=("$i"); done
  [[ -z $c$v$n$a && ${#t[@]} -eq 0 && ${#d[@]} -eq 0 ]] && return 0
  printf 'containers: %s volumes: %s networks: %s actor containers: %s image tags: %s directories: %s\n' \
    "${c:-none}" "${v:-none}" "${n:-none}" "${a:-none}" "${t[*]:-none}" "${d[*]:-none}"
}

# compose_leftovers_remove: removes them by their labels and names (after a
# failure; the test's own teardown is the role's abaco_compose_state=absent).
compose_leftovers_remove() {
  local ids i
  command -v docker >/dev/null && docker_ping /var/run/docker.sock || return 0
  mapfile -t ids < <(docker ps -aq --filter "label=com.docker.compose.project=$CPROJECT";
    docker ps -aq --filter label=abaco.platform=1 --filter "label=abaco.host=$CPROJECT")
  if ((${#ids[@]} > 0)); then docker rm -f "${ids[@]}" >/dev/null 2>&1 || true; fi
  mapfile -t ids < <(docker volume ls -q --filter "label=com.docker.compose.project=$CPROJECT")
  if ((${#ids[@]} > 0)); then docker volume rm -f "${ids[@]}" >/dev/null 2>&1 || true; fi
  docker network rm "$CPROJECT" >/dev/null 2>&1 || true
  for i in "${CIMAGES[@]}" prometheus; do docker rmi "abaco/$i:$CHOST_TAG" >/dev/null 2>&1 || true; done
  rm -rf "$CDIR" "$AT/compose-images"
}

if [[ ${1:-} == --down ]]; then
  teardown
  exit 0
fi

# ---------------------------------------------------------------- 1. tools

install_tools() {
  local missing=() p
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v ssh >/dev/null || missing+=(openssh-client)
  command -v dpkg-shlibdeps >/dev/null || missing+=(dpkg-dev)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v systemd-analyze >/dev/null || missing+=(systemd)
  if ((${#missing[@]} > 0)); then
    say "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$LOGS/apt.log" 2>&1 ||
      { log_tail "$LOGS/apt.log" 30; die "apt-get install ${missing[*]} failed"; }
  fi
  [[ -x $VENV_DIR/bin/python3 ]] || bash "$ABACO_ROOT/scripts/deps.sh"
  local stamp
  stamp=$(sha256sum <"$ANSIBLE_DIR/requirements.txt" | cut -c1-16)
  if [[ $(cat "$VENV_DIR/.ansible-requirements" 2>/dev/null) != "$stamp" ]] || ! command -v ansible-playbook >/dev/null; then
    say "pip install -r ansible/requirements.txt (into var/venv)"
    "$VENV_DIR/bin/python3" -m pip install -q --disable-pip-version-check -r "$ANSIBLE_DIR/requirements.txt" \
      >>"$LOGS/pip.log" 2>&1 || { log_tail "$LOGS/pip.log" 30; die "pip install -r ansible/requirements.txt failed"; }
    printf '%s\n' "$stamp" >"$VENV_DIR/.ansible-requirements"
  fi
  for p in ansible-playbook ansible-lint yamllint; do
    command -v "$p" >/dev/null || die "$p is missing from var/venv"
  done
  note "$(ansible-playbook --version | sed -n 1p), $(systemd-analyze --version | sed -n 1p)"
  ensure_engine
}

# ensure_engine: a Docker engine on /var/run/docker.sock (for the compute
# hosts and the compose scenario), started here when none answers and
# stopped by teardown -- so each scenario asks again: the hosts
# scenario's teardown stops an engine it started.
ensure_engine() {
  if ! docker_ping /var/run/docker.sock; then
    command -v dockerd >/dev/null || die "no Docker engine on /var/run/docker.sock and no dockerd (run scripts/deps.sh)"
    say "starting a Docker engine on /var/run/docker.sock (stopped at the end)"
    start_bg abt-dockerd "$LOGS/dockerd.log" dockerd
    wait_until 30 "$STARTED_PID" docker_ping /var/run/docker.sock || { log_tail "$LOGS/dockerd.log"; die "dockerd did not start"; }
  fi
}

# ---------------------------------------------------------------- 4. hosts

build_base() {
  local want have
  want=$(printf '%s\n' "$BASE_PACKAGES" | sha256sum | cut -c1-16)
  have=$(cat "$BASE/.abt-packages" 2>/dev/null || true)
  if [[ $want == "$have" ]]; then
    note "base tree cached ($BASE)"
    return 0
  fi
  local mirror t
  mirror=$(apt_suite_uri bookworm 2>/dev/null || echo http://deb.debian.org/debian)
  say "mmdebstrap: Debian 12 tree with systemd, sshd, python3 (from $mirror; once)"
  t=$(now_ms)
  rm -rf "$BASE" "$AT/base.new"
  mmdebstrap --variant=apt --include="$BASE_PACKAGES" bookworm "$AT/base.new" "$mirror" >"$LOGS/mmdebstrap.log" 2>&1 ||
    { log_tail "$LOGS/mmdebstrap.log" 30; die "mmdebstrap failed"; }
  mv "$AT/base.new" "$BASE"
  # The roles enable the servers where they belong; no host starts them by itself.
  systemctl --root="$BASE" disable redis-server.service rabbitmq-server.service prometheus.service \
    prometheus-node-exporter.service >/dev/null 2>&1 || true
  # Each host gets a fresh machine id at boot; sshd keys are the base's.
  : >"$BASE/etc/machine-id"
  printf '%s\n' "$want" >"$BASE/.abt-packages"
  note "base tree ready in $(fmt_ms $(($(now_ms) - t))) ($(du -sh "$BASE" | cut -f1))"
}

make_host() {
  local name=$1 ip=$2 root="$HOSTS_DIR/$1/root"
  mkdir -p "$HOSTS_DIR/$name"/{upper,work,root}
  mount -t overlay "abt-$name" -o "lowerdir=$BASE,upperdir=$HOSTS_DIR/$name/upper,workdir=$HOSTS_DIR/$name/work" "$root"
  install -d -m 0700 "$root/root/.ssh"
  install -m 0600 "$SSH_KEY.pub" "$root/root/.ssh/authorized_keys"
  printf '%s\n' "$name" >"$root/etc/hostname"
  printf '127.0.0.1 localhost\n%s %s\n' "$ip" "$name" >"$root/etc/hosts"
  # No resolver: the hosts need none (everything is preinstalled).
  : >"$root/etc/resolv.conf"
  # sshd's pam_env reads it (mmdebstrap's tree has no locales).
  [[ -e $root/etc/default/locale ]] || printf 'LANG=C.UTF-8\n' >"$root/etc/default/locale"
  ip netns add "$name"
  ip link add "$name-v" type veth peer name eth0 netns "$name"
  ip link set "$name-v" master "$BRIDGE" up
  ip -n "$name" addr add "$ip/24" dev eth0
  ip -n "$name" link set eth0 up
  ip -n "$name" link set lo up
  ip -n "$name" route add default via "$GATEWAY"
  # This machine's PID 1 may not be systemd: --register=no --keep-unit keep
  # nspawn from asking a (missing) system bus for a machine and a scope.
  local args=(--boot --register=no --keep-unit -D "$root" -M "$name" --network-namespace-path="/run/netns/$name"
    --resolv-conf=off --timezone=off --console=pipe)
  if is_compute "$name"; then
    mkdir -p "/srv/$name"
    args+=(--bind=/var/run/docker.sock:/run/docker.sock --bind="/srv/$name")
  fi
  mkdir -p "$AT/run"
  setsid systemd-nspawn "${args[@]}" </dev/null >"$LOGS/$name.console.log" 2>&1 &
  echo $! >"$AT/run/$name.pid"
}

ssh_host() {
  ssh -i "$SSH_KEY" -o BatchMode=yes -o ConnectTimeout=3 -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "root@$1" "${@:2}"
}

wait_host() {
  local name=$1 ip=$2 pid i
  pid=$(nspawn_pid "$name")
  for ((i = 0; i < 120; i++)); do
    if ! pid_alive "$pid"; then
      log_tail "$LOGS/$name.console.log" 40
      die "$name: systemd-nspawn exited (log $LOGS/$name.console.log)"
    fi
    if ssh_host "$ip" systemctl is-system-running --wait >/dev/null 2>&1 ||
      ssh_host "$ip" true 2>/dev/null && [[ $(ssh_host "$ip" systemctl is-system-running 2>/dev/null) =~ ^(running|degraded)$ ]]; then
      note "$name ($ip): up, systemd $(ssh_host "$ip" systemctl is-system-running 2>/dev/null), PID 1 $(ssh_host "$ip" cat /proc/1/comm)"
      return 0
    fi
    sleep 1
  done
  log_tail "$LOGS/$name.console.log" 40
  die "$name: no ssh on $ip after 120 s"
}

# The abaco package on a Debian 12 tree without its libraries: an overlay
# of the base tree from which they are purged, where `apt-get install
# ./abaco_*.deb` must fetch them from the machine's Debian mirror (the
# tree shares the machine's network; nothing of it is kept).
deb_plain_check() {
  local deb dir="$AT/plain" log="$LOGS/deb-plain.log" libs
  deb=$(find "$VAR_DIR/deb" -maxdepth 1 -name 'abaco_*.deb' | sort | tail -n 1)
  libs="libuv1 libhiredis0.14 librabbitmq4 libjansson4 libmicrohttpd12 libjwt0 libinih1 libmongoc-1.0-0 libbson-1.0-0"
  say "apt-get install ./$(basename "$deb") on a tree without $libs"
  mkdir -p "$dir"/{upper,work,root}
  mount -t overlay abt-plain -o "lowerdir=$BASE,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
  # (not /tmp: nspawn mounts a tmpfs there)
  cp "$deb" "$dir/root/root/"
  local rc=0
  # shellcheck disable=SC2016 # expanded by the inner bash
  systemd-nspawn --register=no --keep-unit -q -D "$dir/root" --resolv-conf=copy-host --timezone=off --pipe \
    env DEBIAN_FRONTEND=noninteractive LIBS="$libs" DEB="/root/$(basename "$deb")" bash -euc '
      apt-get purge -y -q $LIBS >/dev/null
      for l in $LIBS; do ! dpkg -s "$l" >/dev/null 2>&1 || { echo "$l still installed"; exit 1; }; done
      apt-get update -q >/dev/null
      apt-get install -y -q "$DEB"
      /usr/lib/abaco/api --help >/dev/null 2>&1 || [ $? -ne 127 ]
      ldd /usr/lib/abaco/* | { ! grep "not found"; }
      dpkg -s abaco | sed -n "s/^Version: /installed abaco /p"' >"$log" 2>&1 || rc=$?
  umount "$dir/root" || umount -l "$dir/root"
  rm -rf "$dir"
  if ((rc != 0)); then log_tail "$log" 30; die "the abaco package does not install on a plain tree (log $log)"; fi
  note "$(grep "^installed abaco" "$log"), pulling from the mirror: $(sed -n 's/^Setting up \([^: ]*\).*/\1/p' "$log" | grep -v '^abaco$' | tr '\n' ' ')"
}

make_hosts() {
  say "hosts: bridge $BRIDGE ($SUBNET), namespaces and systemd-nspawn machines"
  ip link add "$BRIDGE" type bridge
  ip addr add "$GATEWAY/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # Docker's FORWARD policy is DROP and bridged frames may pass iptables
  # (br_netfilter): let the hosts talk to each other.
  iptables -I FORWARD -i "$BRIDGE" -j ACCEPT -m comment --comment abt
  iptables -I FORWARD -o "$BRIDGE" -j ACCEPT -m comment --comment abt
  local h t
  t=$(now_ms)
  for h in "${HOSTS[@]}"; do make_host "$(host_name "$h")" "$(host_ip "$h")"; done
  for h in "${HOSTS[@]}"; do wait_host "$(host_name "$h")" "$(host_ip "$h")"; done
  note "4 hosts booted in $(fmt_ms $(($(now_ms) - t)))"
}

# ---------------------------------------------------------------- 5. deploy

# play NAME PLAYBOOK [ARGS...]: run it (inventory $PLAY_INVENTORY, default
# inventories/test), log to $LOGS/NAME.log; sets PLAY_CHANGED (sum of
# changed= over the recap) and PLAY_MS.
play() {
  local name=$1 book=$2 t rc=0
  t=$(now_ms)
  (cd "$ANSIBLE_DIR" && ANSIBLE_FORCE_COLOR=0 ansible-playbook -i "${PLAY_INVENTORY:-inventories/test}" "$book" "${@:3}") \
    >"$LOGS/$name.log" 2>&1 || rc=$?
  PLAY_MS=$(($(now_ms) - t))
  if ((rc != 0)); then
    tail -n 60 "$LOGS/$name.log" >&2
    die "ansible-playbook $book ($name) failed (exit $rc; log $LOGS/$name.log)"
  fi
  PLAY_CHANGED=$(awk '/^PLAY RECAP/ { r = 1; next } r && /changed=/ { sub(/.*changed=/, ""); s += $1 } END { print s + 0 }' "$LOGS/$name.log")
  note "$book ($name): $(fmt_ms "$PLAY_MS"), changed=$PLAY_CHANGED"
  sed -n '/^PLAY RECAP/,/^$/p' "$LOGS/$name.log" | sed 's/^/      /'
}

# ---------------------------------------------------------------- 6. scores

security_scores() {
  say "systemd-analyze security --offline=yes (limits: $MAX_EXPOSURE, $MAX_EXPOSURE_DOCKER with the Docker socket)"
  local h name unit file score limit bad=0 n=0 dir="$AT/units"
  rm -rf "$dir"
  mkdir -p "$dir"
  for h in "${HOSTS[@]}"; do
    name=$(host_name "$h")
    for file in "$HOSTS_DIR/$name/root/etc/systemd/system/"abaco-*.service; do
      [[ -f $file ]] || continue
      unit=$(basename "$file")
      # One copy per unit name (compute hosts write the same units).
      [[ -f $dir/$unit ]] && continue
      cp "$file" "$dir/$unit"
      score=$(cd "$dir" && systemd-analyze security --offline=yes --no-pager "$unit" 2>&1 |
        sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
      [[ -n $score ]] || { systemd-analyze security --offline=yes "$dir/$unit" || true; die "no exposure score for $unit"; }
      case $unit in abaco-spawner.service | abaco-health.service) limit=$MAX_EXPOSURE_DOCKER ;; *) limit=$MAX_EXPOSURE ;; esac
      SCORES+=("${unit%.service} $score")
      if awk -v s="$score" -v l="$limit" 'BEGIN { exit !(s > l) }'; then
        warn "$unit: exposure $score > $limit"
        (cd "$dir" && systemd-analyze security --offline=yes --no-pager "$unit" | grep -v '^  ✓' | sed -n 1,40p) >&2 || true
        bad=1
      else
        note "$unit: exposure $score (limit $limit)"
      fi
      n=$((n + 1))
    done
  done
  ((n == 7)) || die "found $n of the 7 units of the roles (ferretdb, api, spawner, health, clientg, launcher, updater) to score"
  ((bad == 0)) || die "a unit is above its exposure limit"
}

# ---------------------------------------------------------------- main

mkdir -p "$LOGS" "$AT/ssh" "$HOSTS_DIR"
trap 'rc=$?; if [[ ${ABT_KEEP:-0} == 1 ]]; then warn "ABT_KEEP=1: hosts left up (scripts/ansible_test.sh --down)"; else teardown; fi; exit $rc' EXIT
# Leftovers of an interrupted run.
teardown >/dev/null 2>&1 || true

install_tools
[[ -f $SSH_KEY ]] || ssh-keygen -q -t ed25519 -N '' -C abt-ansible-test -f "$SSH_KEY"

if [[ " $SCENARIOS " == *" hosts "* ]]; then
  say "packages"
  bash "$ABACO_ROOT/scripts/build_deb.sh"
fi
say "sample actor images"
bash "$ABACO_ROOT/scripts/samples.sh" echo sleep

say "lint"
if [[ ${ABT_LINT:-1} == 1 ]]; then
(cd "$ANSIBLE_DIR" && yamllint -s .) || die "yamllint found problems"
(cd "$ANSIBLE_DIR" && ansible-lint -q) || die "ansible-lint found problems"
note "yamllint and ansible-lint (production profile) clean"
else
  warn "ABT_LINT=0: lint skipped"
fi

# ---------------------------------------------------------------- scenarios

# control_checks: clientg, launcher and updater on abt-web are active and
# never restarted; clientg wrote its key; the launcher and the updater
# (no [cloud] credentials) said so and stayed up.
control_checks() {
  local ip=10.77.0.12 d u n w key
  say "control daemons on abt-web: clientg, launcher, updater"
  for d in clientg launcher updater; do
    u=abaco-$d.service
    if [[ $(ssh_host "$ip" systemctl is-active "$u") != active ]]; then
      ssh_host "$ip" systemctl status --no-pager "$u" >&2 || true
      die "$u is not active on abt-web"
    fi
    n=$(ssh_host "$ip" systemctl show -p NRestarts --value "$u")
    [[ $n == 0 ]] || die "$u restarted $n times after failures on abt-web"
    w=$(ssh_host "$ip" journalctl -u "$u" --no-pager -o cat | grep -c "no AWS credentials" || true)
    case $d in
      clientg) key=$(ssh_host "$ip" "stat -c '%U %a' /var/lib/abaco/clientg/platform_key.pem") ||
        die "clientg wrote no key on abt-web"
        [[ $key == "abaco 600" ]] || die "clientg's key on abt-web is '$key', not owned by abaco with mode 600"
        note "$u: active, no restart, key /var/lib/abaco/clientg/platform_key.pem ($key)" ;;
      *) ((w >= 1)) || die "$u did not warn about the missing cloud credentials"
        note "$u: active, no restart, warned of no cloud credentials ($w warnings over its starts)" ;;
    esac
  done
}

scenario_hosts() {
  build_base
  deb_plain_check
  make_hosts

  say "deploy: ansible-playbook -i inventories/test site.yml"
  play site-1 site.yml
  FIRST_MS=$PLAY_MS FIRST_CHANGED=$PLAY_CHANGED
  say "deploy again: nothing may change"
  play site-2 site.yml
  ((PLAY_CHANGED == 0)) || die "second run of site.yml changed $PLAY_CHANGED things (log $LOGS/site-2.log)"
  SECOND_MS=$PLAY_MS

  security_scores

  say "end to end through the api on abt-web"
  python3 "$ABACO_ROOT/tests/ansible/e2e.py" --api http://10.77.0.12:8000 --hosts 1,2 --phase deploy
  control_checks

  say "monitoring: Prometheus on abt-web scrapes the api"
  prom_api_up() {
    curl -s -m 3 "http://10.77.0.12:9090/api/v1/targets" | python3 -c '
import json, sys
targets = json.load(sys.stdin)["data"]["activeTargets"]
sys.exit(0 if any(t["scrapeUrl"].endswith(":8000/metrics") and t["health"] == "up" for t in targets) else 1)'
  }
  wait_until 60 "" prom_api_up || die "Prometheus on abt-web does not report the api's /metrics target up"
  note "target http://10.77.0.12:8000/metrics is up"

  say "rolling update: update.yml"
  play update update.yml
  python3 "$ABACO_ROOT/tests/ansible/e2e.py" --api http://10.77.0.12:8000 --hosts 1,2 --phase after-update
  control_checks
  RESULTS+=("hosts: site.yml $(fmt_ms "$FIRST_MS") (changed=$FIRST_CHANGED), again $(fmt_ms "$SECOND_MS") (changed=0); exposure: ${SCORES[*]}")
  # The hosts go before the compose scenario (2 cores).
  if [[ ${ABT_KEEP:-0} != 1 ]]; then teardown; fi
}

port_free() {
  python3 -c 'import socket, sys; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

# The task's changed items in a play log: task_changed LOG TASK-NAME.
task_changed() {
  awk -v t="$2" '/^TASK \[/ { on = index($0, ": " t "]") > 0; next } on && /^changed: / { n++ } END { print n + 0 }' "$1"
}

scenario_compose() {
  local p t
  say "compose scenario (inventories/compose-test): project $CPROJECT on this machine's Docker engine"
  for p in "$CAPI_PORT" "$CMGMT_PORT"; do port_free "$p" || die "port $p is in use: the compose scenario needs it"; done
  compose_leftovers_remove
  t=$(now_ms)
  ABACO_IMAGE_TAG=$CSRC_TAG bash "$ABACO_ROOT/scripts/images.sh" "${CIMAGES[@]}" >"$LOGS/compose-images.log" 2>&1 ||
    { log_tail "$LOGS/compose-images.log" 30; die "scripts/images.sh (tag $CSRC_TAG) failed"; }
  note "images abaco/{$(IFS=,; echo "${CIMAGES[*]}")}:$CSRC_TAG in $(fmt_ms $(($(now_ms) - t)))"

  say "deploy: ansible-playbook -i inventories/compose-test site.yml"
  PLAY_INVENTORY=inventories/compose-test play compose-1 site.yml
  CFIRST_MS=$PLAY_MS CFIRST_CHANGED=$PLAY_CHANGED
  local shipped
  shipped=$(task_changed "$LOGS/compose-1.log" "Load the images")
  ((shipped == ${#CIMAGES[@]})) || die "the first run loaded $shipped images, not ${#CIMAGES[@]} (log $LOGS/compose-1.log)"
  note "first run shipped $shipped images (docker save, copy, docker load, tag $CHOST_TAG)"
  say "deploy again: nothing may change"
  PLAY_INVENTORY=inventories/compose-test play compose-2 site.yml
  ((PLAY_CHANGED == 0)) || die "second run of site.yml (compose) changed $PLAY_CHANGED things (log $LOGS/compose-2.log)"
  CSECOND_MS=$PLAY_MS
  say "update.yml on the compose host: same images and settings, nothing to do"
  PLAY_INVENTORY=inventories/compose-test play compose-update update.yml
  ((PLAY_CHANGED == 0)) || die "update.yml (compose) changed $PLAY_CHANGED things with nothing new (log $LOGS/compose-update.log)"

  say "end to end through the compose stack's api (127.0.0.1:$CAPI_PORT)"
  python3 "$ABACO_ROOT/tests/ansible/e2e.py" --api "http://127.0.0.1:$CAPI_PORT" --hosts "$CPROJECT" --phase compose

  say "remove it: site.yml -e abaco_compose_state=absent"
  PLAY_INVENTORY=inventories/compose-test play compose-absent site.yml -e abaco_compose_state=absent
  local left
  left=$(compose_leftovers)
  [[ -z $left ]] || die "left behind by the compose scenario: $left"
  rm -rf "$AT/compose-images" "$CDIR"
  note "nothing of project $CPROJECT left (containers, network, volumes, actor containers, image tags, $CDIR/{app,run})"
  RESULTS+=("compose: site.yml $(fmt_ms "$CFIRST_MS") (changed=$CFIRST_CHANGED), again $(fmt_ms "$CSECOND_MS") (changed=0)")
}

SCORES=() RESULTS=()
for sc in $SCENARIOS; do
  case $sc in
    hosts) scenario_hosts ;;
    compose)
      ensure_engine
      scenario_compose
      ;;
    *) die "ABT_SCENARIOS: unknown scenario '$sc' (hosts, compose)" ;;
  esac
done

say "ansible test passed in $(fmt_ms $(($(now_ms) - T0)))"
for r in "${RESULTS[@]}"; do note "$r"; done
