#!/usr/bin/env bash
# Everything, from a clean checkout on an x86 (or arm64) Debian machine, as root:
#   base image from Debian's packages -> arm64 OCI image -> SD-card image -> qemu smoke tests.
# Needs: apt-get install buildah mmdebstrap qemu-user-static binfmt-support qemu-system-arm umoci \
#        mtools dosfstools fdisk e2fsprogs xz-utils arch-test openssh-client
# Timings are appended to deploy/out/timings.txt.
source "$(dirname "$0")/lib/common.sh"
"$DEPLOY_DIR/build-base.sh"
"$DEPLOY_DIR/build-oci.sh"
"$DEPLOY_DIR/build-sd-image.sh" "$@"
"$DEPLOY_DIR/smoke-test.sh" all
