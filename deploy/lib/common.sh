# Shared helpers for the deploy/ scripts (sourced, not executed).
# Why: every build script needs the same checks (root, tools, arm64 emulation) and the same timing log,
# so a failure says what is missing before minutes of work are spent.

set -euo pipefail

DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO_DIR=$(cd "$DEPLOY_DIR/.." && pwd)
OUT_DIR=${OUT_DIR:-$DEPLOY_DIR/out}
SUITE=${SUITE:-bookworm}
# Debian mirror: empty means mmdebstrap's own default (Debian's CDN); set MIRROR to use a local one.
MIRROR=${MIRROR:-}
mkdir -p "$OUT_DIR"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

require_root() {
    [ "$(id -u)" -eq 0 ] || die "$(basename "$0") must run as root (chroot, mmdebstrap root mode, file ownership)"
}

# require_tool TOOL DEBIAN_PACKAGE
require_tool() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found: apt-get install $2"
}

# Foreign arm64 binaries must run transparently (binfmt_misc with the F flag, as qemu-user-static registers).
require_arm64_emulation() {
    if [ "$(uname -m)" = aarch64 ]; then return 0; fi
    if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null \
            || die "binfmt_misc is not mounted and cannot be mounted here"
    fi
    local entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
    if [ ! -e "$entry" ] && command -v update-binfmts >/dev/null; then
        update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    fi
    [ -e "$entry" ] || die "no qemu-aarch64 binfmt handler: apt-get install qemu-user-static binfmt-support"
    grep -q '^flags:.*F' "$entry" \
        || die "qemu-aarch64 binfmt handler lacks the F flag (needed inside chroots): reinstall qemu-user-static"
}

# The host's CA bundle, when pip inside an arm64 chroot must trust the same TLS proxy as the host does.
host_ca_bundle() {
    local bundle=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
    [ -r "$bundle" ] && printf '%s\n' "$bundle"
}

# time_step NAME COMMAND...: runs the command and appends "NAME <seconds>" to $OUT_DIR/timings.txt.
time_step() {
    local name=$1 start end
    shift
    start=$(date +%s)
    "$@"
    end=$(date +%s)
    printf '%s %ss %s\n' "$name" "$((end - start))" "$(date -Is)" >>"$OUT_DIR/timings.txt"
    log "$name took $((end - start)) s"
}

# build_wheel DEST_DIR: the rpi_ess wheel, built from a copy of just the package sources, so that large
# build outputs lying in the checkout (deploy/out, .venv) are never scanned by the build backend.
build_wheel() {
    local src
    src=$(mktemp -d)
    cp -a "$REPO_DIR/pyproject.toml" "$REPO_DIR/README.md" "$REPO_DIR/rpi_ess" "$src/"
    rm -rf "$1" && mkdir -p "$1"
    "${PYTHON:-python3}" -m pip wheel -q --no-deps -w "$1" "$src"
    rm -rf "$src"
}
