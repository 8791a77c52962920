#!/usr/bin/env bash
# Real Ansible run against a throw-away Debian node on this machine, then idempotency checks.
#
# The node is a Debian root (mmdebstrap) booted with systemd-nspawn: its own systemd, sshd on 127.0.0.1 and the
# host's network, so the role runs over SSH exactly as against a Pi and the service really starts.
#   1st run: installs and starts rpi-ess; the ESS port must then serve telemetry (smoke client)
#   2nd run: must report changed=0, same main PID; systemd has seen a watchdog ping
#   3rd run: one setting changed -> changed>0 and the service restarted (new main PID)
#   4th run: changed=0 again
#   5th run, after `systemctl stop rpi-ess`: changed=1 and the service runs again
#   6th run, a deliberately broken release (its server exits at start): the play fails with a report naming
#        the release, current points back at the previous release, and that release serves telemetry again
#   7th run, the node booted again as an SD-image node is (root file system read-only, its own file system on
#        a loop device; /var separate; /etc/default/rpi-ess a link into /var/lib/rpi-ess-node): the update is
#        applied (changed>0, new PID), the link is kept, / is read-only again afterwards, telemetry flows
# Usage: sudo deploy/ansible/test-local.sh     (needs: mmdebstrap, systemd-container, ansible-core, ssh,
#        e2fsprogs, a free loop device)
source "$(dirname "$0")/../lib/common.sh"

ANSIBLE_DIR=$DEPLOY_DIR/ansible
require_root
require_tool mmdebstrap mmdebstrap
require_tool systemd-nspawn systemd-container
require_tool ssh openssh-client
require_tool mkfs.ext4 e2fsprogs
require_tool losetup util-linux
require_tool ansible-playbook "ansible-core (pip)"

