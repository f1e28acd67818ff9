#!/usr/bin/env bash
# scripts/images.sh -- builds the platform's images locally (no registry):
#
#   core   abaco/core:$TAG  every daemon (docker/core/Dockerfile): the
#          binaries of the CMake build, exactly the shared libraries they
#          load, tini as PID 1, a passwd/group stub with the user abaco
#   redis       abaco/redis:$TAG       Debian's redis-server + redis-cli on scratch
#   rabbitmq    abaco/rabbitmq:$TAG    Debian's rabbitmq-server + management
#               plugin on a Debian base made by mmdebstrap (cached)
#   ferretdb    abaco/ferretdb:$TAG    the project's FerretDB build, static, on scratch
#   prometheus  abaco/prometheus:$TAG  Debian's prometheus on scratch
#
# Usage: scripts/images.sh [core|redis|rabbitmq|ferretdb|prometheus ...]
#        (default: every image)
#
# Environment: ABACO_IMAGE_TAG (default dev) tags every image;
# ABACO_NO_BUILD=1 uses build/ (ABACO_BUILD_DIR) as it is instead of
# building it first. Each image is one function image_<name> below, listed
# in IMAGES; the dispatch at the bottom runs the ones asked for. Rebuilding
# an unchanged image is a docker layer-cache hit (seconds).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TAG=${ABACO_IMAGE_TAG:-dev}
DOCKER_DIR="$ABACO_ROOT/docker"
# The classic builder needs no buildx plugin (Debian's docker.io client may
# lack it); it is enough for COPY onto scratch.
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}"

# The daemons of abaco/core (the binaries build/bin/<name>).
CORE_DAEMONS=(api spawner worker health clientg launcher updater)
# The module the worker loads beside its binary (services/worker/CMakeLists.txt).
WORKER_EXT=worker-ext.so

# ---------------------------------------------------------------- helpers

STAGE_DIRS=()
cleanup_stage() {
  local d
  for d in "${STAGE_DIRS[@]}"; do rm -rf "$d"; done
}
trap cleanup_stage EXIT

# new_stage: a fresh build context directory into NEW_STAGE, registered
# for removal at exit. Called in the script's own shell (never in $(...):
# a subshell's STAGE_DIRS+= would be lost and the directory, a whole root
# file system, left in /tmp).
NEW_STAGE=
new_stage() {
  NEW_STAGE=$(mktemp -d "${TMPDIR:-/tmp}/abaco-image.XXXXXX") ||
    die "cannot make a staging directory in ${TMPDIR:-/tmp}"
  STAGE_DIRS+=("$NEW_STAGE")
}

# copy_file SRC ROOTFS [DEST]: SRC (symlinks followed) at DEST (default:
# SRC's own path) under ROOTFS, keeping its mode.
copy_file() {
  local src=$1 root=$2 dest=${3:-$1}
  mkdir -p "$root$(dirname "$dest")"
  cp -L --preserve=mode "$src" "$root$dest"
}

# shared_libs BIN...: every shared object the binaries load (the dynamic
# loader included), one absolute path a line, as ldd resolves them here.
shared_libs() {
  local bin out
  for bin in "$@"; do
    out=$(ldd "$bin") || die "ldd $bin failed"
    if grep -q 'not found' <<<"$out"; then
      die "$bin: a shared library is missing: $(grep 'not found' <<<"$out" | tr -s ' \t' ' ')"
    fi
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out"
  done | sort -u
}

# docker_build TAG CONTEXT DOCKERFILE: build quietly, the log shown on failure.
docker_build() {
  local tag=$1 ctx=$2 file=$3 log
  log="$ctx.log"
  STAGE_DIRS+=("$log")
  if ! docker build -t "$tag" -f "$file" "$ctx" >"$log" 2>&1; then
    log_tail "$log" 40
    die "docker build of $tag failed"
  fi
  note "built $tag ($(image_size "$tag"))"
}

# image_size TAG: the image's size in MB.
image_size() {
  docker image inspect --format '{{.Size}}' "$1" |
    awk '{ printf "%.1f MB", $1 / 1000000 }'
}

