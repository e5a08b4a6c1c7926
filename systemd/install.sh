#!/usr/bin/env bash
# Install the gate checkpoint kiosk as systemd services.
#
#   sudo systemd/install.sh --role gate     # Raspberry Pi at the gate
#   sudo systemd/install.sh --role office   # office PC that pulls gate events
#
# Targets Raspberry Pi OS Bookworm/Trixie (Debian 12/13) and plain Debian 12/13.
# Architectures (`uname -m`):
#   aarch64  Raspberry Pi OS 64-bit (Pi 3/4/5, Zero 2 W): the recommended
#            image; PyPI has manylinux aarch64 wheels for opencv, numpy,
#            cryptography, zxing-cpp, so pip installs in a few minutes.
#   armv7l   Raspberry Pi OS 32-bit (armhf): works, wheels come from piwheels
#            (Raspberry Pi OS sets it up in /etc/pip.conf); slower.
#   armv6l   Pi 1 / Zero (W): not supported (no opencv wheels, too slow).
#   x86_64   plain Debian, e.g. the office PC or a test VM: no raspi-config,
#            no python3-lgpio / python3-picamera2 packages (skipped).
#
# Every step checks the current state first and prints one line:
#   ok: ...    already as wanted, nothing done
#   skip: ...  not applicable here (e.g. no raspi-config on plain Debian)
#   would: ... --dry-run: the exact command that a real run would execute
#   run: ...   the exact command being executed now
# so a second run prints only ok:/skip: lines.
#
# Options:
#   --role gate|office   what to install (required)
#   --dry-run            print the actions, change nothing
#   --prefix DIR         program folder (default /opt/kiosk; venv in DIR/venv)
#   --data DIR           data folder, KIOSK_HOME (default /var/lib/kiosk)
#   --source DIR         project checkout to install (default: this script's
#                        parent folder)
#   --site ID            compound (site) id for the first `kiosk init`, e.g. jinan
#                        (required on the first install; an office may list
#                        several, comma-separated)
#   --gate-id ID         gate: this gate's id for the first `kiosk init`
#   --office-host HOST   gate: the office PC, its preferred NTP server (chrony;
#                        the distribution's public pool stays for when it is
#                        reachable).  An office serves NTP to the private LAN.
#   --desktop-user NAME  gate: user whose desktop session shows the touchscreen
#                        page (default: LightDM autologin user, else $SUDO_USER,
#                        else the user with UID 1000)
#   --no-pip             do not pip-install the project into the venv (tests,
#                        or re-running without network); uses the kiosk
#                        command already in the venv, if any
#   --root DIR           install the files below DIR instead of / (tests,
#                        image building): no systemctl calls, units are
#                        enabled by creating the WantedBy symlinks, and the
#                        machine-wide steps (apt-get, raspi-config, groups,
#                        user, chown) are skipped unless
#                        KIOSK_INSTALL_HOST_STEPS=1 (the tests set it together
#                        with stub commands on PATH)
# Environment:
#   KIOSK_INSTALL_PYTHON   interpreter that creates the venv (default python3)
#   KIOSK_INSTALL_SYSTEMD_RUNNING  1 or 0: whether systemd runs here (default:
#                        detected from /run/systemd/system); without it (a
#                        chroot, an image build) units are enabled by their
#                        symlinks and nothing is started
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly KIOSK_USER=kiosk
readonly DEFAULT_PREFIX=/opt/kiosk
readonly DEFAULT_DATA=/var/lib/kiosk
# Groups of the gate's hardware: /dev/gpiochip*, /dev/i2c-*, /dev/video*,
# input devices (HID readers), serial adapters.  kiosk-gate.service lists them
# in SupplementaryGroups=, so they must exist for the unit to start.
readonly GATE_GROUPS=(gpio i2c video input dialout audio)
readonly BASE_PACKAGES=(libzbar0 python3-venv i2c-tools chrony)
# The lane's spoken prompts: made by espeak-ng, played by aplay ([voice] in kiosk.toml).
readonly GATE_PACKAGES=(espeak-ng alsa-utils)
# Only in Raspberry Pi OS's archive: installed when apt offers them.
readonly OPTIONAL_BASE_PACKAGES=(python3-lgpio)
readonly OPTIONAL_GATE_PACKAGES=(python3-picamera2)
# Debian calls the browser chromium; older Raspberry Pi OS chromium-browser.
readonly BROWSER_PACKAGES=(chromium chromium-browser)

