#!/usr/bin/env bash
# Build a minimal arm64 Debian base image from Debian's packages alone (no image registry needed) and
# register it with buildah as localhost/rpi-ess-base:$SUITE, for `Dockerfile.arm64 --build-arg BASE=...`.
#
# Usage: sudo deploy/build-base.sh            -> deploy/out/base-arm64-$SUITE.tar (+ buildah image if buildah)
# Docker users: docker import --platform linux/arm64 deploy/out/base-arm64-bookworm.tar rpi-ess-base:bookworm
source "$(dirname "$0")/lib/common.sh"

require_root
require_tool mmdebstrap mmdebstrap
require_tool arch-test arch-test  # mmdebstrap needs it for a foreign (arm64) root, and says so only after starting
require_arm64_emulation

tarball=$OUT_DIR/base-arm64-$SUITE.tar
base_image=localhost/rpi-ess-base:$SUITE

build_tarball() {
    # minbase = essential + apt; without manuals, translations and docs (copyrights kept), like debian:*-slim.
    # --mode=root runs the maintainer scripts under qemu via binfmt. The dpkg excludes stay in the image.
    mmdebstrap --mode=root --arch=arm64 --variant=minbase \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-include=/usr/share/locale/locale.alias' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
        "$SUITE" "$tarball" ${MIRROR:+"$MIRROR"}
}

import_buildah() {
    local ctr
    buildah rmi "$base_image" >/dev/null 2>&1 || true
    ctr=$(buildah from --arch arm64 scratch)
    buildah add "$ctr" "$tarball" / >/dev/null
    buildah config --arch arm64 --os linux --cmd /bin/bash "$ctr"
    buildah commit --rm "$ctr" "$base_image" >/dev/null
}

time_step "base-rootfs($SUITE)" build_tarball
log "base root filesystem: $tarball ($(du -h "$tarball" | cut -f1))"
if command -v buildah >/dev/null; then
    time_step "base-import" import_buildah
    log "buildah image: $base_image"
fi
