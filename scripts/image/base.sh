#!/usr/bin/env bash
# Builds the local base image the serving image is built on here: Debian 12 (bookworm) minbase +
# Debian's python3.11 (+ venv), made with debootstrap from Debian's packages, imported with buildah.
# It stands in for python:3.11-slim-bookworm where no container registry is reachable (this VM,
# air-gapped CI); the Dockerfile builds on either (it uses `python3` and a venv, not /usr/local).
#
#   bash scripts/image/base.sh            # prints the pinned reference: localhost/newsclf-base@sha256:...
#   FORCE=1 bash scripts/image/base.sh    # rebuild even if the image exists
#
# Reproducible: files are clamped to SOURCE_DATE_EPOCH, logs/caches/machine-id removed and the
# image committed with a fixed timestamp, so the same Debian package versions give the same
# digest. The package list is written next to the reference (.cache/image/base-packages.txt).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="${IMAGE_WORK:-$ROOT/.cache/image}"
NAME="${BASE_NAME:-localhost/newsclf-base}"
TAG="${BASE_TAG:-bookworm-py3.11}"
SUITE="${DEBIAN_SUITE:-bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
EPOCH="${SOURCE_DATE_EPOCH:-1735689600}"   # 2025-01-01T00:00:00Z
PACKAGES="python3.11,python3.11-venv,python3-distutils,python3-lib2to3,ca-certificates,tzdata"

log() { echo "base.sh: $*" >&2; }
mkdir -p "$WORK"
REF_FILE="$WORK/base.ref"

if [[ "${FORCE:-0}" != 1 ]] && [[ -s "$REF_FILE" ]] && buildah inspect --type image "$(cat "$REF_FILE")" >/dev/null 2>&1; then
    log "reusing $(cat "$REF_FILE") (FORCE=1 rebuilds)"
    cat "$REF_FILE"
    exit 0
fi

command -v debootstrap >/dev/null || { log "needs debootstrap and buildah: bash scripts/image/tools.sh system"; exit 2; }
command -v buildah >/dev/null || { log "needs buildah: bash scripts/image/tools.sh system"; exit 2; }

ROOTFS="$WORK/rootfs"
rm -rf "$ROOTFS"
started=$(date +%s)
log "debootstrap $SUITE (minbase + $PACKAGES) from $MIRROR"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
    log "debootstrap failed; last lines of $WORK/debootstrap.log:"; tail -20 "$WORK/debootstrap.log" >&2; exit 1; }

# The same sources the image would use at run time (no apt at run time anyway).
printf 'deb %s %s main\ndeb %s %s-updates main\ndeb http://deb.debian.org/debian-security %s-security main\n' \
    "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" "$SUITE" >"$ROOTFS/etc/apt/sources.list"
chroot "$ROOTFS" dpkg-query -W -f '${Package}=${Version}\n' | sort >"$WORK/base-packages.txt"

# Slim it like python:*-slim, and drop everything that differs between two builds.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/cache/debconf/*-old \
       "$ROOTFS"/var/log/* "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/* "$ROOTFS"/usr/share/doc/* \
       "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/locale/* \
       "$ROOTFS"/var/lib/dpkg/*-old "$ROOTFS"/etc/*- "$ROOTFS"/etc/ssl/certs/java
find "$ROOTFS" -name '__pycache__' -type d -prune -exec rm -rf {} +
: >"$ROOTFS/etc/machine-id"
rm -f "$ROOTFS/var/lib/dbus/machine-id"
echo "debian" >"$ROOTFS/etc/hostname"
ln -sf python3.11 "$ROOTFS/usr/bin/python3"
ln -sf python3 "$ROOTFS/usr/bin/python"

# A reproducible layer: sorted, owner-normalised, mtimes clamped.
tar --sort=name --mtime="@$EPOCH" --clamp-mtime --numeric-owner --xattrs \
    -C "$ROOTFS" -cf "$WORK/rootfs.tar" .

ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah add --quiet "$ctr" "$WORK/rootfs.tar" / >/dev/null
pyver=$(chroot "$ROOTFS" python3 -c 'import platform; print(platform.python_version())')
buildah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 \
    --cmd python3 \
    --label org.opencontainers.image.title=newsclf-base \
    --label org.opencontainers.image.description="Debian $SUITE minbase + python $pyver (debootstrap)" \
    --label org.opencontainers.image.base.name="debian:$SUITE (debootstrap)" \
    "$ctr"
buildah commit --quiet --timestamp "$EPOCH" --format oci "$ctr" "$NAME:$TAG" >/dev/null
digest=$(buildah inspect --type image --format '{{.FromImageDigest}}' "$NAME:$TAG")
echo "$NAME@$digest" >"$REF_FILE"
rm -rf "$ROOTFS" "$WORK/rootfs.tar"
log "built $NAME:$TAG ($NAME@$digest, python $pyver) in $(($(date +%s) - started)) s"
cat "$REF_FILE"
