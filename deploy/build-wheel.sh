#!/usr/bin/env bash
# Build the rpi_ess wheel that the Ansible role copies to the nodes: deploy/out/wheel/rpi_ess-<version>-*.whl
source "$(dirname "$0")/lib/common.sh"
time_step "wheel" build_wheel "$OUT_DIR/wheel"
ls "$OUT_DIR"/wheel/*.whl
