"""kiosk.toml is typed: defaults in one place, unknown names and wrong values refused with
the closest known name (zh and en), `kiosk doctor` says the same, docs list exactly the keys."""

from __future__ import annotations

import dataclasses
import inspect
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli.root import cli
from kiosk.sim.demo import create_demo
from kiosk.store import settings as typed
from kiosk.store.config import ConfigError, load_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def refusal(tmp_path: Path, text: str) -> ConfigError:
    """The refusal of ``text`` after the ids every file must have (site_id, a gate's gate_id)."""
    ids = 'site_id = "jinan"\n' + ("" if 'role = "office"' in text else 'gate_id = "jinan-gate"\n')
    (tmp_path / "kiosk.toml").write_text(ids + text, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(tmp_path)
    return refused.value


LANE = '[[lanes]]\nid = "in"\ndirection = "in"\n'


@pytest.mark.parametrize(("text", "code", "zh", "en"), [
    ("[sigals]\ngreen = 5\n", "unknown_table",
     "kiosk.toml：未知的表 [sigals]，是不是 [signals]？",
     "kiosk.toml: unknown table [sigals]; did you mean [signals]?"),
    ('sit_id = "jinan"\n', "unknown_key",
     "kiosk.toml：未知的键 sit_id，是不是 site_id？",
     "kiosk.toml: unknown key sit_id; did you mean site_id?"),
    ("[gate]\nopen_secs = 3\n", "unknown_key",
     "kiosk.toml：未知的键 [gate] open_secs，是不是 open_seconds？",
     "kiosk.toml: unknown key [gate] open_secs; did you mean open_seconds?"),
    ("[rules]\nfever_treshold = 37.5\n", "unknown_key",
     "kiosk.toml：未知的键 [rules] fever_treshold，是不是 fever_threshold？",
     "kiosk.toml: unknown key [rules] fever_treshold; did you mean fever_threshold?"),
    ('[rules.severty]\npassback = "refer"\n', "unknown_table",
     "kiosk.toml：未知的表 [rules.severty]，是不是 [rules.severity]？",
     "kiosk.toml: unknown table [rules.severty]; did you mean [rules.severity]?"),
    ('[rules.severity]\npasback = "refer"\n', "unknown_key",
     "kiosk.toml：未知的键 [rules.severity] pasback，是不是 passback？",
     "kiosk.toml: unknown key [rules.severity] pasback; did you mean passback?"),
    ('[[shifts]]\nkey = "day"\nname_zh = "白班"\nnam_en = "Day"\nstart = "00:00"\nend = "24:00"\n',
     "unknown_key",
     "kiosk.toml：未知的键 [shifts.1] nam_en，是不是 name_en？",
     "kiosk.toml: unknown key [shifts.1] nam_en; did you mean name_en?"),
    (LANE + LANE.replace('"in"', '"out"') + "require_temprature = true\n", "unknown_key",
     "kiosk.toml：未知的键 [lanes.2] require_temprature，是不是 require_temperature？",
     "kiosk.toml: unknown key [lanes.2] require_temprature; did you mean require_temperature?"),
    (LANE + 'camera = {kind = "opencv", source = 0, widht = 1280}\n', "unknown_key",
     "kiosk.toml：未知的键 [lanes.1.camera] widht，是不是 width？",
     "kiosk.toml: unknown key [lanes.1.camera] widht; did you mean width?"),
    (LANE + '[lanes.thermometer]\nkind = "mlx90614"\nadress = 0x5B\n', "unknown_key",
     "kiosk.toml：未知的键 [lanes.1.thermometer] adress，是不是 address？",
     "kiosk.toml: unknown key [lanes.1.thermometer] adress; did you mean address?"),
    (LANE + "signals = {green = 12, rde = 16}\n", "unknown_key",
     "kiosk.toml：未知的键 [lanes.1.signals] rde，是不是 red？",
     "kiosk.toml: unknown key [lanes.1.signals] rde; did you mean red?"),
    ('[signals]\npin_factroy = "mock"\n', "unknown_key",
     "kiosk.toml：未知的键 [signals] pin_factroy，是不是 pin_factory？",
     "kiosk.toml: unknown key [signals] pin_factroy; did you mean pin_factory?"),
    ("[web]\nprot = 8080\n", "unknown_key",
     "kiosk.toml：未知的键 [web] prot，是不是 port？",
     "kiosk.toml: unknown key [web] prot; did you mean port?"),
    ("[sync]\nretention = 30\n", "unknown_key",
     "kiosk.toml：未知的键 [sync] retention，是不是 retention_days？",
     "kiosk.toml: unknown key [sync] retention; did you mean retention_days?"),
    ("[sync]\nzzz = 1\n", "unknown_key",
     "kiosk.toml：未知的键 [sync] zzz",
     "kiosk.toml: unknown key [sync] zzz"),
])
def test_an_unknown_name_is_refused_with_the_closest_known_one(tmp_path, text, code, zh, en):
    error = refusal(tmp_path, text)
    assert (error.code, error.message("zh"), error.message("en"), str(error)) == (code, zh, en, zh)


@pytest.mark.parametrize(("text", "code", "en"), [
    ('[gate]\nopen_seconds = "3 s"\n', "bad_type",
     'kiosk.toml: [gate] open_seconds must be a number, not "3 s"'),
    ('[gate]\nopen_unrecorded = "yes"\n', "bad_type",
     'kiosk.toml: [gate] open_unrecorded must be true or false, not "yes"'),
    ("[web]\nport = 80.5\n", "bad_type", "kiosk.toml: [web] port must be a whole number, not 80.5"),
    ("[web]\nhost = 127\n", "bad_type", "kiosk.toml: [web] host must be text in quotes, not 127"),
    ("gate = 3\n", "bad_type", "kiosk.toml: gate must be a table, not 3"),
    ("[lanes]\nid = \"in\"\n", "bad_type", 'kiosk.toml: lanes must be a list, not {"id": "in"}'),
    ("[signals]\ngreen = true\n", "bad_type", "kiosk.toml: [signals] green must be a number or text, not true"),
    ('language = "fr"\n', "bad_value", 'kiosk.toml: language must be one of "zh", "en", not "fr"'),
    ('role = "booth"\n', "bad_value", 'kiosk.toml: role must be one of "gate", "office", not "booth"'),
    ('[rules.severity]\npassback = "block"\n', "bad_value",
     'kiosk.toml: [rules.severity] passback must be one of "deny", "refer", "warn", "off", not "block"'),
    (LANE.replace('"in"\n', '"up"\n'), "bad_value",
     'kiosk.toml: [lanes.1] direction must be one of "in", "out", not "up"'),
    (LANE + 'camera = {kind = "usb", source = 0}\n', "bad_value",
     'kiosk.toml: [lanes.1.camera] kind must be one of "opencv", "picamera2", "folder", not "usb"'),
    (LANE + 'decoder = "zebra"\n', "bad_value",
     'kiosk.toml: [lanes.1] decoder must be one of "zxing", "zbar", not "zebra"'),
    (LANE + "camera = {source = 0}\n", "missing_key", "kiosk.toml: [lanes.1.camera] needs the key kind"),
    ('[[lanes]]\ndirection = "in"\n', "missing_key", "kiosk.toml: [lanes.1] needs the key id"),
    (LANE + 'scanner = {kind = "evdev"}\n', "missing_key",
     "kiosk.toml: [lanes.1.scanner] needs the key device"),
])
def test_a_wrong_value_is_refused_with_its_path(tmp_path, text, code, en):
    error = refusal(tmp_path, text)
    assert (error.code, error.message("en")) == (code, en)


def test_wrong_type_in_chinese(tmp_path):
    error = refusal(tmp_path, '[gate]\nopen_seconds = "3 s"\n')
    assert error.message("zh") == 'kiosk.toml：[gate] open_seconds 必须是数字，而不是 "3 s"'


def test_an_office_refuses_gate_tables_and_checks_its_registry_settings(tmp_path):
    error = refusal(tmp_path, 'role = "office"\n[gate]\nopen_seconds = 3\n')
    assert (error.code, error.message("en")) == ("unknown_table", "kiosk.toml: unknown table [gate]")
    error = refusal(tmp_path, 'role = "office"\n[registry_settings.rules]\nhousehold_quota_day = 3\n')
    assert error.message("en") == ("kiosk.toml: unknown key [registry_settings.rules] household_quota_day; "
                                   "did you mean household_quota_days?")
    error = refusal(tmp_path, 'role = "office"\n[registry_settings.rules.severity]\nfever = 1\n')
    assert error.message("en") == ("kiosk.toml: [registry_settings.rules.severity] fever must be text "
                                   "in quotes, not 1")


def test_defaults_fill_what_the_file_leaves_out(tmp_path):
    (tmp_path / "kiosk.toml").write_text(
        'site_id = "jinan"\ngate_id = "jinan-gate"\n[gate]\nopen_seconds = 5\n'
        '[[lanes]]\nid = "east"\ndirection = "out"\n'
        'thermometer = {kind = "mlx90614", offset = 0.4}\ncamera = {kind = "folder", source = "f"}\n',
        encoding="utf-8")
    config = load_config(tmp_path)
    settings = config.settings
    assert (settings.role, settings.site_id, settings.gate_id, settings.timezone, settings.language) == (
        "gate", "jinan", "jinan-gate", "Asia/Shanghai", "zh")
    assert (settings.gate.open_seconds, settings.gate.open_unrecorded) == (5.0, False)
    assert (settings.web.host, settings.web.port, settings.sync.retention_days) == ("127.0.0.1", 8000, 90)
    assert settings.rules == typed.RulesTable(fever_threshold=37.3, plausible_min=30.0, plausible_max=43.0,
                                              duplicate_window_s=10.0, household_quota_members=1,
                                              household_quota_days=2.0, severity={})
    assert [shift.key for shift in settings.shifts] == ["morning", "afternoon", "night"]
    assert settings.signals is None
    (lane,) = settings.lanes
    assert (lane.id, lane.direction, lane.require_temperature, lane.decoder, lane.scanner, lane.signals) == (
        "east", "out", False, "zxing", None, None)
    assert lane.thermometer == typed.Mlx90614ThermometerTable(bus=1, address=0x5A, offset=0.4,
                                                              ambient_compensation=0.0)
    assert lane.camera == typed.FolderCameraTable(source="f", fps=None, loop=False)
    assert (lane.debounce.gone_s, lane.debounce.repeat_s) == (1.0, 5.0)
    assert config["lanes"] == [{"id": "east", "direction": "out", "require_temperature": False,
                                "vehicle": False, "disinfection": False,
                                "camera": {"kind": "folder", "source": "f", "loop": False},
                                "thermometer": {"kind": "mlx90614", "bus": 1, "address": 0x5A,
                                                "offset": 0.4, "ambient_compensation": 0.0},
                                "decoder": "zxing", "debounce": {"gone_s": 1.0, "repeat_s": 5.0}}]


def test_the_demo_configuration_still_loads(tmp_path):
    demo = create_demo(tmp_path / "demo", NOW)
    gate, office = load_config(demo.gate_home), load_config(demo.office_home)
    assert (gate.role, gate.settings.site_id, [lane.id for lane in gate.settings.lanes]) == (
        "gate", office.settings.site_id, ["in", "out"])
    assert (office.role, office.settings.registry_settings) == (
        "office", {"rules": {"severity": {"household_quota": "deny"}}})


def test_doctor_reports_an_unknown_key_in_the_chosen_language(tmp_path):
    demo = create_demo(tmp_path / "demo", NOW)
    config = demo.gate_home / "kiosk.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n[gate]\nopen_secs = 3\n", encoding="utf-8")
    runner = CliRunner()
    english = runner.invoke(cli, ["--home", str(demo.gate_home), "--lang", "en", "doctor"])
    chinese = runner.invoke(cli, ["--home", str(demo.gate_home), "doctor"])
    assert (english.exit_code, english.output.splitlines()) == (1, [
        "[ERROR] Configuration problem: kiosk.toml: unknown key [gate] open_secs; did you mean open_seconds?"])
    assert chinese.exit_code == 1
    assert chinese.output.splitlines()[0].endswith("kiosk.toml：未知的键 [gate] open_secs，是不是 open_seconds？")


