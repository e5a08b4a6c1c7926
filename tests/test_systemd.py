"""systemd units and systemd/install.sh, checked by running the real tools.

* Every unit goes through the real `systemd-analyze verify` (Debian package
  `systemd`).  verify also checks that ExecStart= binaries exist, so each unit
  is verified as a copy whose /opt/kiosk/ paths point into a temporary folder
  holding executable stand-ins; everything else is verified as shipped.  verify
  exits 0 on unknown keys or unparsable values (it only warns), so a unit
  passes only with exit status 0 AND no output at all.  Broken copies prove
  the check fails.
* install.sh runs for real, with --root in a temporary folder and stub
  apt-get/dpkg-query/apt-cache/getent/useradd/groupadd/usermod/raspi-config/
  systemctl/runuser commands first on PATH that keep a fake machine state
  and log every call.
* shellcheck (Debian package `shellcheck`) checks the shell scripts.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SYSTEMD_DIR = REPO / "systemd"
INSTALL = SYSTEMD_DIR / "install.sh"
SYSTEM_UNITS = [
    "kiosk-gate.service",
    "kiosk-web.service",
    "kiosk-office-pull.service",
    "kiosk-office-pull.timer",
]
USER_UNITS = ["kiosk-display.service"]
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ReadWritePaths": "/var/lib/kiosk",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "RestrictRealtime": "yes",
    "SystemCallArchitectures": "native",
    "UMask": "0077",
}


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} not found: apt-get install {package} (make test does it)")
    return path


# --- unit files ---------------------------------------------------------------


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> values (systemd allows repeated keys)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        assert current is not None, f"{path.name}: {raw!r} outside a section"
        current.setdefault(key, []).append(value)
    return sections


def one(unit: dict, section: str, key: str) -> str:
    values = unit[section][key]
    assert len(values) == 1, (section, key, values)
    return values[0]


def verify(units: list[Path], workdir: Path, user: bool = False) -> tuple[int, str]:
    """Run systemd-analyze verify on copies of `units` with /opt/kiosk/ moved
    into `workdir`, where the referenced executables exist as stand-ins."""
    analyze = need("systemd-analyze", "systemd")
    fake_prefix = workdir / "opt" / "kiosk"
    for exe in ("venv/bin/kiosk", "bin/kiosk-display-launch"):
        target = fake_prefix / exe
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("#!/bin/sh\nexit 0\n")
        target.chmod(0o755)
    copies = workdir / "units"
    copies.mkdir(exist_ok=True)
    names = []
    for unit in units:
        text = unit.read_text().replace("/opt/kiosk/", f"{fake_prefix}/")
        (copies / unit.name).write_text(text)
        names.append(unit.name)
    env = dict(os.environ, SYSTEMD_LOG_COLOR="0", SYSTEMD_PAGER="")
    cmd = [analyze, *(["--user"] if user else []), "verify", "--man=no", "--generators=no", *names]
    # The user manager wants a runtime directory of its own, with a short path: sockets go under it
    # (gpg-agent's), a socket's path has at most 107 bytes and pytest-xdist's tmp_path is longer.
    with tempfile.TemporaryDirectory(prefix="xdg-") as runtime:
        if user:
            env["XDG_RUNTIME_DIR"] = runtime
        proc = subprocess.run(cmd, cwd=copies, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def assert_verifies(units: list[Path], workdir: Path, user: bool = False) -> None:
    rc, output = verify(units, workdir, user)
    assert (rc, output) == (0, ""), f"systemd-analyze verify: rc={rc}\n{output}"


@pytest.mark.parametrize(
    "names",
    [["kiosk-gate.service"], ["kiosk-web.service"], ["kiosk-office-pull.service", "kiosk-office-pull.timer"]],
    ids=lambda names: names[-1],
)
def test_system_units_pass_systemd_analyze_verify(names, tmp_path):
    assert_verifies([SYSTEMD_DIR / n for n in names], tmp_path)


def test_display_user_unit_passes_systemd_analyze_verify(tmp_path):
    assert_verifies([SYSTEMD_DIR / "kiosk-display.service"], tmp_path, user=True)


def test_every_unit_in_the_folder_is_covered():
    shipped = sorted(p.name for p in SYSTEMD_DIR.iterdir() if p.suffix in {".service", ".timer"})
    assert shipped == sorted(SYSTEM_UNITS + USER_UNITS)


def break_unit(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = (SYSTEMD_DIR / name).read_text()
    old, new = f"\n{old}\n", f"\n{new}\n"  # a whole setting line, not a comment
    assert text.count(old) == 1
    broken = tmp_path / "broken" / name
    broken.parent.mkdir()
    broken.write_text(text.replace(old, new))
    return broken


def test_verify_fails_on_missing_executable(tmp_path):
    broken = break_unit(
        tmp_path, "kiosk-gate.service", "ExecStart=/opt/kiosk/venv/bin/kiosk run", "ExecStart=/opt/kiosk/venv/bin/no-such-kiosk run"
    )
    rc, output = verify([broken], tmp_path / "w")
    assert rc != 0
    assert "no-such-kiosk is not executable: No such file or directory" in output


def test_verify_flags_misspelled_key(tmp_path):
    broken = break_unit(tmp_path, "kiosk-web.service", "RestartSec=2", "RestartSecs=2")
    rc, output = verify([broken], tmp_path / "w")
    # systemd only warns (rc 0): the empty-output rule is what catches it.
    assert rc == 0
    assert "Unknown key 'RestartSecs' in section [Service], ignoring." in output


def test_verify_flags_bad_value_in_user_unit(tmp_path):
    broken = break_unit(tmp_path, "kiosk-display.service", "Restart=always", "Restart=forever")
    rc, output = verify([broken], tmp_path / "w", user=True)
    assert "Failed to parse service restart specifier, ignoring: forever" in output
    with pytest.raises(AssertionError):
        assert_verifies([broken], tmp_path / "w2", user=True)


def test_verify_flags_bad_timer_calendar(tmp_path):
    broken = break_unit(tmp_path, "kiosk-office-pull.timer", "OnCalendar=*:0/5", "OnCalendar=every five minutes")
    (tmp_path / "broken" / "kiosk-office-pull.service").write_text((SYSTEMD_DIR / "kiosk-office-pull.service").read_text())
    with pytest.raises(AssertionError, match="every five minutes"):
        assert_verifies([broken, tmp_path / "broken" / "kiosk-office-pull.service"], tmp_path / "w")


def test_gate_unit_settings():
    unit = parse_unit(SYSTEMD_DIR / "kiosk-gate.service")
    service = unit["Service"]
    expected = {
        "Type": "notify",
        "WatchdogSec": "30",
        "NotifyAccess": "main",
        "Restart": "always",
        "RestartSec": "2",
        "User": "kiosk",
        "Group": "kiosk",
        "SupplementaryGroups": "gpio i2c video input dialout audio",
        "ExecStart": "/opt/kiosk/venv/bin/kiosk run",
        **HARDENING,
    }
    assert {k: one(unit, "Service", k) for k in expected} == expected
    assert "KIOSK_HOME=/var/lib/kiosk" in service["Environment"]
    # The camera, GPIO and I2C devices must stay visible.
    assert "PrivateDevices" not in service and "DevicePolicy" not in service
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


def test_web_and_office_unit_settings():
    web = parse_unit(SYSTEMD_DIR / "kiosk-web.service")
    pull = parse_unit(SYSTEMD_DIR / "kiosk-office-pull.service")
    assert one(web, "Service", "ExecStart") == ("/opt/kiosk/venv/bin/kiosk serve --host 127.0.0.1 --port 8000 "
                                                "--tls-host 0.0.0.0 --tls-port 8443")  # plain HTTP on loopback only
    assert one(web, "Service", "Restart") == "always"
    assert one(pull, "Service", "ExecStart") == "/opt/kiosk/venv/bin/kiosk office pull"
    assert one(pull, "Service", "Type") == "oneshot"
    for unit in (web, pull):
        assert {k: one(unit, "Service", k) for k in HARDENING} == HARDENING
        assert one(unit, "Service", "PrivateDevices") == "yes"
        assert one(unit, "Service", "User") == "kiosk"
        assert "KIOSK_HOME=/var/lib/kiosk" in unit["Service"]["Environment"]
    timer = parse_unit(SYSTEMD_DIR / "kiosk-office-pull.timer")
    assert one(timer, "Timer", "OnCalendar") == "*:0/5"
    assert one(timer, "Timer", "Persistent") == "true"
    assert one(timer, "Timer", "Unit") == "kiosk-office-pull.service"
    assert one(timer, "Install", "WantedBy") == "timers.target"
    assert "Install" not in pull  # started by the timer only


def test_timer_fires_every_five_minutes():
    analyze = need("systemd-analyze", "systemd")
    proc = subprocess.run(
        [analyze, "calendar", "--iterations=3", "--base-time=2025-01-01 10:02:00 UTC", "*:0/5"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, TZ="UTC"),
    )
    assert proc.returncode == 0, proc.stderr
    times = re.findall(r"\d\d:\d\d:\d\d", proc.stdout.split("Next elapse:")[1])
    assert times[:3] == ["10:05:00", "10:10:00", "10:15:00"]


def test_display_unit_settings():
    unit = parse_unit(SYSTEMD_DIR / "kiosk-display.service")
    assert one(unit, "Service", "ExecStart") == "/opt/kiosk/bin/kiosk-display-launch"
    assert one(unit, "Service", "Restart") == "always"
    assert "KIOSK_URL=http://127.0.0.1:8000/" in unit["Service"]["Environment"]
    assert one(unit, "Install", "WantedBy") == "default.target"
    assert "User" not in unit["Service"]  # a user unit runs as its user


def test_shell_scripts_are_shellcheck_clean():
    shellcheck = need("shellcheck", "shellcheck")
    scripts = [INSTALL, SYSTEMD_DIR / "kiosk-display-launch", SYSTEMD_DIR.parent / "scripts" / "test-arm64.sh"]
    proc = subprocess.run([shellcheck, *map(str, scripts)], capture_output=True, text=True, timeout=300)
    assert (proc.returncode, proc.stdout) == (0, "")
    for script in scripts:
        assert script.stat().st_mode & 0o111, f"{script.name} not executable"
        assert script.read_text().startswith("#!/usr/bin/env bash\n")
        assert "set -euo pipefail" in script.read_text()


# --- install.sh with stub system commands ---------------------------------------

STUB = r"""#!/bin/bash
# Test stand-in for a system command: logs its call, keeps a fake machine state.
set -eu
name="$(basename "$0")"
echo "$name $*" >>"$STUB_LOG"
S="$STUB_STATE"
last="${!#}"
case "$name" in
    dpkg-query) grep -qx "$last" "$S/installed" && printf 'install ok installed' || exit 1 ;;
    apt-cache)
        if [ "$1" = policy ] && grep -qx "$last" "$S/available"; then
            printf '%s:\n  Installed: (none)\n  Candidate: 1.0\n' "$last"
        fi ;;
    apt-get)
        if [ "$1" = install ]; then
            for arg in "$@"; do
                case "$arg" in install|-*) ;; *) echo "$arg" >>"$S/installed" ;; esac
            done
        fi ;;
    getent)
        file="$S/$1"
        [ "$1" = passwd ] && [ "$2" -eq "$2" ] 2>/dev/null && field=3 || field=1
        awk -F: -v k="$2" -v f="$field" '$f == k {print; found=1} END {exit !found}' "$file" ;;
    groupadd) echo "$last:x:$((900 + $(wc -l <"$S/group"))):" >>"$S/group" ;;
    useradd)
        echo "$last:x:999:999::/nonexistent:/usr/sbin/nologin" >>"$S/passwd"
        echo "$last:x:999:" >>"$S/group" ;;
    usermod)
        group="$3"
        awk -F: -v OFS=: -v g="$group" -v u="$last" \
            '$1 == g {$4 = ($4 == "" ? u : $4 "," u)} {print}' "$S/group" >"$S/group.new"
        mv "$S/group.new" "$S/group" ;;
    raspi-config)
        case "$2" in
            get_i2c) cat "$S/i2c" ;;
            do_i2c) echo "$3" >"$S/i2c" ;;
        esac ;;
    systemctl|runuser) exit 3 ;;
