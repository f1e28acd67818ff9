#!/usr/bin/env bash
# scripts/images.sh -- builds the platform's images locally (no registry):
#
#   core   abaco/core:$TAG  every daemon (docker/core/Dockerfile): the
#          binaries of the CMake build, exactly the shared libraries they
#          load, tini as PID 1, a passwd/group stub with the user abaco
#
# Usage: scripts/images.sh [core|<name>...]   (default: every image)
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

# ---------------------------------------------------------------- helpers

STAGE_DIRS=()
cleanup_stage() {
  local d
  for d in "${STAGE_DIRS[@]}"; do rm -rf "$d"; done
}
trap cleanup_stage EXIT

# new_stage: a fresh build context directory (removed at exit) on stdout.
new_stage() {
  local d
  d=$(mktemp -d "${TMPDIR:-/tmp}/abaco-image.XXXXXX")
  STAGE_DIRS+=("$d")
  printf '%s\n' "$d"
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
  local tag="abaco/core:$TAG" ctx root bin tini lib libs
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

  ctx=$(new_stage)
  root="$ctx/rootfs"
  mkdir -p "$root/usr/local/bin" "$root/sbin" "$root/tmp" "$root/etc/abaco" \
    "$ctx/var/run/sockets" "$ctx/var/run/fifos" "$ctx/var/clientg" "$ctx/var/log"
  chmod 1777 "$root/tmp"
  # The binaries without their debug info (the build keeps it).
  for bin in "${CORE_DAEMONS[@]}"; do
    strip --strip-unneeded -o "$root/usr/local/bin/$bin" "$BUILD_DIR/bin/$bin"
  done
  libs=$(shared_libs "${CORE_DAEMONS[@]/#/$BUILD_DIR/bin/}")
  for lib in $libs; do copy_file "$lib" "$root"; done
  copy_file "$tini" "$root" /sbin/tini
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

# ---------------------------------------------------------------- dispatch

IMAGES=(core)

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
