"""The docs' numbers come from commands in the repo: their bench tables must equal the committed bench JSON, and
the README's Python snippet runs."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("docs_tables", ROOT / "benchmarks" / "docs_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_bench_tables_match_the_results_file():
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
    readme.write_text("intro\n<!-- bench:style -->\nold\n<!-- /bench:style -->\n<!-- bench:speed -->\n<!-- /bench:speed -->\n")
    monkeypatch.setattr(script, "FILES", [readme])
    monkeypatch.setattr(script, "RESULTS", results)
    assert script.main(["--check"]) == 1  # the stale block
    assert script.main([]) == 0  # regenerated from the JSON
    assert "| ihc | 10 | 20 |" in readme.read_text() and script.main(["--check"]) == 0
    assert "Not measured in the committed results yet" in readme.read_text()  # no speed section in the JSON
    readme.write_text(readme.read_text().replace("| ihc | 10 |", "| ihc | 9 |"))  # someone edits a number
    assert script.main(["--check"]) == 1


def test_zoo_block_comes_from_the_zoo_index(tmp_path, monkeypatch):
    script = _script()
    results = tmp_path / "bench.json"
    results.write_text(json.dumps({"sections": {}}))
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"models": [
        {"name": "starry-night", "kind": "style", "source": "starry_night.jpg", "licence": "public domain",
         "gallery": "benchmarks/zoo/starry-night.jpg",
         "quality": {"swd_vs_opt": 1.49, "structure": 0.39, "structure_optimisation": 0.82, "photos": 3}}],
        "refused": ["gravel: sliced Wasserstein distance 2.07x the optimisation's (gate 1.5x)"]}))
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- zoo -->\n<!-- /zoo -->\nend\n")
    for name, value in (("FILES", [readme]), ("RESULTS", results), ("ZOO_INDEX", index)):
        monkeypatch.setattr(script, name, value)
    assert script.main(["--check"]) == 1 and script.main([]) == 0
    text = readme.read_text()
    assert "![starry-night](benchmarks/zoo/starry-night.jpg)" in text and "1.49x" in text and "gravel: sliced" in text
    assert script.main(["--check"]) == 0


def test_the_readme_python_snippet_runs(tmp_path, monkeypatch):
    """The README's API section, run as written in a folder holding a photo.jpg; only the training is shortened
    (a few iterations at 32 px instead of the preset's), so that the suite stays fast."""
    import re

    import texnet
    from texnet.images import load_image, save_image

    code = re.search(r"```python\n(import texnet\n.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    save_image(load_image("brick")[:, :96, :96], tmp_path / "photo.jpg")
    real = texnet.train_texture
    monkeypatch.setattr(texnet, "train_texture", lambda *a, **k: real(
        *a, **k, iterations=3, size=32, preview_every=0, progress=False, log=lambda *_: None))
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert isinstance(scope["model"], texnet.Model) and scope["model"].kind == "texture"
    assert (tmp_path / "out" / "photo.texnet").exists()
    assert tuple(scope["images"].shape) == (4, 3, 512, 1024)
    assert 0 <= float(scope["images"].min()) and float(scope["images"].max()) <= 1
    assert (tmp_path / "out" / "p.png").exists()


def test_sweep_block_comes_from_the_sweep_rows(tmp_path, monkeypatch):
    script = _script()
    sweep = script.quality_sweep()
    results = tmp_path / "bench.json"
    results.write_text(json.dumps({"sections": {}}))
    rows = tmp_path / "budget_sweep.jsonl"

    def row(arm, minutes, exemplar, swd):
        return {"arm": f"{arm}@{minutes:g}min", "base_arm": arm, "minutes": minutes, "exemplar": exemplar,
                "train_seconds": 60.0 * minutes - 1, "iterations": 100, "gen": {"swd": swd, "color": 0.01},
                "opt": {"swd": 1.0, "color": 0.1}}

    rows.write_text("".join(json.dumps(r) + "\n" for r in (
        row("pos16k", 3, "brick", 0.5), row("pos16k", 3, "grass", 2.5), row("pos16k", 1, "brick", 1.5),
        row("base", 3, "brick", 0.7))))
    monkeypatch.setattr(sweep, "results", lambda: sweep.Results(rows, "exemplar"))
    monkeypatch.setattr(script, "quality_sweep", lambda: sweep)
    readme = tmp_path / "quality.md"
    readme.write_text("intro\n<!-- sweep:budgets pos16k -->\nold\n<!-- /sweep:budgets -->\nend\n")
    for name, value in (("FILES", [readme]), ("RESULTS", results)):
        monkeypatch.setattr(script, name, value)
    assert script.main(["--check"]) == 1 and script.main([]) == 0
    lines = readme.read_text().splitlines()
    rows_shown = [line for line in lines if line.startswith("| `")]
    assert [r.split(" | ")[1] for r in rows_shown] == ["1 min", "3 min"]  # pos16k only, by budget
    assert "| 1.50 | 2.50 | grass 2.50, brick 0.50 | 1 | 0.10 |" in rows_shown[1]  # median, worst, 3 worst, <=1, colour
    assert script.main(["--check"]) == 0
    readme.write_text(readme.read_text().replace("| 1.50 |", "| 1.40 |"))
    assert script.main(["--check"]) == 1