target_tar=$OUT_DIR/ansible-target-$SUITE.tar
work=$(mktemp -d "$OUT_DIR/ansible-test.XXXXXX")
root=$work/root
nspawn_pid=
loop_dev=
stop_node() {
    if [ -n "$nspawn_pid" ]; then
        kill -TERM "$nspawn_pid" 2>/dev/null || true   # orderly container shutdown
        wait "$nspawn_pid" 2>/dev/null || true
    fi
    nspawn_pid=
}
cleanup() {
    stop_node
    if [ -n "$loop_dev" ]; then umount "$work/rootfs" 2>/dev/null || true; losetup -d "$loop_dev" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

[ -e "$target_tar" ] || mmdebstrap --mode=root --variant=minbase \
    --include=systemd,systemd-sysv,dbus,udev,openssh-server,python3,python3-venv,libusb-1.0-0,ca-certificates \
    "$SUITE" "$target_tar" ${MIRROR:+"$MIRROR"}
mkdir "$root" && tar -xf "$target_tar" -C "$root"

ssh_port=$(free_port)
ess_port=$(free_port)
ssh-keygen -q -t ed25519 -N '' -f "$work/key"
install -d -m 0700 "$root/root/.ssh" && cp "$work/key.pub" "$root/root/.ssh/authorized_keys"
printf 'Port %s\nListenAddress 127.0.0.1\n' "$ssh_port" >"$root/etc/ssh/sshd_config.d/test.conf"
echo rpi-ess-ansible-test >"$root/etc/hostname"
ca=""
if ca=$(host_ca_bundle); then cp "$ca" "$root/etc/ssl/certs/host-ca.crt"; fi

# boot_node DIRECTORY [NSPAWN_ARGS...]: boots the node in the background (wait_node waits for its sshd).
boot_node() {
    local dir=$1
    shift
    systemd-nspawn -D "$dir" --boot --register=no --keep-unit --console=passive \
        --machine="rpi-ess-test-$$" "$@" >>"$work/nspawn.log" 2>&1 &
    nspawn_pid=$!
}
boot_node "$root"

# The wheel the role installs: built from this checkout.
build_wheel "$OUT_DIR/wheel"

cat >"$work/inventory.ini" <<INV
[ess_nodes]
testnode ansible_host=127.0.0.1 ansible_port=$ssh_port ansible_user=root

[ess_nodes:vars]
ansible_ssh_private_key_file=$work/key
ansible_ssh_common_args=-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
ansible_python_interpreter=/usr/bin/python3
rpi_ess_batch_size=1
rpi_ess_port=$ess_port
rpi_ess_health_host=127.0.0.1
rpi_ess_wheel=$(ls "$OUT_DIR"/wheel/rpi_ess-*.whl)
INV
extra_vars=(-e "{\"rpi_ess_extras\": [], \"rpi_ess_pip_environment\": {${ca:+\"PIP_CERT\": \"/etc/ssl/certs/host-ca.crt\"}}}")

node() { ssh -q -i "$work/key" -p "$ssh_port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o BatchMode=yes -o ConnectTimeout=5 root@127.0.0.1 "$@"; }
wait_node() {
    for _ in $(seq 60); do node true 2>/dev/null && break; sleep 2; done
    node true || die "the test node did not come up (see $work/nspawn.log)"
}
wait_node

# play RUN_NAME SERVE_ARGS [ANSIBLE_ARGS...] -> prints the recap's changed= count
play() {
    local run=$1 log=$OUT_DIR/ansible-$1.log serve=$2
    shift 2
    ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1 ansible-playbook -i "$work/inventory.ini" "${extra_vars[@]}" \
        -e "rpi_ess_serve_args='$serve'" "$@" "$ANSIBLE_DIR/site.yml" >"$log" 2>&1 \
        || { tail -20 "$log" >&2; node journalctl -u rpi-ess.service -n 30 --no-pager >&2 || true
             die "ansible run $run failed (log: $log)"; }
    grep -E '^testnode +:' "$log" | sed -E 's/.*changed=([0-9]+).*failed=([0-9]+).*/\1/'
}
main_pid() { node systemctl show -p MainPID --value rpi-ess.service; }
args="--simulate --host 127.0.0.1 --port $ess_port"

changed=$(play 1-install "$args")
log "run 1: changed=$changed"
[ "$changed" -gt 0 ] || die "first run changed nothing"
[ "$(node systemctl is-active rpi-ess.service)" = active ] || die "rpi-ess.service not active after run 1"
python3 "$DEPLOY_DIR/smoke_client.py" --port "$ess_port" --telemetry 3 --timeout 60 | tail -1
pid1=$(main_pid)

changed=$(play 2-idempotent "$args")
log "run 2: changed=$changed"
[ "$changed" -eq 0 ] || die "second run was not idempotent (changed=$changed)"
[ "$(main_pid)" = "$pid1" ] || die "service restarted although nothing changed"
# Type=notify + WatchdogSec: systemd recorded a WATCHDOG=1 ping, and never had to restart the service.
[ "$(node systemctl show -p WatchdogTimestampMonotonic --value rpi-ess.service)" -gt 0 ] \
    || die "no watchdog ping received from the service"
[ "$(node systemctl show -p NRestarts --value rpi-ess.service)" -eq 0 ] || die "the service was restarted"

changed=$(play 3-change "$args --log-level DEBUG")
log "run 3: changed=$changed"
[ "$changed" -gt 0 ] || die "changed setting not applied"
[ "$(main_pid)" != "$pid1" ] || die "service not restarted after a setting changed"

changed=$(play 4-idempotent "$args --log-level DEBUG")
log "run 4: changed=$changed"
[ "$changed" -eq 0 ] || die "fourth run was not idempotent (changed=$changed)"

node systemctl stop rpi-ess.service
changed=$(play 5-restore "$args --log-level DEBUG")
log "run 5 (service stopped by hand before): changed=$changed"
[ "$changed" -eq 1 ] && [ "$(node systemctl is-active rpi-ess.service)" = active ] \
    || die "a stopped service was not started again (changed=$changed)"
release_before=$(node readlink /opt/rpi-ess/current)

# A broken release: same code, but its entry point exits at once.
broken=$work/broken
mkdir -p "$broken/src"
cp -a "$REPO_DIR/pyproject.toml" "$REPO_DIR/README.md" "$REPO_DIR/rpi_ess" "$broken/src/"
sed -i 's/^__version__ = "\(.*\)"$/__version__ = "\1+broken"/' "$broken/src/rpi_ess/__init__.py"
printf '\nraise SystemExit("deliberately broken release")\n' >>"$broken/src/rpi_ess/cli/main.py"
"${PYTHON:-python3}" -m pip wheel -q --no-deps -w "$broken/wheel" "$broken/src"
log="$OUT_DIR/ansible-6-broken.log"
if ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1 ansible-playbook -i "$work/inventory.ini" "${extra_vars[@]}" \
    -e "rpi_ess_serve_args='$args --log-level DEBUG'" -e "rpi_ess_wheel=$(ls "$broken"/wheel/*.whl)" \
    -e rpi_ess_health_timeout=30 "$ANSIBLE_DIR/site.yml" >"$log" 2>&1; then
    die "the broken release was not detected (log: $log)"
fi
grep -q 'rpi_ess 0.1.0+broken failed on testnode' "$log" || { tail -30 "$log" >&2; die "no roll-back report"; }
grep -q 'Rolled back to' "$log" || die "no roll-back in the report (log: $log)"
[ "$(node readlink /opt/rpi-ess/current)" = "$release_before" ] || die "current does not point back"
[ "$(node systemctl is-active rpi-ess.service)" = active ] || die "the previous release is not running"
python3 "$DEPLOY_DIR/smoke_client.py" --port "$ess_port" --telemetry 3 --timeout 60 | tail -1
log "run 6 (broken release): failed its health check, rolled back to $release_before: $(grep -o 'failed on testnode: [^.]*' "$log" | head -1)"

# The node as the SD image makes it (deploy/sd-image/readonly-root.sh): / on its own file system, mounted
# read-only; /var a separate file system; /etc/default/rpi-ess a link into /var/lib/rpi-ess-node.
stop_node
state=$work/var/lib/rpi-ess-node/etc/default
mv "$root/var" "$work/var" && mkdir "$root/var"
install -d "$state" && mv "$root/etc/default/rpi-ess" "$state/rpi-ess"
ln -s ../../var/lib/rpi-ess-node/etc/default/rpi-ess "$root/etc/default/rpi-ess"
truncate -s "$(( $(du -sm "$root" | cut -f1) * 3 / 2 + 256 ))M" "$work/root.img"
mkfs.ext4 -q -d "$root" "$work/root.img"
loop_dev=$(losetup --find --show "$work/root.img")
mkdir "$work/rootfs" && mount -o ro "$loop_dev" "$work/rootfs"
boot_node "$work/rootfs" --read-only --bind="$work/var:/var"
wait_node
node findmnt --noheadings --output OPTIONS / | grep -qE '(^|,)ro(,|$)' || die "the node's root is not read-only"
for _ in $(seq 30); do [ "$(node systemctl is-active rpi-ess.service)" = active ] && break; sleep 2; done
pid1=$(main_pid)
changed=$(play 7-readonly-root "$args" -e "rpi_ess_udev_local_rules='# read-only root test'")
log "run 7 (read-only root): changed=$changed"
[ "$changed" -gt 0 ] || die "nothing changed on the read-only-root node"
[ "$(main_pid)" != "$pid1" ] || die "service not restarted after a setting changed on the read-only root"
node findmnt --noheadings --output OPTIONS / | grep -qE '(^|,)ro(,|$)' || die "the root was left writable"
node test -L /etc/default/rpi-ess || die "the update replaced the /etc/default/rpi-ess link by a file"
grep -q -- "--log-level" "$state/rpi-ess" && die "the new settings did not reach the data partition"
node cat /etc/udev/rules.d/61-rpi-ess-local.rules | grep -q 'read-only root test' || die "udev rules not written"
python3 "$DEPLOY_DIR/smoke_client.py" --port "$ess_port" --telemetry 3 --timeout 60 | tail -1
node systemctl status --no-pager rpi-ess.service | head -12
log "ansible test PASSED: install, health check, idempotent re-run, restart only on change, roll-back, read-only root"