esac
"""

FAKE_KIOSK = r"""#!/bin/sh
# Stand-in for the project's console script in the venv.
echo "kiosk $*" >>"$STUB_LOG"
[ "$1" = --home ] && { [ "$3" = init ] || [ "$4" = init ]; } && echo '# kiosk.toml' >"$2/kiosk.toml"
"""

SITE_ARGS = ["--site", "jinan", "--gate-id", "jinan-gate"]
GATE_INIT = "init --site jinan --gate-id jinan-gate"
OFFICE_INIT = "office init --site jinan"

STUB_COMMANDS = [
    "dpkg-query", "apt-cache", "apt-get", "getent", "groupadd", "useradd",
    "usermod", "systemctl", "runuser",
]
PI_PACKAGES = ["libzbar0", "python3-venv", "i2c-tools", "chrony", "espeak-ng", "alsa-utils", "python3-lgpio",
               "python3-picamera2", "chromium"]
DEBIAN_PACKAGES = ["libzbar0", "python3-venv", "i2c-tools", "chrony", "espeak-ng", "alsa-utils", "chromium",
                   "chromium-browser"]
MUTATING = re.compile(r"^(apt-get|groupadd|useradd|usermod|systemctl|runuser|raspi-config nonint do_|kiosk )")


class Machine:
    """A fake Raspberry Pi OS or plain Debian host for install.sh."""

    def __init__(self, tmp: Path, pi: bool):
        self.tmp = tmp
        self.bin = tmp / "stub-bin"
        self.state = tmp / "state"
        self.log = tmp / "calls.log"
        self.root = tmp / "root"
        for d in (self.bin, self.state, self.root):
            d.mkdir()
        stub = self.bin / "_stub"
        stub.write_text(STUB)
        stub.chmod(0o755)
        for name in STUB_COMMANDS + (["raspi-config"] if pi else []):
            (self.bin / name).symlink_to("_stub")
        self.log.write_text("")
        (self.state / "available").write_text("\n".join(PI_PACKAGES if pi else DEBIAN_PACKAGES) + "\n")
        (self.state / "installed").write_text("python3-venv\n")
        (self.state / "i2c").write_text("1\n")
        (self.state / "passwd").write_text("root:x:0:0::/root:/bin/bash\npi:x:1000:1000::/home/pi:/bin/bash\n")
        groups = ["root:x:0:", "video:x:44:pi", "input:x:105:", "dialout:x:20:pi", "audio:x:29:", "pi:x:1000:"]
        if pi:
            groups += ["gpio:x:997:pi", "i2c:x:998:pi"]
        (self.state / "group").write_text("\n".join(groups) + "\n")

    def env(self) -> dict[str, str]:
        return dict(
            os.environ,
            PATH=f"{self.bin}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            STUB_LOG=str(self.log),
            STUB_STATE=str(self.state),
            KIOSK_INSTALL_HOST_STEPS="1",
            KIOSK_INSTALL_SYSTEMD_RUNNING="1",  # the stub systemctl plays a running systemd
            KIOSK_INSTALL_PYTHON=sys.executable,
            LC_ALL="C",
        )

    def install(self, *args: str, root: bool = True) -> list[str]:
        cmd = [str(INSTALL), *args, *SITE_ARGS] + (["--root", str(self.root)] if root else [])
        proc = subprocess.run(cmd, env=self.env(), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{cmd}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        assert proc.stderr == ""
        return proc.stdout.splitlines()

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines()

    def place_fake_kiosk(self) -> None:
        """What pip would put into the venv: a `kiosk` command."""
        kiosk = self.root / "opt/kiosk/venv/bin/kiosk"
        kiosk.parent.mkdir(parents=True)
        kiosk.write_text(FAKE_KIOSK)
        kiosk.chmod(0o755)


def machine_line() -> str:
    arch = platform.machine()
    names = {"aarch64": "arm64", "x86_64": "amd64", "armv7l": "armhf, 32-bit: pip uses piwheels, slower"}
    return f"ok: machine {arch} ({names[arch]})"


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path below root with type, mode, and content hash or link target."""
    result = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if stat.S_ISLNK(st.st_mode):
            result[rel] = ("link", os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            result[rel] = ("dir", stat.S_IMODE(st.st_mode))
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            result[rel] = ("file", stat.S_IMODE(st.st_mode), digest, st.st_mtime_ns)
    return result


def gate_dry_run_lines(r: str, pip: bool = True) -> list[str]:
    s = str(SYSTEMD_DIR)
    sysd, user = f"{r}/etc/systemd/system", f"{r}/etc/systemd/user"
    return [
        machine_line(),
        "would: apt-get update -qq",
        "would: env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends"
        " libzbar0 i2c-tools chrony espeak-ng alsa-utils python3-lgpio python3-picamera2 chromium",
        f"would: install -D -m 0644 <chrony gate> {r}/etc/chrony/conf.d/kiosk.conf",
        "skip: systemctl restart chrony (--root)",
        "would: raspi-config nonint do_i2c 0",
        *[f"ok: group {g} exists" for g in ("gpio", "i2c", "video", "input", "dialout", "audio")],
        "would: useradd --system --user-group --home-dir /var/lib/kiosk --no-create-home"
        " --shell /usr/sbin/nologin --comment gate-kiosk kiosk",
        *[f"would: usermod --append --groups {g} kiosk" for g in ("gpio", "i2c", "video", "input", "dialout", "audio")],
        f"would: install -d -m 0755 {r}/opt/kiosk",
        f"would: {sys.executable} -m venv --system-site-packages {r}/opt/kiosk/venv",
        f"would: {r}/opt/kiosk/venv/bin/pip install --upgrade {REPO}" if pip else f"skip: pip install {REPO} (--no-pip)",
        f"would: install -D -m 0755 {s}/kiosk-display-launch {r}/opt/kiosk/bin/kiosk-display-launch",
        f"would: install -d -m 0700 {r}/var/lib/kiosk",
        f"skip: chown kiosk:kiosk {r}/var/lib/kiosk (--root)",
        f"would: env KIOSK_HOME={r}/var/lib/kiosk {r}/opt/kiosk/venv/bin/kiosk --home {r}/var/lib/kiosk {GATE_INIT}"
        if pip else f"skip: kiosk init (no {r}/opt/kiosk/venv/bin/kiosk; --no-pip)",
        f"would: install -D -m 0644 {s}/kiosk-gate.service {sysd}/kiosk-gate.service",
        f"would: install -D -m 0644 {s}/kiosk-web.service {sysd}/kiosk-web.service",
        f"would: install -D -m 0644 {s}/kiosk-display.service {user}/kiosk-display.service",
        f"would: install -D -m 0644 <ConditionUser=pi> {user}/kiosk-display.service.d/user.conf",
        "skip: systemctl daemon-reload (--root)",
        f"would: install -d -m 0755 {sysd}/multi-user.target.wants",
        f"would: ln -sfn /etc/systemd/system/kiosk-gate.service {sysd}/multi-user.target.wants/kiosk-gate.service",
        f"would: ln -sfn /etc/systemd/system/kiosk-web.service {sysd}/multi-user.target.wants/kiosk-web.service",
        f"would: install -d -m 0755 {user}/default.target.wants",
        f"would: ln -sfn /etc/systemd/user/kiosk-display.service {user}/default.target.wants/kiosk-display.service",
        "skip: systemctl start (--root)",
    ]


def test_dry_run_gate_on_raspberry_pi_os(tmp_path):
    m = Machine(tmp_path, pi=True)
    lines = m.install("--role", "gate", "--dry-run", "--desktop-user", "pi")
    assert lines == gate_dry_run_lines(str(m.root))
    assert list(m.root.iterdir()) == []
    assert [c for c in m.calls() if MUTATING.match(c)] == []


def test_dry_run_office_on_plain_debian_without_root(tmp_path):
    """Without --root: the real paths and systemctl lines (systemctl stubbed,
    queried read-only); --prefix/--data point at folders that do not exist."""
    m = Machine(tmp_path, pi=False)
    prefix, data = tmp_path / "opt-kiosk", tmp_path / "data"
    lines = m.install("--role", "office", "--dry-run", "--prefix", str(prefix), "--data", str(data), root=False)
    s = SYSTEMD_DIR
    assert lines == [
        machine_line(),
        "would: apt-get update -qq",
        "skip: python3-lgpio (not in this machine's apt sources: Raspberry Pi OS only)",
        "would: env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libzbar0 i2c-tools"
        " chrony",
        "would: install -D -m 0644 <chrony office> /etc/chrony/conf.d/kiosk.conf",
        "would: systemctl restart chrony",
        f"would: useradd --system --user-group --home-dir {data} --no-create-home"
        " --shell /usr/sbin/nologin --comment gate-kiosk kiosk",
        f"would: install -d -m 0755 {prefix}",
        f"would: {sys.executable} -m venv --system-site-packages {prefix}/venv",
        f"would: {prefix}/venv/bin/pip install --upgrade {REPO}",
        f"would: install -d -m 0700 {data}",
        f"would: chown kiosk:kiosk {data}",
        f"would: runuser -u kiosk -- env KIOSK_HOME={data} {prefix}/venv/bin/kiosk --home {data} {OFFICE_INIT}",
        f"would: install -D -m 0644 {s}/kiosk-office-pull.service /etc/systemd/system/kiosk-office-pull.service",
        f"would: install -D -m 0644 {s}/kiosk-office-pull.timer /etc/systemd/system/kiosk-office-pull.timer",
        "would: systemctl daemon-reload",
        "would: systemctl enable kiosk-office-pull.timer",
        "would: systemctl start kiosk-office-pull.timer",
    ]
    assert not prefix.exists() and not data.exists()
    assert [c for c in m.calls() if MUTATING.match(c) and not c.startswith("systemctl is-")] == []


def test_without_a_running_systemd_units_are_enabled_by_symlink_and_not_started(tmp_path, monkeypatch):
    """A chroot (make test-arm64) or an image build: no systemctl call at all."""
    m = Machine(tmp_path, pi=False)
    prefix, data = tmp_path / "opt-kiosk", tmp_path / "data"
    env = m.env()
    monkeypatch.setattr(m, "env", lambda: {**env, "KIOSK_INSTALL_SYSTEMD_RUNNING": "0"})
    lines = m.install("--role", "office", "--dry-run", "--prefix", str(prefix), "--data", str(data), root=False)
    wants = [] if Path("/etc/systemd/system/timers.target.wants").is_dir() else [
        "would: install -d -m 0755 /etc/systemd/system/timers.target.wants"]
    assert lines[-3 - len(wants):] == [
        "skip: systemctl daemon-reload (systemd is not running here: chroot or image build)",
        *wants,
        "would: ln -sfn /etc/systemd/system/kiosk-office-pull.timer "
        "/etc/systemd/system/timers.target.wants/kiosk-office-pull.timer",
        "skip: systemctl start (systemd is not running here: chroot or image build)",
    ]
    assert [c for c in m.calls() if c.startswith("systemctl")] == []


def test_gate_install_into_root_twice_changes_nothing_the_second_time(tmp_path):
    m = Machine(tmp_path, pi=True)
    m.place_fake_kiosk()
    r = m.root
    first = m.install("--role", "gate", "--no-pip", "--desktop-user", "pi")
    assert [line for line in first if line.startswith("would:")] == []
    first_calls = m.calls()
    assert [c for c in first_calls if MUTATING.match(c)] == [
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends libzbar0 i2c-tools chrony espeak-ng alsa-utils python3-lgpio python3-picamera2 chromium",
        "raspi-config nonint do_i2c 0",
        "useradd --system --user-group --home-dir /var/lib/kiosk --no-create-home"
        " --shell /usr/sbin/nologin --comment gate-kiosk kiosk",
        *[f"usermod --append --groups {g} kiosk" for g in ("gpio", "i2c", "video", "input", "dialout", "audio")],
        f"kiosk --home {r}/var/lib/kiosk {GATE_INIT}",
    ]

    # Result: units in place (rendered), enabled by symlink, data folder 0700.
    for name in ("kiosk-gate.service", "kiosk-web.service"):
        assert (r / "etc/systemd/system" / name).read_text() == (SYSTEMD_DIR / name).read_text()
        assert os.readlink(r / "etc/systemd/system/multi-user.target.wants" / name) == f"/etc/systemd/system/{name}"
    user_dir = r / "etc/systemd/user"
    assert (user_dir / "kiosk-display.service").read_text() == (SYSTEMD_DIR / "kiosk-display.service").read_text()
    assert (user_dir / "kiosk-display.service.d/user.conf").read_text().endswith("[Unit]\nConditionUser=pi\n")
    assert os.readlink(user_dir / "default.target.wants/kiosk-display.service") == "/etc/systemd/user/kiosk-display.service"
    assert not (r / "etc/systemd/system/kiosk-office-pull.timer").exists()
    assert stat.S_IMODE((r / "var/lib/kiosk").stat().st_mode) == 0o700
    assert (r / "var/lib/kiosk/kiosk.toml").read_text() == "# kiosk.toml\n"
    assert stat.S_IMODE((r / "opt/kiosk/bin/kiosk-display-launch").stat().st_mode) == 0o755
    assert "include-system-site-packages = true" in (r / "opt/kiosk/venv/pyvenv.cfg").read_text()

    before = snapshot(r)
    dry = m.install("--role", "gate", "--dry-run", "--no-pip", "--desktop-user", "pi")
    second = m.install("--role", "gate", "--no-pip", "--desktop-user", "pi")
    assert snapshot(r) == before
    for lines in (dry, second):
        bad = [line for line in lines if not line.startswith(("ok: ", "skip: "))]
        assert bad == []
    assert dry == second
    assert f"ok: {r}/var/lib/kiosk/kiosk.toml exists" in second
    assert "ok: I2C enabled" in second
    later_calls = m.calls()[len(first_calls):]
    assert [c for c in later_calls if MUTATING.match(c)] == []
    assert not [c for c in m.calls() if c.startswith("systemctl")]


def test_office_install_with_other_prefix_and_data(tmp_path):
    m = Machine(tmp_path, pi=False)
    r = m.root
    args = ["--role", "office", "--no-pip", "--prefix", "/srv/kiosk", "--data", "/srv/kiosk-data"]
    first = m.install(*args)
    assert f"skip: kiosk init (no {r}/srv/kiosk/venv/bin/kiosk; --no-pip)" in first
    assert "skip: python3-lgpio (not in this machine's apt sources: Raspberry Pi OS only)" in first
    service = (r / "etc/systemd/system/kiosk-office-pull.service").read_text()
    assert "ExecStart=/srv/kiosk/venv/bin/kiosk office pull\n" in service
    assert "ReadWritePaths=/srv/kiosk-data\n" in service
    assert "/opt/kiosk" not in service and "/var/lib/kiosk" not in service
    assert os.readlink(r / "etc/systemd/system/timers.target.wants/kiosk-office-pull.timer") == (
        "/etc/systemd/system/kiosk-office-pull.timer"
    )
    assert not (r / "etc/systemd/system/kiosk-gate.service").exists()
    assert not (r / "etc/systemd/user").exists()
    assert stat.S_IMODE((r / "srv/kiosk-data").stat().st_mode) == 0o700
    # No gate hardware groups on the office machine.
    assert not [c for c in m.calls() if c.startswith(("groupadd", "usermod", "raspi-config"))]

    before = snapshot(r)
    second = m.install(*args)
    assert snapshot(r) == before
    assert [line for line in second if not line.startswith(("ok: ", "skip: "))] == []
    # The rendered units still verify (with the moved ExecStart).
    rendered = tmp_path / "rendered"
    rendered.mkdir()
    for name in ("kiosk-office-pull.service", "kiosk-office-pull.timer"):
        text = (r / "etc/systemd/system" / name).read_text().replace("/srv/kiosk/", "/opt/kiosk/")
        (rendered / name).write_text(text)
    assert_verifies([rendered / "kiosk-office-pull.service", rendered / "kiosk-office-pull.timer"], tmp_path / "w")


def test_root_mode_without_host_steps_touches_no_system_command(tmp_path):
    m = Machine(tmp_path, pi=True)
    env = m.env()
    del env["KIOSK_INSTALL_HOST_STEPS"]
    cmd = [str(INSTALL), "--role", "gate", "--no-pip", "--desktop-user", "pi", "--root", str(m.root)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for skipped in ("apt-get install", "enable I2C", "hardware groups", "system user kiosk"):
        assert f"skip: {skipped} (--root)" in lines
    assert m.calls() == []
    assert (m.root / "etc/systemd/system/kiosk-gate.service").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "error: --role gate|office is required"),
        (["--role", "kitchen"], "error: --role gate|office is required"),
        (["--role", "gate", "--bogus"], "error: unknown option: --bogus (see --help)"),
        (["--role", "gate", "--prefix", "opt"], "error: --prefix and --data must be absolute paths"),
    ],
)
def test_bad_arguments_are_refused(args, message, tmp_path):
    proc = subprocess.run([str(INSTALL), *args, "--dry-run"], capture_output=True, text=True, timeout=300)
    assert (proc.returncode, proc.stderr.strip(), proc.stdout) == (1, message, "")