# ---------------------------------------------------------------- images

# abaco/core: see docker/core/Dockerfile.
image_core() {
  local tag="abaco/core:$TAG" ctx root bin tini lib libs probe
  say "image $tag"
  if [[ ${ABACO_NO_BUILD:-0} != 1 ]]; then
    abaco_build "$BUILD_DIR" >/dev/null || die "the build failed (run make build to see why)"
  fi
  for bin in "${CORE_DAEMONS[@]}"; do
    [[ -x $BUILD_DIR/bin/$bin ]] || die "$BUILD_DIR/bin/$bin is missing (make build)"
  done
  tini=$(command -v tini-static || true)
  [[ -n $tini ]] || die "tini-static not found (apt-get install tini; scripts/deps.sh does)"
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] ||
    die "/etc/ssl/certs/ca-certificates.crt is missing (apt-get install ca-certificates)"
  command -v strip >/dev/null || die "strip not found (apt-get install binutils)"

  new_stage
  ctx=$NEW_STAGE
  root="$ctx/rootfs"
  mkdir -p "$root/usr/local/bin" "$root/sbin" "$root/tmp" "$root/etc/abaco" \
    "$ctx/var/run/sockets" "$ctx/var/run/fifos" "$ctx/var/clientg" "$ctx/var/log"
  chmod 1777 "$root/tmp"
  # The binaries without their debug info (the build keeps it).
  for bin in "${CORE_DAEMONS[@]}"; do
    strip --strip-unneeded -o "$root/usr/local/bin/$bin" "$BUILD_DIR/bin/$bin"
  done
  # What the worker loads at its first execution, next to it (and its libraries).
  [[ -f $BUILD_DIR/bin/$WORKER_EXT ]] || die "$BUILD_DIR/bin/$WORKER_EXT is missing (make build)"
  strip --strip-unneeded -o "$root/usr/local/bin/$WORKER_EXT" "$BUILD_DIR/bin/$WORKER_EXT"
  # The shipped plugins (set [plugins] dir = /usr/lib/abaco/plugins), and
  # the libraries they load.
  local plugins=()
  mkdir -p "$root/usr/lib/abaco/plugins"
  for lib in "$BUILD_DIR"/plugins/*.so; do
    [[ -e $lib ]] || continue
    plugins+=("$lib")
    strip --strip-unneeded -o "$root/usr/lib/abaco/plugins/${lib##*/}" "$lib"
  done
  libs=$(shared_libs "${CORE_DAEMONS[@]/#/$BUILD_DIR/bin/}" "$BUILD_DIR/bin/$WORKER_EXT" "${plugins[@]}") || exit 1
  for lib in $libs; do copy_file "$lib" "$root"; done
  copy_file "$tini" "$root" /sbin/tini
  # The health check of the compose stack's daemons (docker/probe/probe.c).
  probe=$(build_probe) || exit 1
  copy_file "$probe" "$root" /usr/local/bin/probe
  copy_file /etc/ssl/certs/ca-certificates.crt "$root"
  copy_file "$ABACO_ROOT/abaco.conf" "$root" /etc/abaco/abaco.conf
  copy_file "$ABACO_ROOT/services/api/share/ec2_instances.json" "$root" \
    /opt/abaco/services/api/share/ec2_instances.json
  printf 'root:x:0:0:root:/root:/sbin/nologin\nabaco:x:10001:10001:abaco:/opt/abaco:/sbin/nologin\n' \
    >"$root/etc/passwd"
  printf 'root:x:0:\nabaco:x:10001:\n' >"$root/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
  docker_build "$tag" "$ctx" "$DOCKER_DIR/core/Dockerfile"
}

# ---------------------------------------------------------------- servers
#
# The servers of the compose stack (compose/compose.yaml), each from the
# same Debian packages the local stack runs: abaco/redis, abaco/rabbitmq,
# abaco/ferretdb, abaco/prometheus (all :$TAG). Each image holds /probe
# (docker/probe/probe.c, static) for health checks where it has no CLI of
# its own that does it.

IMAGES_VAR="$VAR_DIR/images"