ROLE=""
DRY_RUN=0
PREFIX="$DEFAULT_PREFIX"
DATA="$DEFAULT_DATA"
SOURCE="$(dirname "$SCRIPT_DIR")"
ROOT=""
NO_PIP=0
DESKTOP_USER=""
SITE=""
GATE_ID=""
OFFICE_HOST=""
HOST_STEPS=1
PYTHON="${KIOSK_INSTALL_PYTHON:-python3}"
UNITS_CHANGED=0
PLANNED_DIRS=""
DISPLAY_UNIT=0
CODE_CHANGED=0

usage() {
    sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"
}

die() {
    echo "error: $*" >&2
    exit 1
}

say() {
    echo "$1: $2"
}

# act CMD ARGS...: print the command, run it unless --dry-run.
act() {
    local line
    line="$(printf '%q ' "$@")"
    line="${line% }"
    if ((DRY_RUN)); then
        say would "$line"
    else
        say run "$line"
        "$@"
    fi
}

parse_args() {
    while (($#)); do
        case "$1" in
            --role) ROLE="${2:-}"; shift 2 ;;
            --role=*) ROLE="${1#*=}"; shift ;;
            --dry-run) DRY_RUN=1; shift ;;
            --prefix) PREFIX="${2:-}"; shift 2 ;;
            --prefix=*) PREFIX="${1#*=}"; shift ;;
            --data) DATA="${2:-}"; shift 2 ;;
            --data=*) DATA="${1#*=}"; shift ;;
            --source) SOURCE="${2:-}"; shift 2 ;;
            --source=*) SOURCE="${1#*=}"; shift ;;
            --root) ROOT="${2:-}"; shift 2 ;;
            --root=*) ROOT="${1#*=}"; shift ;;
            --desktop-user) DESKTOP_USER="${2:-}"; shift 2 ;;
            --desktop-user=*) DESKTOP_USER="${1#*=}"; shift ;;
            --site) SITE="${2:-}"; shift 2 ;;
            --site=*) SITE="${1#*=}"; shift ;;
            --gate-id) GATE_ID="${2:-}"; shift 2 ;;
            --gate-id=*) GATE_ID="${1#*=}"; shift ;;
            --office-host) OFFICE_HOST="${2:-}"; shift 2 ;;
            --office-host=*) OFFICE_HOST="${1#*=}"; shift ;;
            --no-pip) NO_PIP=1; shift ;;
            -h|--help) usage; exit 0 ;;
            *) die "unknown option: $1 (see --help)" ;;
        esac
    done
    case "$ROLE" in
        gate|office) ;;
        *) die "--role gate|office is required" ;;
    esac
    [[ "$PREFIX" == /* && "$DATA" == /* ]] || die "--prefix and --data must be absolute paths"
    [[ -f "$SOURCE/pyproject.toml" ]] || die "--source $SOURCE has no pyproject.toml"
    SOURCE="$(cd "$SOURCE" && pwd)"
    if [[ -n "$ROOT" ]]; then
        [[ "$ROOT" == /* ]] || die "--root must be an absolute path"
        ROOT="${ROOT%/}"
        [[ "${KIOSK_INSTALL_HOST_STEPS:-0}" == 1 ]] || HOST_STEPS=0
    fi
    if ((!DRY_RUN)) && [[ -z "$ROOT" ]] && ((EUID != 0)); then
        die "run as root (sudo $0 ...), or add --dry-run"
    fi
}

# --- system packages ------------------------------------------------------

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

is_available() {
    local candidate
    candidate="$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p')"
    [[ -n "$candidate" && "$candidate" != "(none)" ]]
}

first_available() {
    local pkg
    for pkg in "$@"; do
        if is_available "$pkg"; then
            echo "$pkg"
            return 0
        fi
    done
    return 1
}

step_packages() {
    if ((!HOST_STEPS)); then
        say skip "apt-get install (--root)"
        return
    fi
    local required=("${BASE_PACKAGES[@]}") optional=("${OPTIONAL_BASE_PACKAGES[@]}")
    local want_browser=0 missing=() pkg browser
    if [[ "$ROLE" == gate ]]; then
        required+=("${GATE_PACKAGES[@]}")
        optional+=("${OPTIONAL_GATE_PACKAGES[@]}")
        want_browser=1
        for pkg in "${BROWSER_PACKAGES[@]}"; do
            if is_installed "$pkg"; then want_browser=0; fi
        done
    fi
    for pkg in "${required[@]}" "${optional[@]}"; do
        is_installed "$pkg" || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0 && !want_browser)); then
        say ok "system packages installed"
        return
    fi
    # An optional package missing from the apt lists (python3-lgpio on plain
    # Debian) is skipped without an `apt-get update`, so a second run stays
    # quiet; lists are refreshed only before installing something.
    local install=() updated=0 need_update="$want_browser"
    for pkg in "${missing[@]}"; do
        if [[ " ${required[*]} " == *" $pkg "* ]]; then need_update=1; fi
    done
    if ((need_update)); then
        act apt-get update -qq
        updated=1
    fi
    for pkg in "${missing[@]}"; do
        if is_available "$pkg"; then
            install+=("$pkg")
        elif [[ " ${required[*]} " == *" $pkg "* ]]; then
            die "package $pkg is not available from apt on this machine"
        else
            say skip "$pkg (not in this machine's apt sources: Raspberry Pi OS only)"
        fi
    done
    if ((want_browser)); then
        browser="$(first_available "${BROWSER_PACKAGES[@]}")" \
            || die "neither chromium nor chromium-browser is available from apt"
        install+=("$browser")
    fi
    if ((${#install[@]})); then
        ((updated)) || act apt-get update -qq
        act env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${install[@]}"
    else
        say ok "system packages installed"
    fi
}

# --- time: the office is the LAN's NTP server, gates use it ----------------

# chrony_conf: this role's /etc/chrony/conf.d/kiosk.conf (docs/resilience.md).
chrony_conf() {
    echo "# Written by install.sh --role $ROLE (docs/resilience.md, \"Time on the LAN\")."
    if [[ "$ROLE" == office ]]; then
        echo "# The LAN's time source, also while the internet is down."
        printf 'allow %s\n' 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16
        echo "local stratum 10"
    else
        if [[ -n "$OFFICE_HOST" ]]; then
            echo "server $OFFICE_HOST iburst prefer"
        else
            echo "# no --office-host: the distribution's pool only"
        fi
        echo "# a Pi without battery clock may boot days off: step whenever 10 s off"
        echo "makestep 10 -1"
    fi
}

step_chrony() {
    local conf
    conf="$(mktemp)"
    chrony_conf >"$conf"
    if install_file "$conf" "$ROOT/etc/chrony/conf.d/kiosk.conf" 0644 "<chrony $ROLE>"; then
        if systemd_offline; then
            say skip "systemctl restart chrony ($(offline_reason))"
        else
            act systemctl restart chrony
        fi
    fi
    rm -f "$conf"
}

# --- Raspberry Pi: I2C for the MLX90614 thermometer -----------------------

step_i2c() {
    if [[ "$ROLE" != gate ]]; then
        return
    fi
    if ((!HOST_STEPS)); then
        say skip "enable I2C (--root)"
    elif ! command -v raspi-config >/dev/null 2>&1; then
        say skip "enable I2C (no raspi-config: not Raspberry Pi OS)"
    elif [[ "$(raspi-config nonint get_i2c)" == 0 ]]; then
        say ok "I2C enabled"
    else
        act raspi-config nonint do_i2c 0
    fi
}

# --- groups and the kiosk system user -------------------------------------

group_exists() {
    getent group "$1" >/dev/null
}

user_in_group() {
    getent group "$2" | cut -d: -f4 | tr ',' '\n' | grep -qx "$1"
}

step_groups() {
    [[ "$ROLE" == gate ]] || return 0
    if ((!HOST_STEPS)); then
        say skip "hardware groups (--root)"
        return
    fi
    local group
    for group in "${GATE_GROUPS[@]}"; do
        if group_exists "$group"; then
            say ok "group $group exists"
        else
            act groupadd --system "$group"
        fi
    done
}

step_user() {
    if ((!HOST_STEPS)); then
        say skip "system user $KIOSK_USER (--root)"
        return
    fi
    if getent passwd "$KIOSK_USER" >/dev/null; then
        say ok "system user $KIOSK_USER exists"
    else
        act useradd --system --user-group --home-dir "$DATA" --no-create-home \
            --shell /usr/sbin/nologin --comment gate-kiosk "$KIOSK_USER"
    fi
    [[ "$ROLE" == gate ]] || return 0
    local group
    for group in "${GATE_GROUPS[@]}"; do
        if user_in_group "$KIOSK_USER" "$group"; then
            say ok "$KIOSK_USER in group $group"
        else
            act usermod --append --groups "$group" "$KIOSK_USER"
        fi
    done
}

# --- program folder, venv, project ------------------------------------------

step_prefix() {
    if [[ -d "$ROOT$PREFIX" ]]; then
        say ok "$ROOT$PREFIX exists"
    else
        act install -d -m 0755 "$ROOT$PREFIX"
    fi
}

step_venv() {
    local venv="$ROOT$PREFIX/venv"
    # --system-site-packages: the venv sees Raspberry Pi OS's python3-lgpio
    # and python3-picamera2 (compiled against the Pi's libcamera), which pip
    # cannot install.
    if grep -qx 'include-system-site-packages = true' "$venv/pyvenv.cfg" 2>/dev/null; then
        say ok "venv $venv"
    else
        act "$PYTHON" -m venv --system-site-packages "$venv"
        CODE_CHANGED=1
    fi
}

# Identity of the checkout: commit plus uncommitted changes.  Empty when the
# source is not a git checkout (then pip always runs).
source_stamp() {
    command -v git >/dev/null 2>&1 || return 0
    local git=(git -c "safe.directory=$SOURCE" -C "$SOURCE")
    "${git[@]}" rev-parse --is-inside-work-tree >/dev/null 2>&1 || return 0
    {
        "${git[@]}" rev-parse HEAD
        "${git[@]}" diff HEAD
        "${git[@]}" status --porcelain
    } | sha256sum | cut -d' ' -f1
}

# pip builds in a copy of the checkout so no root-owned build/ or egg-info
# folders end up in the user's clone.
pip_install_copy() {
    local pip="$1" copy
    copy="$(mktemp -d)"
    tar -C "$SOURCE" --exclude=.git --exclude=.venv --exclude=demo-data \
        --exclude=build --exclude='*.egg-info' -cf - . | tar -C "$copy" -xf -
    "$pip" install --quiet --disable-pip-version-check --upgrade "$copy"
    rm -rf "$copy"
}

step_pip() {
    local stamp_file="$ROOT$PREFIX/.installed-source" stamp
    if ((NO_PIP)); then
        say skip "pip install $SOURCE (--no-pip)"
        return
    fi
    stamp="$(source_stamp)"
    if [[ -n "$stamp" && -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp" ]]; then
        say ok "project installed from $SOURCE"
        return
    fi
    local pip="$ROOT$PREFIX/venv/bin/pip"
    if ((DRY_RUN)); then
        say would "$pip install --upgrade $SOURCE"
    else
        say run "$pip install --upgrade $SOURCE"
        pip_install_copy "$pip"
    fi
    if [[ -n "$stamp" ]]; then
        ((DRY_RUN)) || printf '%s\n' "$stamp" >"$stamp_file"
    fi
    CODE_CHANGED=1
}

# install_file SRC DEST MODE [SHOWN]: copy when missing or different.  SHOWN
# names SRC in the printed line when SRC is a temporary rendering.  Returns 0
# when it (would have) changed the file.
install_file() {
    local src="$1" dest="$2" mode="$3" shown="${4:-$1}"
    if [[ -f "$dest" ]] && cmp -s "$src" "$dest" \
        && [[ "$(stat -c %a "$dest")" == "${mode#0}" ]]; then
        say ok "$dest"
        return 1
    fi
    if ((DRY_RUN)); then
        say would "install -D -m $mode $shown $dest"
    else
        say run "install -D -m $mode $shown $dest"
        install -D -m "$mode" "$src" "$dest"
    fi
    return 0
}

step_launcher() {
    [[ "$ROLE" == gate ]] || return 0
    if install_file "$SCRIPT_DIR/kiosk-display-launch" "$ROOT$PREFIX/bin/kiosk-display-launch" 0755; then
        UNITS_CHANGED=1
    fi
}

# --- data folder ------------------------------------------------------------

step_data() {
    local dir="$ROOT$DATA" owner
    if [[ -d "$dir" ]]; then
        say ok "$dir exists"
    else
        act install -d -m 0700 "$dir"
    fi
    if [[ -d "$dir" && "$(stat -c %a "$dir")" == 700 ]]; then
        say ok "$dir mode 0700"
    elif [[ -d "$dir" ]]; then
        act chmod 0700 "$dir"
    fi
    if [[ -n "$ROOT" ]]; then
        say skip "chown $KIOSK_USER:$KIOSK_USER $dir (--root)"
        return
    fi
    owner="$(stat -c %U:%G "$dir" 2>/dev/null || true)"
    if [[ "$owner" == "$KIOSK_USER:$KIOSK_USER" ]]; then
        say ok "$dir owned by $KIOSK_USER"
    else
        act chown "$KIOSK_USER:$KIOSK_USER" "$dir"
    fi
}

step_init() {
    local kiosk="$ROOT$PREFIX/venv/bin/kiosk"
    if [[ -f "$ROOT$DATA/kiosk.toml" ]]; then
        say ok "$ROOT$DATA/kiosk.toml exists"
        return
    fi
    if ((NO_PIP)) && [[ ! -x "$kiosk" ]]; then
        say skip "kiosk init (no $kiosk; --no-pip)"
        return
    fi
    local -a init_args
    mapfile -t init_args < <(init_arguments)
    if [[ -n "$ROOT" ]]; then
        # No kiosk user inside a --root tree: run as the caller.
        act env "KIOSK_HOME=$ROOT$DATA" "$kiosk" --home "$ROOT$DATA" "${init_args[@]}"
    else
        act runuser -u "$KIOSK_USER" -- env "KIOSK_HOME=$DATA" "$kiosk" --home "$DATA" "${init_args[@]}"
    fi
}

# init_arguments: the `kiosk` arguments that create the data folder, one a line.
init_arguments() {
    [[ -n "$SITE" ]] || die "the first install needs --site (and --gate-id for a gate)"
    if [[ "$ROLE" == gate ]]; then
        [[ -n "$GATE_ID" ]] || die "the first install of a gate needs --gate-id"
        printf '%s\n' init --site "$SITE" --gate-id "$GATE_ID"
    else
        printf '%s\n' office init
        local site
        IFS=, read -ra sites <<<"$SITE"
        for site in "${sites[@]}"; do printf '%s\n' --site "$site"; done
    fi
}

# --- units ------------------------------------------------------------------

role_system_units() {
    case "$ROLE" in
        gate) echo kiosk-gate.service kiosk-web.service ;;
        office) echo kiosk-office-pull.service kiosk-office-pull.timer ;;
    esac
}

# Units to enable and start (the timer starts the pull service).
role_enabled_units() {
    case "$ROLE" in
        gate) echo kiosk-gate.service kiosk-web.service ;;
        office) echo kiosk-office-pull.timer ;;
    esac
}

# render_unit NAME: the unit with --prefix/--data substituted, as a temp file.
render_unit() {
    local out
    out="$(mktemp)"
    sed -e "s|/opt/kiosk|$PREFIX|g" -e "s|/var/lib/kiosk|$DATA|g" \
        "$SCRIPT_DIR/$1" >"$out"
    echo "$out"
}

install_unit() {
    local name="$1" dest="$2" rendered
    rendered="$(render_unit "$name")"
    if install_file "$rendered" "$dest" 0644 "$SCRIPT_DIR/$name"; then
        UNITS_CHANGED=1
    fi
    rm -f "$rendered"
}

find_desktop_user() {
    local conf="$ROOT/etc/lightdm/lightdm.conf" name=""
    if [[ -n "$DESKTOP_USER" ]]; then
        echo "$DESKTOP_USER"
        return
    fi
    if [[ -f "$conf" ]]; then
        name="$(sed -n 's/^autologin-user=//p' "$conf" | tail -n 1)"
    fi
    if [[ -z "$name" && -n "${SUDO_USER:-}" && "${SUDO_USER}" != root ]]; then
        name="$SUDO_USER"
    fi
    if [[ -z "$name" ]]; then
        name="$(getent passwd 1000 | cut -d: -f1 || true)"
    fi
    echo "$name"
}

step_units() {
    local name
    for name in $(role_system_units); do
        install_unit "$name" "$ROOT/etc/systemd/system/$name"
    done
}

step_display_unit() {
    [[ "$ROLE" == gate ]] || return 0
    local user dropin
    user="$(find_desktop_user)"
    if [[ -z "$user" ]]; then
        say skip "kiosk-display.service (no desktop user found: pass --desktop-user NAME)"
        return
    fi
    DISPLAY_UNIT=1
    install_unit kiosk-display.service "$ROOT/etc/systemd/user/kiosk-display.service"
    dropin="$(mktemp)"
    printf '# Written by install.sh: only the desktop user runs the touchscreen browser.\n[Unit]\nConditionUser=%s\n' \
        "$user" >"$dropin"
    if install_file "$dropin" "$ROOT/etc/systemd/user/kiosk-display.service.d/user.conf" 0644 "<ConditionUser=$user>"; then
        UNITS_CHANGED=1
    fi
    rm -f "$dropin"
}

# systemd_offline: true with --root or when systemd is not running (a chroot such as
# `make test-arm64`, an image build): units are then enabled by their symlinks and
# nothing is started.
systemd_offline() {
    [[ -n "$ROOT" ]] && return 0
    case "${KIOSK_INSTALL_SYSTEMD_RUNNING:-auto}" in
        1) return 1 ;;
        0) return 0 ;;
        *) [[ ! -d /run/systemd/system ]] ;;
    esac
}

offline_reason() {
    if [[ -n "$ROOT" ]]; then echo "--root"; else echo "systemd is not running here: chroot or image build"; fi
}

step_daemon_reload() {
    if systemd_offline; then
        say skip "systemctl daemon-reload ($(offline_reason))"
    elif ((UNITS_CHANGED)); then
        act systemctl daemon-reload
    else
        say ok "units unchanged, no daemon-reload"
    fi
}

wanted_by() {
    sed -n 's/^WantedBy=//p' "$1"
}

# ensure_dir DIR: create DIR once (also only printed once in a dry run).
ensure_dir() {
    if [[ -d "$1" || " $PLANNED_DIRS " == *" $1 "* ]]; then
        return
    fi
    act install -d -m 0755 "$1"
    PLANNED_DIRS+=" $1"
}

# enable_unit SCOPE NAME: SCOPE is system or user (global user unit).
enable_unit() {
    local scope="$1" name="$2" dir target link
    dir="$ROOT/etc/systemd/$scope"
    if systemd_offline; then
        # What `systemctl enable` does, without systemctl.
        for target in $(wanted_by "$SCRIPT_DIR/$name"); do
            link="$dir/$target.wants/$name"
            if [[ "$(readlink "$link" 2>/dev/null)" == "/etc/systemd/$scope/$name" ]]; then
                say ok "$link"
            else
                ensure_dir "$dir/$target.wants"
                act ln -sfn "/etc/systemd/$scope/$name" "$link"
            fi
        done
        return
    fi
    local ctl=(systemctl)
    [[ "$scope" == user ]] && ctl+=(--global)
    if "${ctl[@]}" is-enabled --quiet "$name" 2>/dev/null; then
        say ok "$name enabled"
    else
        act "${ctl[@]}" enable "$name"
    fi
}

step_enable() {
    local name
    for name in $(role_enabled_units); do
        enable_unit system "$name"
    done
    if ((DISPLAY_UNIT)); then
        enable_unit user kiosk-display.service
    fi
}

step_start() {
    local name
    if systemd_offline; then
        say skip "systemctl start ($(offline_reason))"
        return
    fi
    for name in $(role_enabled_units); do
        if ! systemctl is-active --quiet "$name" 2>/dev/null; then
            act systemctl start "$name"
        elif ((UNITS_CHANGED || CODE_CHANGED)); then
            act systemctl restart "$name"
        else
            say ok "$name active"
        fi
    done
    if ((DISPLAY_UNIT)); then
        say skip "start kiosk-display.service (user unit: starts with the desktop session after a reboot)"
    fi
}

report_machine() {
    local arch
    arch="$(uname -m)"
    case "$arch" in
        aarch64) say ok "machine $arch (arm64)" ;;
        armv7l) say ok "machine $arch (armhf, 32-bit: pip uses piwheels, slower)" ;;
        x86_64) say ok "machine $arch (amd64)" ;;
        *) echo "warning: machine $arch is untested (use 64-bit Raspberry Pi OS)" >&2 ;;
    esac
}

main() {
    parse_args "$@"
    report_machine
    step_packages
    step_chrony
    step_i2c
    step_groups
    step_user
    step_prefix
    step_venv
    step_pip
    step_launcher
    step_data
    step_init
    step_units
    step_display_unit
    step_daemon_reload
    step_enable
    step_start
}

main "$@"