# --- one place for each default ---------------------------------------------------------------

def test_decoders_are_the_hardware_ones():
    from hardware.decoder import DECODERS

    assert typed.DECODERS == DECODERS


@pytest.mark.parametrize(("table", "device"), [
    (typed.OpencvCameraTable, "hardware.camera:OpenCVCamera"),
    (typed.FolderCameraTable, "hardware.camera:FolderCamera"),
    (typed.Mlx90614ThermometerTable, "hardware.thermometer:MLX90614"),
    (typed.FakeThermometerTable, "hardware.thermometer:FakeThermometer"),
])
def test_device_defaults_are_the_hardware_ones(table, device):
    import importlib

    module, name = device.split(":")
    parameters = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    for f in dataclasses.fields(table):
        given = parameters.get(f.name)
        if given is not None and given.default is not inspect.Parameter.empty:  # MLX90614's bus: an SMBus
            assert parameters[f.name].default == f.default, f.name


# --- docs/configuration.md lists exactly the keys ------------------------------------------------

SECTIONS = {
    "## `[rules]`": typed.RulesTable, "## `[[shifts]]`": typed.ShiftTable,
    "## `[[lanes]]`": typed.LaneTable,
    "### `camera`, kind `opencv`": typed.OpencvCameraTable,
    "### `camera`, kind `picamera2`": typed.Picamera2CameraTable,
    "### `camera`, kind `folder`": typed.FolderCameraTable,
    "### `scanner`, kind `evdev`": typed.EvdevScannerTable,
    "### `scanner`, kind `stdin`": typed.StdinScannerTable,
    "### `thermometer`, kind `manual`": typed.ManualThermometerTable,
    "### `thermometer`, kind `fake`": typed.FakeThermometerTable,
    "### `thermometer`, kind `mlx90614`": typed.Mlx90614ThermometerTable,
    "### `proximity`": typed.ProximityTable, "### `debounce`": typed.DebounceTable,
    "### lane `signals`": typed.PinsTable, "## `[signals]`": typed.SignalsTable,
    "## `[gate]`": typed.GateTable, "## `[voice]`": typed.VoiceTable, "## `[web]`": typed.WebTable, "## `[sync]`": typed.SyncTable,
    "## `[registry_settings]`": typed.RegistrySettingsTable, "## `[[communities]]`": typed.CommunityTable,
}


