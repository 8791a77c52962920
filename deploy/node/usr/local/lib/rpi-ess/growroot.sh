#!/bin/sh
# Grow the partition holding MOUNTPOINT (default /var, the data partition: the last one on the card; the
# root stays read-only and keeps its size) to the end of its disk (growpart from cloud-guest-utils); exit 0
# when there is nothing to grow. Names the devices it touches in the journal.
set -eu
part=$(findmnt -no SOURCE "${1:-/var}")
disk=/dev/$(lsblk -no PKNAME "$part")
number=$(cat "/sys/class/block/$(basename "$part")/partition")
status=0
out=$(growpart "$disk" "$number" 2>&1) || status=$?
case $status in
    0) echo "grew $part: $out" ;;
    1) echo "$part already fills $disk" ;;
    *) echo "growpart $disk $number failed: $out" >&2; exit 1 ;;
esac
