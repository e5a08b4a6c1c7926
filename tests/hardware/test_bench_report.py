"""The benchmark report writer keeps other sections of docs/benchmarks.md."""

from bench.decoders import HEADING, pass_payloads, write_section


def test_write_section_replaces_only_its_own_section(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Sync\n\nsync table\n", encoding="utf-8")
    write_section(doc, f"{HEADING}\n\nfirst\n")
    write_section(doc, f"{HEADING}\n\nsecond\n")
    assert doc.read_text(encoding="utf-8") == (
        "# Benchmarks\n\n## Sync\n\nsync table\n\n## QR decoding\n\nsecond\n")
    doc.write_text(f"# B\n\n{HEADING}\n\nold\n\n## Web\n\nweb\n", encoding="utf-8")
    write_section(doc, f"{HEADING}\n\nnew\n")
    assert doc.read_text(encoding="utf-8") == f"# B\n\n{HEADING}\n\nnew\n\n## Web\n\nweb\n"


def test_pass_payloads_deterministic():
    assert pass_payloads(3, 1) == pass_payloads(3, 1)
    assert all(58 <= len(p) <= 150 and p.startswith("GK1.") for p in pass_payloads(50, 2))
