#!/usr/bin/env bash
# Prove the arm64 artefacts work, under qemu, by talking the ESS protocol to them from the host.
#
# Usage: sudo deploy/smoke-test.sh [oci|sd|all]       (default: all)
#   oci  unpack deploy/out/rpi-ess-arm64.oci.tar, run `rpi-ess serve --simulate` from it as user rpi-ess in
#        a chroot (qemu-user through binfmt), run the image's HEALTHCHECK, configure + read telemetry.
#   sd   boot deploy/out/rpi-ess-sd.img (its kernel, initrd and root filesystem) with qemu-system-aarch64,
#        with a first-boot file that sets --simulate; wait for telemetry through a port forwarded to
#        127.0.0.1 and check on the serial console that systemd started rpi-ess.service.
source "$(dirname "$0")/lib/common.sh"

what=${1:-all}
TIMEOUT_SD=${TIMEOUT_SD:-900}
tmp=$(mktemp -d "$OUT_DIR/smoke.XXXXXX")
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
smoke_client() { python3 "$DEPLOY_DIR/smoke_client.py" --host 127.0.0.1 "$@"; }

smoke_oci() {
    local archive=$OUT_DIR/rpi-ess-arm64.oci.tar root port
    [ -r "$archive" ] || die "$archive missing: run deploy/build-oci.sh first"
    require_tool umoci umoci
    require_arm64_emulation
    mkdir -p "$tmp/layout" && tar -xf "$archive" -C "$tmp/layout"
    umoci unpack --image "$tmp/layout:rpi-ess:arm64" "$tmp/bundle" >/dev/null
    root=$tmp/bundle/rootfs
    [ "$(od -An -tx2 -j18 -N2 "$root/usr/bin/python3.11" | tr -d ' ')" = 00b7 ] \
        || die "the image's python is not an aarch64 binary"
    port=$(free_port)
    log "oci: starting rpi-ess serve --simulate (aarch64, qemu-user) on 127.0.0.1:$port"
    # A private mount namespace: /proc and /dev for the chroot vanish with it.
    unshare --mount --propagation private sh -ec '
        root=$1; shift
        mount -t proc proc "$root/proc"; mount --rbind /dev "$root/dev"
        exec chroot --userspec=rpi-ess:rpi-ess "$root" env RUNTIME_DIRECTORY=/run/rpi-ess HOME=/var/lib/rpi-ess \
            /opt/rpi-ess/bin/rpi-ess "$@"' sh "$root" \
        serve --simulate --host 127.0.0.1 --port "$port" --status-socket /run/rpi-ess/status.sock \
        >"$OUT_DIR/smoke-oci-server.log" 2>&1 &
    pids+=($!)
    smoke_client --port "$port" --telemetry 5 --timeout 180 | tee "$OUT_DIR/smoke-oci-client.log"
    chroot --userspec=rpi-ess:rpi-ess "$root" env RPI_ESS_PORT="$port" \
        /opt/rpi-ess/bin/python /opt/rpi-ess/healthcheck.py
    local docker_archive=$OUT_DIR/rpi-ess-arm64.docker.tar config
    if [ -e "$docker_archive" ]; then
        config=$(tar -xOf "$docker_archive" manifest.json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Config"])')
        tar -xOf "$docker_archive" "$config" | grep -q '"Healthcheck"' || die "$docker_archive has no HEALTHCHECK"
        log "oci: the Docker archive carries the HEALTHCHECK"
    fi
    log "oci: server log in $OUT_DIR/smoke-oci-server.log"
}

# console_shows REGEX: wait up to 120 s for the serial console (colour codes removed) to show a line.
console_shows() {
    local _
    for _ in $(seq 60); do
        sed 's/\x1b\[[0-9;]*m//g' "$OUT_DIR/smoke-sd-console.log" | grep -a -q -- "$1" && return 0
        sleep 2
    done
    return 1
}

smoke_sd() {
    local img=$OUT_DIR/rpi-ess-sd.img port console=$OUT_DIR/smoke-sd-console.log boot_offset
    [ -r "$img" ] || die "$img missing: run deploy/build-sd-image.sh first"
    require_tool qemu-system-aarch64 qemu-system-arm
    require_tool mcopy mtools
    cp --sparse=always "$img" "$tmp/sd.img"
    # Edit the copy's boot partition the way a user would after flashing: first-boot file with --simulate.
    boot_offset=$(( $(sfdisk --json "$tmp/sd.img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][0]["start"])') * 512 ))
    printf 'hostname: ess-smoke\nnetwork: {dhcp: true}\nserve_args: "--simulate"\nnode:\n  allowed_devices:\n    serial_ports: ["/dev/null"]\n' \
        >"$tmp/rpi-ess.yaml"
    mcopy -o -i "$tmp/sd.img@@$boot_offset" "$tmp/rpi-ess.yaml" ::rpi-ess.yaml
    port=$(free_port)
    log "sd: booting the image under qemu-system-aarch64 (TCG); ESS port forwarded to 127.0.0.1:$port"
    qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1024 -accel tcg,thread=multi -nographic \
        -kernel "$OUT_DIR/rpi-ess-sd.vmlinuz" -initrd "$OUT_DIR/rpi-ess-sd.initrd" \
        -append "root=LABEL=RASPIROOT rw rootwait console=ttyAMA0 systemd.show_status=1 systemd.status_unit_format=name systemd.journald.forward_to_console=1" \
        -drive "file=$tmp/sd.img,format=raw,if=virtio" \
        -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:5000" -device virtio-net-pci,netdev=net0 \
        </dev/null >"$console" 2>&1 &
    pids+=($!)
    smoke_client --port "$port" --telemetry 5 --timeout "$TIMEOUT_SD" | tee "$OUT_DIR/smoke-sd-client.log"
    # systemd's status lines and the journal on the serial console (they may trail the telemetry a little;
    # status lines stop once the getty takes the console, journal lines do not).
    console_shows 'Finished rpi-ess-firstboot.service' || die "first-boot service did not run"
    console_shows '^ess-smoke login:' || die "first-boot hostname not applied"
    console_shows 'Started rpi-ess.service' || die "systemd did not report rpi-ess.service started"
    log "sd: systemd started rpi-ess.service (Type=notify: after READY=1); console in $console"
}

case $what in
    oci) time_step "smoke-oci" smoke_oci ;;
    sd) time_step "smoke-sd" smoke_sd ;;
    all) time_step "smoke-oci" smoke_oci; time_step "smoke-sd" smoke_sd ;;
    *) die "usage: $0 [oci|sd|all]" ;;
esac
log "smoke test ($what) PASSED"