def documented_keys() -> dict[str, set[str]]:
    """Heading -> the key names in the first column of its table."""
    keys: dict[str, set[str]] = {}
    heading = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## ") or line.startswith("### "):
            heading = line.strip()
            keys[heading] = set()
        elif heading and line.startswith("| `"):
            cell = line.split("|")[1]
            keys[heading] |= {name.split(".")[-1] for name in re.findall(r"`\[*([a-z_.]+)\]*`", cell)}
    return keys


def tables_in(cls: type, found: set[type]) -> set[type]:
    """Every table class reachable from *cls* (fields, lists, device unions, checked dicts)."""
    found.add(cls)
    for f in dataclasses.fields(cls):
        for kind in [typed.get_type_hints(cls)[f.name], f.metadata.get("keys")]:
            for option in [kind, *typed.get_args(kind), *(a for arg in typed.get_args(kind)
                                                          for a in typed.get_args(arg))]:
                if dataclasses.is_dataclass(option) and option not in found:
                    tables_in(option, found)
    return found


def test_every_table_has_a_section():
    reachable = tables_in(typed.GateToml, set()) | tables_in(typed.OfficeToml, set())
    assert reachable - {typed.GateToml, typed.OfficeToml} == set(SECTIONS.values())


@pytest.mark.parametrize("heading", sorted(SECTIONS))
def test_a_section_documents_exactly_its_keys(heading):
    assert documented_keys()[heading] == {f.name for f in dataclasses.fields(SECTIONS[heading])}


