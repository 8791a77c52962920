#!/usr/bin/env bash
# Build a flashable Raspberry Pi SD-card image (Debian arm64: Pi firmware + kernel, systemd, rpi_ess) on x86.
#
# Usage: sudo deploy/build-sd-image.sh [CONFIG]
#   CONFIG  first-boot settings copied to the boot partition as rpi-ess.yaml (see
#           deploy/sd-image/rpi-ess.yaml.example); without it the card boots with DHCP and no SSH key.
# Output: deploy/out/rpi-ess-sd.img.xz + .sha256 (and the uncompressed .img, kernel and initrd for
#         deploy/smoke-test.sh). Flash: xzcat rpi-ess-sd.img.xz | dd of=/dev/mmcblk0 bs=4M conv=fsync
# No loop devices: the partitions are made as files (mkfs.vfat + mtools, mkfs.ext4 -d) and joined with dd.
# Partitions: RASPIFIRM (FAT32), RASPIROOT (ext4, mounted read-only), ESSDATA (ext4, /var: all that persists).
# MIRROR=<url> uses another Debian mirror; KEEP_WORK=1 keeps deploy/out/sd-work (the root directory).
source "$(dirname "$0")/lib/common.sh"

config=${1:-}
require_root
for t in mmdebstrap:mmdebstrap mkfs.ext4:e2fsprogs mkfs.vfat:dosfstools mcopy:mtools sfdisk:fdisk xz:xz-utils; do
    require_tool "${t%%:*}" "${t#*:}"
done
require_arm64_emulation
[ -z "$config" ] || [ -r "$config" ] || die "cannot read config file $config"

work=$OUT_DIR/sd-work
rootfs=$work/rootfs
img=$OUT_DIR/rpi-ess-sd.img
BOOT_MIB=${BOOT_MIB:-256}
DATA_MIB=${DATA_MIB:-128}
START_MIB=4

# e2fsprogs and dosfstools: not part of the "apt" variant, and without them nothing ever checks the file
# systems (the initramfs copies e2fsck only if it is installed when the initramfs is built).
PACKAGES=(
    systemd-sysv udev kmod dbus systemd-resolved chrony initramfs-tools zstd e2fsprogs dosfstools
    fdisk cloud-guest-utils
    linux-image-arm64 raspi-firmware
    openssh-server iproute2 iputils-ping netbase ca-certificates less
    python3 python3-venv libusb-1.0-0
)

build_rootfs() {
    rm -rf "$work" && mkdir -p "$work"
    local ca=""
    ca=$(host_ca_bundle) || true
    REPO_DIR=$REPO_DIR HOST_CA=$ca \
    mmdebstrap --mode=root --arch=arm64 --variant=apt --format=directory \
        --components="main non-free-firmware" --include="$(IFS=,; echo "${PACKAGES[*]}")" \
        --setup-hook='mkdir -p "$1/boot/firmware" "$1/etc"' \
        --setup-hook="cp '$DEPLOY_DIR/node/etc/fstab' \"\$1/etc/fstab\"" \
        --customize-hook="$DEPLOY_DIR/sd-image/customize.sh" \
        --customize-hook="$DEPLOY_DIR/sd-image/readonly-root.sh" \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb' \
        "$SUITE" "$rootfs" ${MIRROR:+"$MIRROR"}
}

