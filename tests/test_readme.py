"""The README's numbers come from commands in the repo: its bench tables must equal the committed bench JSON."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("readme_tables", ROOT / "benchmarks" / "readme_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_bench_tables_match_the_results_file():
    script = _script()
    assert script.BLOCK.search(script.README.read_text()), "the README has no bench blocks"
    assert script.main(["--check"]) == 0


def test_the_check_fails_when_a_number_is_edited(tmp_path, monkeypatch):
    script = _script()
    readme = script.README.read_text()
    block = script.BLOCK.search(readme)
    tampered = readme.replace(block.group(3), block.group(3).replace("|", "| 9", 1))
    copy = tmp_path / "README.md"
    copy.write_text(tampered)
    monkeypatch.setattr(script, "README", copy)
    assert script.main(["--check"]) == 1
