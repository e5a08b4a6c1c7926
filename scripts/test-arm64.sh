#!/usr/bin/env bash
# make test-arm64: install the gate into an arm64 Debian bookworm root, run it there.
#
# The root is made with `debootstrap --arch arm64` and its programs run under
# qemu-user-static (binfmt_misc), so this proves on an x86_64 machine what a
# Raspberry Pi OS 64-bit install needs from Debian's arm64 archive and from PyPI's
# aarch64 wheels: systemd/install.sh --role gate in its real mode (apt packages, the
# kiosk user, the venv with --system-site-packages, the data folder, `kiosk init`;
# systemd does not run in a chroot, so units are enabled by symlink and not started),
# then `kiosk doctor`, `kiosk demo --once` and the core and hardware test folders.
# docs/raspberry-pi.md says what only a real Pi can prove (camera, GPIO, I2C timing).
#
# Needs root (debootstrap, chroot, mounts). The minimal root is cached as a tarball
# (ARM64_CACHE, default /var/cache/kiosk-arm64) so later runs skip debootstrap; each
# run installs into a fresh copy under ARM64_WORK (default /var/tmp/kiosk-arm64);
# ARM64_REUSE_ROOT=1 runs again on the last copy (quicker, for working on the script).
set -euo pipefail

PROJECT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${ARM64_CACHE:-/var/cache/kiosk-arm64}"
WORK="${ARM64_WORK:-/var/tmp/kiosk-arm64}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
BASE="$CACHE/$SUITE-arm64-minbase.tar.gz"
ROOT="$WORK/root"
SRC=/opt/gate-kiosk-src  # the checkout inside the root
START=$SECONDS

step() { printf '\n== %s (%d s)\n' "$*" $((SECONDS - START)); }
die() { echo "test-arm64: $*" >&2; exit 1; }

[[ "$(id -u)" -eq 0 ]] || die "needs root (debootstrap, chroot and mounts): sudo make test-arm64"

host_packages() {
    step "host packages: debootstrap, qemu-user-static"
    PACKAGES="debootstrap qemu-user-static" sh "$PROJECT/scripts/ensure-system-packages.sh"
}

# binfmt_misc runs arm64 programs through qemu; systemd-binfmt does this at boot on a
# normal machine, a container or CI VM may need it done by hand.
enable_binfmt() {
    step "binfmt_misc: arm64 programs through qemu-aarch64-static"
    local dir=/proc/sys/fs/binfmt_misc
    [[ -e $dir/register ]] || mount -t binfmt_misc binfmt_misc $dir \
        || die "cannot mount binfmt_misc (a container without it cannot run arm64 programs)"
    if [[ ! -e $dir/qemu-aarch64 ]]; then
        cat /usr/lib/binfmt.d/qemu-aarch64.conf >$dir/register
    fi
    grep -qx enabled $dir/qemu-aarch64 || die "qemu-aarch64 binfmt entry is disabled"
}

base_tarball() {
    if [[ -s "$BASE" ]]; then
        step "minimal $SUITE arm64 root from the cache $BASE"
        return
    fi
    step "debootstrap --arch arm64 $SUITE (first run; cached afterwards)"
    local fresh="$WORK/debootstrap"
    rm -rf "$fresh" && mkdir -p "$fresh" "$CACHE"
    debootstrap --arch arm64 --variant=minbase --include=ca-certificates \
        "$SUITE" "$fresh" "$MIRROR"
    tar -C "$fresh" -czf "$BASE.part" . && mv "$BASE.part" "$BASE"
    rm -rf "$fresh"
}

MOUNTS=()
unmount_all() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[i]}" 2>/dev/null || true; done
    MOUNTS=()
}
trap unmount_all EXIT

bind() {
    mkdir -p "$ROOT$1"
    mount "${@:2}" "$ROOT$1"
    MOUNTS+=("$ROOT$1")
}

