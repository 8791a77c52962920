#!/usr/bin/env bash
# mmdebstrap customize hook for the SD image, after customize.sh ($1 = the arm64 root directory): make the
# root ready to be mounted read-only (issue 14 item 3). Idempotent, so it can be run again on a kept root
# (KEEP_WORK=1, then STAGES="readonly assemble compress").
#
# What a running node writes goes to the data partition, mounted on /var (build-sd-image.sh makes it from
# this root's /var): the server's state (/var/lib/rpi-ess), and the node's own settings, which first boot
# writes through links from their usual places in /etc into /var/lib/rpi-ess-node:
#   /etc/hostname, /etc/hosts, /etc/rpi-ess (node.yaml), /etc/default/rpi-ess, the network unit,
#   /root/.ssh (authorized_keys) and the SSH host keys (sshd_config.d/rpi-ess.conf).
# /etc/machine-id is left empty: systemd then makes a transient id at each boot instead of writing one
# (machine-id(5)), the usual way for a read-only root; the journal is in RAM for that reason.
set -euo pipefail
root=$1
state=/var/lib/rpi-ess-node

install -d -m 0755 "$root$state" "$root$state/etc" "$root$state/etc/default" "$root$state/etc/network" \
    "$root$state/keys/etc/ssh"
install -d -m 0700 "$root$state/root-ssh"

# to_state PATH TARGET: PATH (absolute, in the image) becomes a relative link to TARGET (under $state);
# what PATH held moves there first.
to_state() {
    local path=$root$1 target=$root$state/$2
    [ -L "$path" ] && return 0
    if [ -e "$path" ]; then rm -rf "$target"; mv "$path" "$target"; fi
    ln -s "$(realpath -m --relative-to="$(dirname "$path")" "$target")" "$path"
}
to_state /etc/hostname etc/hostname
to_state /etc/hosts etc/hosts
to_state /etc/rpi-ess etc/rpi-ess
to_state /etc/default/rpi-ess etc/default/rpi-ess
to_state /etc/systemd/network/10-rpi-ess.network etc/network/10-rpi-ess.network
to_state /root/.ssh root-ssh

# DHCP keyed by the MAC address: the DUID networkd would use comes from the machine id, new at each boot.
net=$root$state/etc/network/10-rpi-ess.network
grep -q '^ClientIdentifier=' "$net" || printf '\n[DHCPv4]\nClientIdentifier=mac\n' >>"$net"

# SSH host keys: one set per card, made at first boot on the data partition.
rm -f "$root/etc/systemd/system/multi-user.target.wants/ssh-keygen-firstboot.service" \
    "$root/etc/systemd/system/ssh-keygen-firstboot.service"
cat >"$root/etc/systemd/system/rpi-ess-ssh-keygen.service" <<UNIT
[Unit]
Description=Generate SSH host keys on the data partition
Before=ssh.service
RequiresMountsFor=$state
ConditionPathExistsGlob=!$state/keys/etc/ssh/ssh_host_*_key
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A -f $state/keys
[Install]
WantedBy=multi-user.target
UNIT
systemctl --root="$root" enable rpi-ess-ssh-keygen.service rpi-ess-node-state.service

# machine-id empty (transient id each boot, no first-boot semantics); /etc and /var "updated" so that the
# ConditionNeedsUpdate= units (ldconfig, hwdb, catalog) do not try to write the read-only /etc at boot.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
touch "$root/etc/.updated" "$root/var/.updated"
# (The Pi's kernel command line gets `ro` when build-sd-image.sh assembles the boot partition.)
