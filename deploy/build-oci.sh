#!/usr/bin/env bash
# Build the arm64 OCI image from Dockerfile.arm64 on any host and write it as an OCI archive.
#
# Usage: deploy/build-oci.sh       -> deploy/out/rpi-ess-arm64.oci.tar  (image name rpi-ess:arm64)
#                                     and, with buildah, rpi-ess-arm64.docker.tar (for `docker load`, with HEALTHCHECK)
# BASE=<image>  base image; default: localhost/rpi-ess-base:$SUITE if deploy/build-base.sh made it,
#               else debian:$SUITE-slim from the public registry.
# Uses buildah when present (rootful, chroot isolation: works inside containers and VMs without a
# container runtime), else docker buildx. On x86 both need qemu-user-static registered with binfmt_misc.
source "$(dirname "$0")/lib/common.sh"

archive=$OUT_DIR/rpi-ess-arm64.oci.tar
docker_archive=$OUT_DIR/rpi-ess-arm64.docker.tar
image=localhost/rpi-ess:arm64

build_with_buildah() {
    local base=${BASE:-}
    if [ -z "$base" ]; then
        if buildah inspect --type image "localhost/rpi-ess-base:$SUITE" >/dev/null 2>&1; then
            base=localhost/rpi-ess-base:$SUITE
        else
            base=docker.io/library/debian:$SUITE-slim
        fi
    fi
    log "buildah: base $base"
    local ca_args=()
    local ca
    if ca=$(host_ca_bundle); then
        ca_args=(--volume "$ca:/run/host-ca.crt:ro" --build-arg PIP_CERT=/run/host-ca.crt)
    fi
    # Docker format keeps HEALTHCHECK (the OCI image config has no field for it).
    buildah bud --arch arm64 --os linux --isolation chroot --layers=false --format docker \
        --build-arg "BASE=$base" "${ca_args[@]}" \
        -f "$REPO_DIR/Dockerfile.arm64" -t "$image" "$REPO_DIR"
    rm -f "$archive" "$docker_archive"
    buildah push "$image" "oci-archive:$archive:rpi-ess:arm64"
    buildah push "$image" "docker-archive:$docker_archive:rpi-ess:arm64"
}

build_with_docker() {
    local base_args=()
    [ -n "${BASE:-}" ] && base_args=(--build-arg "BASE=$BASE")
    docker buildx build --platform linux/arm64 "${base_args[@]}" -f "$REPO_DIR/Dockerfile.arm64" \
        --output "type=oci,dest=$archive,name=rpi-ess:arm64" "$REPO_DIR"
}

require_arm64_emulation
if command -v buildah >/dev/null; then
    require_root
    time_step "oci-image(buildah)" build_with_buildah
elif command -v docker >/dev/null && docker buildx version >/dev/null 2>&1; then
    time_step "oci-image(docker)" build_with_docker
else
    die "neither buildah nor docker buildx found: apt-get install buildah"
fi
log "OCI archive: $archive ($(du -h "$archive" | cut -f1))"
[ ! -e "$docker_archive" ] || log "Docker archive: $docker_archive ($(du -h "$docker_archive" | cut -f1))"