assemble() {
    local bootdir=$work/boot root_mib boot_sectors root_sectors start
    # The Pi firmware partition gets what raspi-firmware installed under /boot/firmware (moved out of the
    # root: an assemble run again on a kept root reuses it).
    if [ -n "$(ls -A "$rootfs/boot/firmware")" ]; then
        rm -rf "$bootdir" && mv "$rootfs/boot/firmware" "$bootdir" && mkdir "$rootfs/boot/firmware"
    fi
    [ -e "$bootdir/config.txt" ] || die "raspi-firmware left no config.txt in /boot/firmware"
    # The root is mounted read-only from the start (fstab keeps it so after systemd-remount-fs anyway).
    sed -i 's/ rw / ro /; s/ rw$/ ro/' "$bootdir/cmdline.txt"
    [ -z "$config" ] || cp "$config" "$bootdir/rpi-ess.yaml"
    cp "$rootfs"/boot/vmlinuz-* "$OUT_DIR/rpi-ess-sd.vmlinuz"
    cp "$rootfs"/boot/initrd.img-* "$OUT_DIR/rpi-ess-sd.initrd"

    rm -f "$work/boot.img"
    mkfs.vfat -C -F 32 -n RASPIFIRM "$work/boot.img" $((BOOT_MIB * 1024)) >/dev/null
    mcopy -s -i "$work/boot.img" "$bootdir"/* ::
    # Data partition (ESSDATA, mounted on /var): the image's /var plus DATA_MIB of room, grown to the card
    # at first boot. The read-only root gets an empty /var to mount it on, and a quarter and 128 MiB of
    # room for maintenance (remount rw, apt).
    rm -rf "$work/var" && mv "$rootfs/var" "$work/var" && mkdir -m 0755 "$rootfs/var"
    data_mib=$(( $(du -sm "$work/var" | cut -f1) * 5 / 4 + DATA_MIB ))
    root_mib=$(( $(du -sm "$rootfs" | cut -f1) * 5 / 4 + 128 ))
    rm -f "$work/root.img" "$work/data.img"
    # mkfs.ext4 -d copies owners, modes and xattrs.
    mkfs.ext4 -q -F -L ESSDATA -d "$work/var" "$work/data.img" "${data_mib}M" \
        && mkfs.ext4 -q -F -L RASPIROOT -d "$rootfs" "$work/root.img" "${root_mib}M" \
        || { rmdir "$rootfs/var"; mv "$work/var" "$rootfs/var"; die "mkfs.ext4 failed"; }
    rmdir "$rootfs/var" && mv "$work/var" "$rootfs/var"

    start=$((START_MIB * 2048)); boot_sectors=$((BOOT_MIB * 2048)); root_sectors=$((root_mib * 2048))
    data_sectors=$((data_mib * 2048))
    rm -f "$img"
    truncate -s $(( (START_MIB + BOOT_MIB + root_mib + data_mib) * 1024 * 1024 )) "$img"
    sfdisk --quiet "$img" <<TABLE
label: dos
start=$start, size=$boot_sectors, type=c, bootable
start=$((start + boot_sectors)), size=$root_sectors, type=83
start=$((start + boot_sectors + root_sectors)), size=$data_sectors, type=83
TABLE
    dd if="$work/boot.img" of="$img" bs=1M seek=$START_MIB conv=notrunc,sparse status=none
    dd if="$work/root.img" of="$img" bs=1M seek=$((START_MIB + BOOT_MIB)) conv=notrunc,sparse status=none
    dd if="$work/data.img" of="$img" bs=1M seek=$((START_MIB + BOOT_MIB + root_mib)) conv=notrunc,sparse status=none
}

compress() {
    rm -f "$img.xz"
    xz -T0 -6 -k "$img"
    (cd "$OUT_DIR" && sha256sum "$(basename "$img.xz")" >"$(basename "$img.xz").sha256")
}

# STAGES lets a developer redo the later stages on a kept root directory (e.g. STAGES="assemble compress").
for stage in ${STAGES:-rootfs assemble compress}; do
    case $stage in
        rootfs) time_step "sd-rootfs" build_rootfs ;;
        readonly) "$DEPLOY_DIR/sd-image/readonly-root.sh" "$rootfs" ;;  # again, on a kept root (KEEP_WORK=1)
        assemble) time_step "sd-assemble" assemble ;;
        compress) time_step "sd-compress" compress ;;
        *) die "unknown stage $stage" ;;
    esac
done
[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
log "SD image: $img.xz ($(du -h "$img.xz" | cut -f1) compressed, $(du -h --apparent-size "$img" | cut -f1) raw)"
cat "$img.xz.sha256"

# Size budget (docs/deployment.md, "Budgets"): what an operator downloads per site and flashes per card.
# A build over it fails here rather than being noticed on the fleet's link; raise the budget deliberately.
within_budget() {  # FILE BUDGET_MIB SETTING
    local mib=$(( ($(stat -c %s "$1") + 1048575) / 1048576 ))
    [ "$mib" -le "$2" ] || die "$(basename "$1") is $mib MiB, over its budget of $2 MiB ($3)"
}
within_budget "$img" "${RAW_BUDGET_MIB:-2048}" RAW_BUDGET_MIB
within_budget "$img.xz" "${XZ_BUDGET_MIB:-320}" XZ_BUDGET_MIB