def test_help_lists_every_option():
    proc = subprocess.run([str(INSTALL), "--help"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0
    for option in ("--role", "--dry-run", "--prefix", "--data", "--source", "--root", "--no-pip", "--desktop-user"):
        assert option in proc.stdout


def test_chrony_makes_the_office_the_lans_time_source_and_the_gate_use_it(tmp_path):
    (tmp_path / "gate").mkdir()
    (tmp_path / "office").mkdir()
    gate = Machine(tmp_path / "gate", pi=True)
    gate.place_fake_kiosk()
    gate.install("--role", "gate", "--no-pip", "--desktop-user", "pi", "--office-host", "office.lan")
    assert (gate.root / "etc/chrony/conf.d/kiosk.conf").read_text() == (
        '# Written by install.sh --role gate (docs/resilience.md, "Time on the LAN").\n'
        "server office.lan iburst prefer\n"
        "# a Pi without battery clock may boot days off: step whenever 10 s off\n"
        "makestep 10 -1\n")
    office = Machine(tmp_path / "office", pi=False)
    office.place_fake_kiosk()
    office.install("--role", "office", "--no-pip")
    assert (office.root / "etc/chrony/conf.d/kiosk.conf").read_text() == (
        '# Written by install.sh --role office (docs/resilience.md, "Time on the LAN").\n'
        "# The LAN's time source, also while the internet is down.\n"
        "allow 10.0.0.0/8\nallow 172.16.0.0/12\nallow 192.168.0.0/16\nlocal stratum 10\n")
