#!/usr/bin/env bash
# Prove the arm64 artefacts work, under qemu, by talking the ESS protocol to them from the host.
#
# Usage: sudo deploy/smoke-test.sh [oci|sd|hotplug|powercut|all]       (default: all = oci + sd)
#   oci  unpack deploy/out/rpi-ess-arm64.oci.tar, run `rpi-ess serve --simulate` from it as user rpi-ess in
#        a chroot (qemu-user through binfmt), run the image's HEALTHCHECK, configure + read telemetry.
#   sd   boot deploy/out/rpi-ess-sd.img (its kernel, initrd and root filesystem) with qemu-system-aarch64,
#        with a first-boot file that sets --simulate; wait for telemetry through a port forwarded to
#        127.0.0.1 and check on the serial console that systemd started rpi-ess.service.
#   hotplug  boot the SD image (grown by 256 MiB) with two emulated FTDI adapters (QEMU usb-serial, driven by
#        the guest's ftdi_sio) fed by instrument simulators on the host; the second is plugged in after the
#        service started, the first pulled for 5 s and put back (deploy/qemu_node.py). Also checks the root
#        check, the read-only root and the /var data partition, the raw/no-echo ports, the latency timer, the growth of /var and
#        the idle boot partition; last, it hangs the kernel (sysrq crash) and waits for the i6300esb watchdog,
#        armed by systemd, to reset the VM and the service to serve again. Figures: deploy/out/smoke-hotplug.json.
#   powercut  CYCLES (10) boots of the same image cut by SIGKILL of qemu at seeded random moments (during first
#        boot, boot and streaming), then a clean boot and shutdown: every boot that reaches systemd checks
#        the root, none needs a repair or journal replay on it, the root partition is bit for bit the built
#        one, the data partition is clean after the shutdown, the last boot serves telemetry.
#        Boot-to-telemetry times in deploy/out/smoke-powercut.json.
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