def test_the_top_level_documents_exactly_the_plain_keys():
    own_sections = {"rules", "shifts", "lanes", "signals", "gate", "voice", "web", "sync"}
    names = {f.name for cls in (typed.GateToml, typed.OfficeToml) for f in dataclasses.fields(cls)}
    assert documented_keys()["## Top level"] == names - own_sections


def test_every_key_has_help():
    reachable = tables_in(typed.GateToml, set()) | tables_in(typed.OfficeToml, set())
    assert [(cls.__name__, f.name) for cls in reachable for f in dataclasses.fields(cls)
            if not f.metadata.get("help")] == []


def toml_examples() -> list[tuple[str, str]]:
    root = DOC.parents[1]
    return [(path.name, block) for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]
            for block in re.findall(r"```toml\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.DOTALL)]


@pytest.mark.parametrize(("name", "block"), toml_examples())
def test_every_toml_example_in_the_docs_is_accepted(name, block):
    import tomllib

    raw = tomllib.loads(block)
    if "registry_settings" in raw:  # the office examples
        raw.setdefault("role", "office")
    raw.setdefault("site_id", "jinan")  # the examples show a part of the file: the ids are elsewhere
    if raw.get("role", "gate") == "gate":
        raw.setdefault("gate_id", "jinan-gate")
    typed.read_settings(raw)