# build_probe: docker/probe/probe.c as a static binary; prints its path.
build_probe() {
  local out="$IMAGES_VAR/probe/probe" src="$DOCKER_DIR/probe/probe.c"
  command -v gcc >/dev/null || die "gcc not found (scripts/deps.sh installs it)"
  mkdir -p "$(dirname "$out")"
  if [[ ! -x $out || $src -nt $out ]]; then
    gcc -std=gnu11 -static -Os -s -Wall -Wextra -Werror -o "$out.tmp" "$src" ||
      die "compiling $src failed (static linking needs libc6-dev)"
    mv -f "$out.tmp" "$out"
  fi
  printf '%s\n' "$out"
}

# rootfs_with_libs ROOT BIN...: each binary at its own path under ROOT,
# with every shared library it loads.
rootfs_with_libs() {
  local root=$1 lib libs
  shift
  # Not in the loop's word list: a die in $(...) ends only the subshell.
  libs=$(shared_libs "$@") || exit 1
  for lib in "$@" $libs; do copy_file "$lib" "$root"; done
}

# scratch_stage: a new build context for a FROM scratch image, with
# rootfs/tmp (1777) and the health-check /probe; sets CTX and ROOT.
scratch_stage() {
  local probe
  probe=$(build_probe) || exit 1
  new_stage
  CTX=$NEW_STAGE
  ROOT="$CTX/rootfs"
  mkdir -p "$ROOT/tmp"
  chmod 1777 "$ROOT/tmp"
  copy_file "$probe" "$ROOT" /probe
}

# abaco/redis: docker/redis/Dockerfile.
image_redis() {
  local tag="abaco/redis:$TAG" ctx root
  say "image $tag"
  command -v redis-server >/dev/null || die "redis-server not found (scripts/deps.sh installs it)"
  command -v redis-cli >/dev/null || die "redis-cli not found (apt-get install redis-tools)"
  scratch_stage
  ctx=$CTX root=$ROOT
  mkdir -p "$ctx/data"
  # Debian's redis-server is a link to redis-check-rdb: one binary that
  # picks its role from argv[0], so it is copied under the server's name.
  rootfs_with_libs "$root" "$(readlink -f "$(command -v redis-server)")" "$(command -v redis-cli)"
  mkdir -p "$root/usr/bin"
  mv "$root$(readlink -f "$(command -v redis-server)")" "$root/usr/bin/redis-server.tmp"
  mv "$root/usr/bin/redis-server.tmp" "$root/usr/bin/redis-server"
  docker_build "$tag" "$ctx" "$DOCKER_DIR/redis/Dockerfile"
}

# abaco/prometheus: docker/prometheus/Dockerfile.
image_prometheus() {
  local tag="abaco/prometheus:$TAG" ctx root
  say "image $tag"
  command -v prometheus >/dev/null || die "prometheus not found (scripts/deps.sh installs it)"
  scratch_stage
  ctx=$CTX root=$ROOT
  mkdir -p "$ctx/prometheus" "$root/etc/prometheus"
  rootfs_with_libs "$root" "$(command -v prometheus)"
  copy_file "$ABACO_ROOT/images/prometheus/compose.yml" "$root" /etc/prometheus/prometheus.yml
  docker_build "$tag" "$ctx" "$DOCKER_DIR/prometheus/Dockerfile"
}

# abaco/ferretdb: the static FerretDB that build_ferretdb (scripts/lib.sh)
# makes for the local stack (var/tools/bin/ferretdb; its SQLite is pure Go),
# built there first when missing or of another FERRETDB_BUILD_ID.
image_ferretdb() {
  local tag="abaco/ferretdb:$TAG" ctx root bin="$TOOLS_BIN/ferretdb"
  say "image $tag"
  if [[ ! -x $bin || $(cat "$bin.build-id" 2>/dev/null) != "$FERRETDB_BUILD_ID" ]]; then
    ensure_go || die "no Go >= 1.22 to build FerretDB (scripts/deps.sh installs one)"
    build_ferretdb "$bin"
  fi
  if ldd "$bin" >/dev/null 2>&1; then die "$bin is not a static binary"; fi
  scratch_stage
  ctx=$CTX root=$ROOT
  mkdir -p "$ctx/data"
  copy_file "$bin" "$root" /ferretdb
  docker_build "$tag" "$ctx" "$DOCKER_DIR/ferretdb/Dockerfile"
}