fresh_root() {
    unmount_all
    if [[ "${ARM64_REUSE_ROOT:-0}" == 1 && -x "$ROOT/bin/sh" ]]; then
        step "reusing the root in $ROOT (ARM64_REUSE_ROOT=1: install.sh runs again on it)"
    else
        step "fresh root in $ROOT"
        rm -rf "$ROOT" && mkdir -p "$ROOT"
        tar -C "$ROOT" -xzf "$BASE"
    fi
    trust_host_authorities
    bind /proc -t proc proc
    bind /sys -t sysfs sysfs
    bind /dev --bind /dev
    bind /dev/pts --bind /dev/pts
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
    printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"  # no daemons start in the chroot
    chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
    rm -rf "$ROOT$SRC" && mkdir -p "$ROOT$SRC"
    tar -C "$PROJECT" --exclude=.git --exclude=.venv --exclude=demo-data --exclude=build \
        --exclude='*.egg-info' --exclude=test-artifacts -cf - . | tar -C "$ROOT$SRC" -xf -
}

# The root trusts the certificate authorities its host added locally (a company or CI
# proxy that inspects HTTPS), as a Pi behind the same proxy would be set up to.
trust_host_authorities() {
    local ca bundle="$ROOT/etc/ssl/certs/ca-certificates.crt"
    for ca in /usr/local/share/ca-certificates/*.crt; do
        [[ -f "$ca" ]] || continue
        install -D -m 0644 "$ca" "$ROOT/usr/local/share/ca-certificates/$(basename "$ca")"
        grep -qF "$(sed -n 2p "$ca")" "$bundle" || cat "$ca" >>"$bundle"
    done
}

in_root() {
    # pip checks certificates with its own bundle unless told to use the system's.
    chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
        ${http_proxy:+http_proxy=$http_proxy} ${https_proxy:+https_proxy=$https_proxy} \
        ${no_proxy:+no_proxy=$no_proxy} \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

install_gate() {
    step "systemd/install.sh --role gate (real mode, inside the arm64 root)"
    in_root uname -m | grep -qx aarch64 || die "the root does not run as aarch64"
    in_root bash "$SRC/systemd/install.sh" --role gate --site jinan --gate-id jinan-gate
    step "installed Python packages (aarch64 wheels)"
    in_root /opt/kiosk/venv/bin/python -c '
import platform, importlib.metadata as m
print("python", platform.python_version(), platform.machine())
for name in ("opencv-python-headless", "numpy", "zxing-cpp", "cryptography", "pyzbar", "gpiozero", "flask"):
    print(name, m.version(name))'
}

run_gate() {
    step "kiosk doctor on the installed gate (as the kiosk user)"
    in_root runuser -u kiosk -- /opt/kiosk/venv/bin/kiosk --lang en --home /var/lib/kiosk doctor \
        --camera-timeout 5 || echo "(doctor found problems: expected in a chroot without devices)"
    step "kiosk demo --once"
    in_root /opt/kiosk/venv/bin/kiosk --lang en --home /tmp/demo-data demo --once
}

run_tests() {
    step "tests/core and tests/hardware inside the arm64 root"
    # What the tests need beyond the gate (the Makefile's TEST_SYSTEM_PACKAGES): the office's
    # PDF font and pdftoppm for the pass-card tests.
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        fonts-noto-cjk poppler-utils
    in_root /opt/kiosk/venv/bin/pip install --quiet --disable-pip-version-check \
        "pytest>=8" "pytest-timeout>=2.3" "hypothesis>=6.100"
    in_root sh -c "cd $SRC && /opt/kiosk/venv/bin/python -m pytest -W error -p no:cacheprovider -q \
        -o addopts='-ra --strict-markers' tests/core tests/hardware"
}

main() {
    host_packages
    enable_binfmt
    base_tarball
    fresh_root
    install_gate
    run_gate
    run_tests
    unmount_all
    step "make test-arm64 passed"
}

main "$@"