# sd_copy FIRSTBOOT_YAML: a sparse copy of the SD image at $tmp/sd.img whose boot partition carries the
# first-boot file, edited the way a user would after flashing.
sd_copy() {
    local img=$OUT_DIR/rpi-ess-sd.img boot_offset
    [ -r "$img" ] || die "$img missing: run deploy/build-sd-image.sh first"
    require_tool qemu-system-aarch64 qemu-system-arm
    require_tool mcopy mtools
    cp --sparse=always "$img" "$tmp/sd.img"
    boot_offset=$(( $(sfdisk --json "$tmp/sd.img" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][0]["start"])') * 512 ))
    printf '%s' "$1" >"$tmp/rpi-ess.yaml"
    mcopy -o -i "$tmp/sd.img@@$boot_offset" "$tmp/rpi-ess.yaml" ::rpi-ess.yaml
}

# watch_vm PID CONSOLE COMMAND...: run COMMAND, but stop at once, with qemu's last words, if qemu (PID) exits
# first: a VM that never started must not cost the whole boot timeout. COMMAND may be a shell function, whose
# subshell is then not the process doing the work: its children are killed too, else they would hold the
# pipeline's output open until their own timeout.
watch_vm() {
    local vm=$1 console=$2 job
    shift 2
    require_tool pkill procps
    "$@" &
    job=$!
    while kill -0 "$job" 2>/dev/null; do
        if ! kill -0 "$vm" 2>/dev/null; then
            pkill -P "$job" 2>/dev/null || true
            kill "$job" 2>/dev/null || true
            die "qemu exited before the test finished: $(tail -n 3 "$console" | tr -d '\r')"
        fi
        sleep 1
    done
    wait "$job"
}

smoke_sd() {
    local port console=$OUT_DIR/smoke-sd-console.log
    sd_copy $'hostname: ess-smoke\nnetwork: {dhcp: true}\nserve_args: "--simulate"\nnode:\n  allowed_devices:\n    serial_ports: ["/dev/null"]\n'
    port=$(free_port)
    log "sd: booting the image under qemu-system-aarch64 (TCG); ESS port forwarded to 127.0.0.1:$port"
    qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1024 -accel tcg,thread=multi -nographic \
        -kernel "$OUT_DIR/rpi-ess-sd.vmlinuz" -initrd "$OUT_DIR/rpi-ess-sd.initrd" \
        -append "root=LABEL=RASPIROOT ro rootwait fsck.repair=yes console=ttyAMA0 systemd.show_status=1 systemd.status_unit_format=name systemd.journald.forward_to_console=1" \
        -drive "file=$tmp/sd.img,format=raw,if=virtio" \
        -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:5000" -device virtio-net-pci,netdev=net0,romfile= \
        </dev/null >"$console" 2>&1 &
    pids+=($!)
    # romfile= above: no PXE option ROM (the kernel is booted directly); hosts without ipxe-qemu lack it.
    watch_vm $! "$console" smoke_client --port "$port" --telemetry 5 --timeout "$TIMEOUT_SD" \
        | tee "$OUT_DIR/smoke-sd-client.log"
    # systemd's status lines and the journal on the serial console (they may trail the telemetry a little;
    # status lines stop once the getty takes the console, journal lines do not).
    console_shows 'Finished rpi-ess-firstboot.service' || die "first-boot service did not run"
    console_shows '^ess-smoke login:' || die "first-boot hostname not applied"
    console_shows 'Started rpi-ess.service' || die "systemd did not report rpi-ess.service started"
    log "sd: systemd started rpi-ess.service (Type=notify: after READY=1); console in $console"
}

# qemu_node SCENARIO [ARGS...]: deploy/qemu_node.py on a copy of the image with an SSH key and the adapters'
# names allowed; figures in $OUT_DIR/smoke-SCENARIO.json.
qemu_node() {
    local scenario=$1 key=$tmp/key
    shift
    require_tool ssh openssh-client
    [ -e "$key" ] || ssh-keygen -q -t ed25519 -N '' -f "$key"
    sd_copy "hostname: ess-$scenario
network: {dhcp: true}
ssh_authorized_keys: [\"$(cat "$key.pub")\"]
node:
  allowed_devices:
    serial_ports: [\"/dev/ess/*\", \"/dev/serial/by-id/*\", \"/dev/ttyUSB_*\"]
"
    truncate -s +256M "$tmp/sd.img"   # room for rpi-ess-growroot.service to grow into
    mkdir -p "$tmp/$scenario"
    PYTHONPATH=$REPO_DIR "${PYTHON:-python3}" "$DEPLOY_DIR/qemu_node.py" "$scenario" --image "$tmp/sd.img" \
        --kernel "$OUT_DIR/rpi-ess-sd.vmlinuz" --initrd "$OUT_DIR/rpi-ess-sd.initrd" --key "$key" \
        --console "$OUT_DIR/smoke-$scenario-console.log" --work "$tmp/$scenario" \
        --ess-port "$(free_port)" --ssh-port "$(free_port)" --boot-timeout "$TIMEOUT_SD" "$@" \
        >"$OUT_DIR/smoke-$scenario.json" || die "$scenario scenario failed (console: $OUT_DIR/smoke-$scenario-console*.log)"
    cat "$OUT_DIR/smoke-$scenario.json"
}

smoke_hotplug() {
    log "hotplug: booting the image with two emulated FTDI adapters (one plugged in later)"
    qemu_node hotplug ${RESUME_MAX:+--resume-max "$RESUME_MAX"}
}

smoke_powercut() {
    log "powercut: ${CYCLES:-10} boots cut by SIGKILL at seeded random moments, then a clean boot"
    qemu_node powercut --cycles "${CYCLES:-10}"
}

case $what in
    oci) time_step "smoke-oci" smoke_oci ;;
    sd) time_step "smoke-sd" smoke_sd ;;
    hotplug) time_step "smoke-hotplug" smoke_hotplug ;;
    powercut) time_step "smoke-powercut" smoke_powercut ;;
    all) time_step "smoke-oci" smoke_oci; time_step "smoke-sd" smoke_sd ;;
    *) die "usage: $0 [oci|sd|hotplug|powercut|all]" ;;
esac
log "smoke test ($what) PASSED"