# The Debian base of abaco/rabbitmq (why: docker/rabbitmq/Dockerfile):
# mmdebstrap of bookworm with rabbitmq-server (and its Erlang) from this
# machine's Debian mirror, imported as abaco/rabbitmq-base:<recipe hash>.
# Cached twice: the image (present: nothing to do) and the tarball under
# var/images/ (present: only docker import, seconds). A changed recipe
# gives a new hash, hence a fresh base.
RABBIT_BASE_PKGS="rabbitmq-server"
rabbitmq_base() {
  local mirror hash tag tar opts
  opts=(--variant=essential --include="$RABBIT_BASE_PKGS"
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*')
  mirror=$(apt_suite_uri bookworm) || mirror=http://deb.debian.org/debian
  hash=$(printf '%s\n' bookworm "${opts[@]}" | sha256sum | cut -c1-12)
  tag="abaco/rabbitmq-base:$hash"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    note "base $tag (cached)" >&2
    printf '%s\n' "$tag"
    return 0
  fi
  tar="$IMAGES_VAR/rabbitmq-base-$hash.tar"
  if [[ ! -s $tar ]]; then
    command -v mmdebstrap >/dev/null || die "mmdebstrap not found (scripts/deps.sh installs it)"
    mkdir -p "$IMAGES_VAR"
    local log="$IMAGES_VAR/rabbitmq-base.log" t0
    t0=$(now_ms)
    note "mmdebstrap bookworm + $RABBIT_BASE_PKGS from $mirror (a few minutes; log $log)" >&2
    if ! mmdebstrap --format=tar "${opts[@]}" bookworm "$tar.tmp" "$mirror" >"$log" 2>&1; then
      rm -f "$tar.tmp"
      log_tail "$log" 30
      die "mmdebstrap of the RabbitMQ base failed"
    fi
    mv -f "$tar.tmp" "$tar"
    note "base root file system in $(fmt_ms $(($(now_ms) - t0)))" >&2
  fi
  docker import --change 'CMD ["/bin/sh"]' "$tar" "$tag" >/dev/null || die "docker import $tar failed"
  note "base $tag imported from $tar" >&2
  printf '%s\n' "$tag"
}

# abaco/rabbitmq: docker/rabbitmq/Dockerfile on the Debian base.
image_rabbitmq() {
  local tag="abaco/rabbitmq:$TAG" ctx base
  say "image $tag"
  base=$(rabbitmq_base)
  new_stage
  ctx=$NEW_STAGE
  cp "$DOCKER_DIR/rabbitmq/rabbitmq.conf" "$DOCKER_DIR/rabbitmq/enabled_plugins" "$ctx/"
  if ! docker build --build-arg "BASE=$base" -t "$tag" -f "$DOCKER_DIR/rabbitmq/Dockerfile" "$ctx" \
    >"$ctx.log" 2>&1; then
    log_tail "$ctx.log" 40
    die "docker build of $tag failed"
  fi
  STAGE_DIRS+=("$ctx.log")
  note "built $tag ($(image_size "$tag"))"
}

# ---------------------------------------------------------------- dispatch

IMAGES=(core redis rabbitmq ferretdb prometheus)

main() {
  command -v docker >/dev/null || die "docker not found (apt-get install docker.io)"
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
    die "the Docker engine is not reachable (is dockerd running? DOCKER_HOST=${DOCKER_HOST:-unset})"
  local names=("$@") name known k
  ((${#names[@]} > 0)) || names=("${IMAGES[@]}")
  for name in "${names[@]}"; do
    known=0
    for k in "${IMAGES[@]}"; do [[ $k == "$name" ]] && known=1; done
    ((known)) || die "no image '$name' (images: ${IMAGES[*]})"
    "image_$name"
  done
}

main "$@"
