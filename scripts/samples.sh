#!/usr/bin/env bash
# Builds the sample actor images used by the tests (images/samples/<name>/):
# each <name>.c is compiled into a static binary under var/samples-build/
# and packed on `FROM scratch` as abaco/samples-<name>:latest, so nothing is
# pulled from a registry. Idempotent (docker's layer cache makes a rebuild
# of unchanged sources a no-op). Needs gcc with a static libc (libc6-dev)
# and a reachable Docker engine (DOCKER_HOST or /var/run/docker.sock).
#
# Usage: scripts/samples.sh [name ...]    (default: all samples)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src_dir="$root/images/samples"
build_dir="${ABACO_SAMPLES_BUILD:-$root/var/samples-build}"
cc="${CC:-gcc}"

die() { echo "samples.sh: $*" >&2; exit 1; }

command -v "$cc" >/dev/null || die "$cc not found (apt-get install gcc libc6-dev)"
command -v docker >/dev/null || die "docker not found (apt-get install docker.io)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  die "the Docker engine is not reachable (is dockerd running? DOCKER_HOST=${DOCKER_HOST:-unset})"

# The classic builder needs no buildx plugin (Debian's docker.io client may
# lack it); it is enough for COPY onto scratch.
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}"

if [ $# -gt 0 ]; then
  names=("$@")
else
  names=()
  for d in "$src_dir"/*/; do names+=("$(basename "$d")"); done
fi
[ ${#names[@]} -gt 0 ] || die "no samples under $src_dir"

for name in "${names[@]}"; do
  dir="$src_dir/$name"
  if [ ! -f "$dir/$name.c" ] || [ ! -f "$dir/Dockerfile" ]; then
    die "no sample '$name' ($dir/$name.c + Dockerfile)"
  fi
  out="$build_dir/$name"
  mkdir -p "$out"
  "$cc" -std=gnu11 -static -Os -s -Wall -Wextra -Werror -o "$out/$name.tmp" "$dir/$name.c" ||
    die "compiling $name failed (static linking needs libc6-dev)"
  mv -f "$out/$name.tmp" "$out/$name"
  tag="abaco/samples-$name:latest"
  log="$build_dir/$name.docker-build.log"
  if ! docker build -t "$tag" -f "$dir/Dockerfile" "$out" >"$log" 2>&1; then
    cat "$log" >&2
    die "docker build of $tag failed"
  fi
  echo "samples.sh: built $tag"
done
