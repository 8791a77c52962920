#!/usr/bin/env bash
# mmdebstrap customize hook for the SD image: runs on the host with $1 = the arm64 root directory
# (proc/sys/dev mounted; arm64 binaries run under qemu-user through binfmt_misc).
# Installs rpi_ess into /opt/rpi-ess/releases/<version> (+ current link), the service, udev rules, first-boot settings and boot configuration.
set -euo pipefail
root=$1
: "${REPO_DIR:?}" "${HOSTNAME_DEFAULT:=rpi-ess}"
in_root() { chroot "$root" "$@"; }

# rpi_ess and its Pi extras, built from this checkout inside the arm64 root (wheels for aarch64).
mkdir -p "$root/tmp/rpi-ess-src"
cp -a "$REPO_DIR/pyproject.toml" "$REPO_DIR/README.md" "$REPO_DIR/rpi_ess" "$root/tmp/rpi-ess-src/"
# A clean environment (no PIP_* settings of the build host); the host's resolver and, behind a TLS proxy,
# its CA bundle. The image's own resolv.conf (a link to systemd-resolved's stub) is put back afterwards.
pip_env=(PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root)
if [ -n "${HOST_CA:-}" ]; then
    cp "$HOST_CA" "$root/tmp/host-ca.crt"
    pip_env+=(PIP_CERT=/tmp/host-ca.crt)
fi
mv "$root/etc/resolv.conf" "$root/etc/resolv.conf.image"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# Releases side by side, /opt/rpi-ess/current -> releases/<version> (the Ansible role switches and rolls back).
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$REPO_DIR/rpi_ess/__init__.py")
in_root env -i "${pip_env[@]}" sh -ec '
    python3 -m venv "$1"
    "$1/bin/pip" install --no-cache-dir --upgrade pip wheel
    "$1/bin/pip" install --no-cache-dir "/tmp/rpi-ess-src[pi]"
    "$1/bin/rpi-ess" --help >/dev/null' sh "/opt/rpi-ess/releases/$version"
ln -sfn "releases/$version" "$root/opt/rpi-ess/current"
mv -f "$root/etc/resolv.conf.image" "$root/etc/resolv.conf"
rm -rf "$root/tmp/rpi-ess-src" "$root/tmp/host-ca.crt"

# Service account with access to serial, I2C and GPIO devices.
in_root groupadd --system --force i2c
in_root groupadd --system --force gpio
in_root useradd --system --user-group --groups dialout,i2c,gpio --home-dir /var/lib/rpi-ess \
    --shell /usr/sbin/nologin rpi-ess
install -d "$root/etc/rpi-ess" "$root/usr/local/lib/rpi-ess"
printf 'allowed_devices:\n  serial_ports: ["/dev/ess/*"]\n' >"$root/etc/rpi-ess/node.yaml"
install -m 0644 "$REPO_DIR/deploy/systemd/rpi-ess.service" "$REPO_DIR/deploy/systemd/rpi-ess-firstboot.service" \
    "$root/etc/systemd/system/"
install -m 0644 "$REPO_DIR/deploy/sd-image/rpi-ess-firstboot.py" "$root/usr/local/lib/rpi-ess/"
install -m 0644 "$REPO_DIR"/udev/*.rules "$root/etc/udev/rules.d/"

# Network (systemd-networkd, DHCP unless the first-boot file says otherwise), SSH by key only.
printf '[Match]\nName=e*\n\n[Network]\nDHCP=yes\n' >"$root/etc/systemd/network/10-rpi-ess.network"
echo "$HOSTNAME_DEFAULT" >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$HOSTNAME_DEFAULT" \
    >"$root/etc/hosts"
in_root systemctl enable rpi-ess.service rpi-ess-firstboot.service systemd-networkd.service \
    systemd-resolved.service ssh.service chrony.service
# Host keys are made on first boot (on the data partition: deploy/sd-image/readonly-root.sh) so that cards
# flashed from one image do not share them.
rm -f "$root"/etc/ssh/ssh_host_*

# Node files (deploy/node): fstab (also put in place before the packages, so the initramfs gets e2fsck),
# drivers loaded at boot, watchdog, journal caps, chrony, root partition growth.
tar -C "$REPO_DIR/deploy/node" --exclude=README.md -cf - . | tar -C "$root" --no-same-owner --no-overwrite-dir -xf -
chmod 0755 "$root/usr/local/lib/rpi-ess/growroot.sh"
in_root systemctl enable rpi-ess-growroot.service

# Rubin HAT UARTs (udev names them /dev/serial0..4): raspi-firmware appends raspi-firmware-custom to the
# config.txt it regenerates on kernel upgrades; today's copy gets the same lines.
cat >"$root/etc/default/raspi-firmware-custom" <<'CONFIG'
# rpi_ess: Rubin HAT UARTs (/dev/serial0..4); the PL011 UART0 moves from Bluetooth to GPIO 14/15.
enable_uart=1
dtoverlay=disable-bt
dtoverlay=uart1
dtoverlay=uart2
dtoverlay=uart3
dtoverlay=uart4
dtoverlay=uart5
CONFIG
grep -q 'rpi_ess: Rubin HAT UARTs' "$root/boot/firmware/config.txt" \
    || { echo; cat "$root/etc/default/raspi-firmware-custom"; } >>"$root/boot/firmware/config.txt"

# The Pi firmware's kernel command line: raspi-firmware regenerates /boot/firmware/cmdline.txt from
# /etc/default/raspi-firmware on kernel upgrades; patch today's copy rather than rebuild the initramfs.
sed -i 's/^#\?ROOTPART=.*/ROOTPART=LABEL=RASPIROOT/' "$root/etc/default/raspi-firmware"
grep -q '^ROOTPART=' "$root/etc/default/raspi-firmware" || echo 'ROOTPART=LABEL=RASPIROOT' >>"$root/etc/default/raspi-firmware"
cmdline=$root/boot/firmware/cmdline.txt
if [ -e "$cmdline" ]; then
    sed -i 's#root=[^ ]*#root=LABEL=RASPIROOT#' "$cmdline"
else
    echo 'console=tty0 console=ttyS1,115200 root=LABEL=RASPIROOT ro fsck.repair=yes net.ifnames=0 rootwait' >"$cmdline"
fi
grep -q 'fsck.repair=' "$cmdline" || sed -i 's/$/ fsck.repair=yes/' "$cmdline"

# The root file system must be checked before it is mounted: fail the build if the initramfs cannot.
in_root sh -c 'lsinitramfs /boot/initrd.img-* | grep -q "sbin/e2fsck$"' \
    || { echo "the initramfs has no e2fsck: root would never be checked" >&2; exit 1; }

# Verify the unit where its ExecStart really exists.
in_root systemd-analyze verify /etc/systemd/system/rpi-ess.service
