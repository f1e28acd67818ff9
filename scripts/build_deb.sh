#!/usr/bin/env bash
# scripts/build_deb.sh -- package the platform as Debian packages (`make deb`):
#
#   abaco_<version>_<arch>.deb           the seven daemons under /usr/lib/abaco/
#                                        (the spawner finds the worker next to
#                                        itself), the shipped plugins under
#                                        /usr/lib/abaco/plugins/, the api's share files under
#                                        /usr/share/abaco/ (abaco.conf's
#                                        [cloud] pricing_file points there) and
#                                        the example abaco.conf under
#                                        /usr/share/doc/abaco/, and the
#                                        abaco-launch command in /usr/bin/
#                                        (it finds ec2_instances.json in
#                                        ../share/abaco/).
#   abaco-ferretdb_<version>_<arch>.deb  the MongoDB-wire server FerretDB that
#                                        the project builds from source
#                                        (build_ferretdb in scripts/lib.sh):
#                                        Debian has no package of it.
#
# Depends are computed by dpkg-shlibdeps from the binaries, so
# `apt-get install ./abaco_*.deb` pulls the shared libraries on a plain
# Debian 12 host. Output: var/deb/ (DEB_OUT overrides). Builds what is
# missing first (build/ with cmake, FerretDB under var/tools/bin/).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT=${DEB_OUT:-$VAR_DIR/deb}
SERVICES=(api spawner worker health clientg updater launcher)

command -v dpkg-deb >/dev/null || die "dpkg-deb not found (apt-get install dpkg-dev)"
command -v dpkg-shlibdeps >/dev/null || die "dpkg-shlibdeps not found (apt-get install dpkg-dev)"

# The version: 0.1.0~git<commit date>.<short hash>, so every commit makes
# a newer package and a rebuild of the same commit the same version. A tree
# with changes (git status not empty) gets +dirty<unix time> on top: newer
# than its commit's package and than an earlier dirty build, so apt (and
# ansible's apt deb=) installs it instead of keeping the installed one.
version() {
  local stamp changes
  if stamp=$(git -C "$ABACO_ROOT" log -1 --format='%cd.%h' --date='format:%Y%m%d%H%M%S' 2>/dev/null); then
    changes=$(git -C "$ABACO_ROOT" status --porcelain 2>/dev/null) ||
      die "git status failed in $ABACO_ROOT"
    if [[ -n $changes ]]; then
      printf '0.1.0~git%s+dirty%s\n' "$stamp" "$(date +%s)"
    else
      printf '0.1.0~git%s\n' "$stamp"
    fi
  else
    printf '0.1.0\n'
  fi
}
VERSION=${ABACO_DEB_VERSION:-$(version)}
ARCH=$(dpkg --print-architecture)

need_build=0
for s in "${SERVICES[@]}" abaco-launch; do [[ -x $BUILD_DIR/bin/$s ]] || need_build=1; done
[[ -f $BUILD_DIR/plugins/route53.so && -f $BUILD_DIR/plugins/header.so ]] || need_build=1
[[ -f $BUILD_DIR/bin/worker-ext.so ]] || need_build=1
if ((need_build)); then
  say "building the platform (cmake, $BUILD_DIR)"
  [[ -f $BUILD_DIR/CMakeCache.txt ]] || cmake -S "$ABACO_ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)" >/dev/null
fi

FERRET="$TOOLS_BIN/ferretdb"
if [[ ! -x $FERRET || $(cat "$FERRET.build-id" 2>/dev/null) != "$FERRETDB_BUILD_ID" ]]; then
  ensure_go || die "no Go >= 1.22 to build FerretDB (run scripts/deps.sh with FORCE_FERRETDB=1)"
  build_ferretdb "$FERRET"
fi

