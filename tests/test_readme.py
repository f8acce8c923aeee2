"""The README's numbers come from commands in the repo: its bench tables must equal the committed bench JSON."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("readme_tables", ROOT / "benchmarks" / "readme_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_bench_tables_match_the_results_file():
    assert _script().main(["--check"]) == 0


def test_the_check_fails_when_a_number_is_edited(tmp_path, monkeypatch):
    script = _script()
    section = {"date": "2026-01-01 00:00", "device": "cpu", "descriptor": "vgg16-hed", "seconds": 12.0,
               "machine": {"cpu": "test CPU", "cpu_threads": 2, "torch": "x", "texnet": "y"},
               "config": {"style_sizes": [64, 96], "style_opt_size": 64},
               "data": {"style": "ihc", "stylize_ms_64": 10.0, "stylize_ms_96": 20.0, "gen_loss": 1.5,
                        "opt_seconds_to_gen_loss": 2.0, "speedup": 200.0, "opt_iterations": 7}}
    results = tmp_path / "bench.json"
    results.write_text(json.dumps({"sections": {"style": section}}))
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:style -->\nold\n<!-- /bench:style -->\nend\n")
    monkeypatch.setattr(script, "README", readme)
    monkeypatch.setattr(script, "RESULTS", results)
    assert script.main(["--check"]) == 1  # the stale block
    assert script.main([]) == 0  # regenerated from the JSON
    assert "| ihc | 10 | 20 |" in readme.read_text() and script.main(["--check"]) == 0
    readme.write_text(readme.read_text().replace("| ihc | 10 |", "| ihc | 9 |"))  # someone edits a number
    assert script.main(["--check"]) == 1