mkdir -p "$OUT"
WORK=$(mktemp -d "$OUT/.stage.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# shlib_depends BIN...: the Depends line dpkg-shlibdeps computes for BINs.
shlib_depends() {
  mkdir -p "$WORK/shlibs/debian"
  printf 'Source: abaco\n\nPackage: abaco\nArchitecture: any\n' >"$WORK/shlibs/debian/control"
  (cd "$WORK/shlibs" && dpkg-shlibdeps -O "$@" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
}

# control PKG DEPENDS DESCRIPTION
control() {
  local pkg=$1 deps=$2 desc=$3 size
  size=$(du -sk "$WORK/$pkg" | cut -f1)
  mkdir -p "$WORK/$pkg/DEBIAN"
  {
    printf 'Package: %s\nVersion: %s\nArchitecture: %s\n' "$pkg" "$VERSION" "$ARCH"
    printf 'Maintainer: abaco-c developers <abaco-c@localhost>\n'
    printf 'Installed-Size: %s\nSection: net\nPriority: optional\n' "$size"
    [[ -n $deps ]] && printf 'Depends: %s\n' "$deps"
    printf 'Homepage: https://github.com/TACC/abaco\n'
    printf 'Description: %s\n' "$desc"
  } >"$WORK/$pkg/DEBIAN/control"
}

# ---- abaco
P="$WORK/abaco"
install -d "$P/usr/lib/abaco" "$P/usr/bin" "$P/usr/share/abaco" "$P/usr/share/doc/abaco"
for s in "${SERVICES[@]}"; do
  install -m 0755 "$BUILD_DIR/bin/$s" "$P/usr/lib/abaco/$s"
  strip --strip-unneeded "$P/usr/lib/abaco/$s"
done
# the shipped plugins: [plugins] dir = /usr/lib/abaco/plugins
install -d "$P/usr/lib/abaco/plugins"
for so in "$BUILD_DIR"/plugins/*.so; do
  install -m 0644 "$so" "$P/usr/lib/abaco/plugins/${so##*/}"
  strip --strip-unneeded "$P/usr/lib/abaco/plugins/${so##*/}"
done
install -m 0755 "$BUILD_DIR/bin/abaco-launch" "$P/usr/bin/abaco-launch"
strip --strip-unneeded "$P/usr/bin/abaco-launch"
# Loaded by the worker at its first execution, from beside its binary.
install -m 0644 "$BUILD_DIR/bin/worker-ext.so" "$P/usr/lib/abaco/worker-ext.so"
strip --strip-unneeded "$P/usr/lib/abaco/worker-ext.so"
install -m 0644 "$ABACO_ROOT"/services/api/share/* "$P/usr/share/abaco/"
install -m 0644 "$ABACO_ROOT/abaco.conf" "$P/usr/share/doc/abaco/abaco.conf.example"
install -m 0644 "$ABACO_ROOT/README.md" "$P/usr/share/doc/abaco/README.md"
mapfile -t OBJS < <(find "$P/usr/lib/abaco" -type f | sort)
DEPS=$(shlib_depends "${OBJS[@]}" "$P/usr/bin/abaco-launch")
[[ -n $DEPS ]] || die "dpkg-shlibdeps found no dependencies (did it fail?)"
control abaco "$DEPS" "actors as a service (Abaco re-implemented in C)
 The api, spawner, worker, health, clientg, updater and launcher daemons
 of abaco-c, under /usr/lib/abaco, and the abaco-launch command. Configure /etc/abaco/abaco.conf from
 /usr/share/doc/abaco/abaco.conf.example; the ansible/ roles of the
 repository install and run them as systemd units."
dpkg-deb --root-owner-group -Zxz --build "$P" "$OUT/abaco_${VERSION}_${ARCH}.deb" >/dev/null

# ---- abaco-ferretdb
F="$WORK/abaco-ferretdb"
install -d "$F/usr/lib/abaco"
install -m 0755 "$FERRET" "$F/usr/lib/abaco/ferretdb"
strip --strip-unneeded "$F/usr/lib/abaco/ferretdb"
FDEPS=$(shlib_depends "$F/usr/lib/abaco/ferretdb")
FVER="${FERRETDB_VERSION#v}-abaco1"
control abaco-ferretdb "$FDEPS" "MongoDB-wire server FerretDB $FERRETDB_VERSION (SQLite backend)
 Built from source by abaco-c (scripts/lib.sh build_ferretdb); the store
 of executions, logs and audit records of the platform."
sed -i "s/^Version: .*/Version: $FVER/" "$F/DEBIAN/control"
dpkg-deb --root-owner-group -Zxz --build "$F" "$OUT/abaco-ferretdb_${FVER}_${ARCH}.deb" >/dev/null

say "packages in ${OUT#"$ABACO_ROOT"/}:"
for d in "$OUT/abaco_${VERSION}_${ARCH}.deb" "$OUT/abaco-ferretdb_${FVER}_${ARCH}.deb"; do
  note "$(basename "$d") ($(du -h "$d" | cut -f1)) Depends: $(dpkg-deb -f "$d" Depends)"
done
