"""Put the bench's tables into docs/ and the zoo's table into the README, so every number there comes from a file
a command wrote.

    python benchmarks/docs_tables.py            # rewrite the blocks from the JSON files
    python benchmarks/docs_tables.py --check    # exit 1 if a block and its JSON disagree (a test runs this)

A block is the text between `<!-- bench:SECTION -->` and `<!-- /bench:SECTION -->` in README.md or
docs/*.md, where SECTION is one of texnet.bench.SECTIONS; it is replaced by that section's table from
benchmarks/results/bench.json. The block `<!-- zoo -->` ... `<!-- /zoo -->` gets the pretrained
models' gallery and bench numbers from src/texnet/zoo/index.json (written by benchmarks/build_zoo.py). The block
`<!-- sweep:budgets ARM ... -->` ... `<!-- /sweep:budgets -->` gets the quality sweep's table per arm and budget
for those arms, from benchmarks/quality/budget_sweep.jsonl (written by benchmarks/quality_sweep.py).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RESULTS = ROOT / "benchmarks" / "results" / "bench.json"
ZOO_INDEX = ROOT / "src" / "texnet" / "zoo" / "index.json"
BLOCK = re.compile(r"(<!-- bench:([a-z-]+) -->\n)(.*?)(<!-- /bench:\2 -->)", re.S)
ZOO_BLOCK = re.compile(r"(<!-- zoo -->\n)(.*?)(<!-- /zoo -->)", re.S)
SWEEP_BLOCK = re.compile(r"(<!-- sweep:budgets ([a-z0-9 -]+) -->\n)(.*?)(<!-- /sweep:budgets -->)", re.S)


def quality_sweep():
    """benchmarks/quality_sweep.py as a module (it is a script beside this one, not part of the package)."""
    spec = importlib.util.spec_from_file_location("quality_sweep", ROOT / "benchmarks" / "quality_sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def zoo_markdown(index: dict) -> str:
    """The gallery: one row per shipped model with its picture and the bench numbers that let it ship."""
    from texnet.zoo import describe

    lines = ["| model | picture | source (licence) | bench numbers |", "|---|---|---|---|"]
    for e in index["models"]:
        picture = f"![{e['name']}]({e['gallery']})" if e.get("gallery") else "-"
        lines.append(f"| `{e['name']}` ({e['kind']}) | {picture} | {e['source']} ({e['licence']}) | {describe(e)} |")
    if index.get("refused"):
        lines += ["", "Not shipped (below the `standard` targets, or not yet trained):", ""]
        lines += [f"* {line}" for line in index["refused"]]
    return "\n".join(lines) + "\n"


def render(text: str, results: dict) -> str:
    from texnet.bench import markdown_section

    def replace(match: re.Match) -> str:
        name = match.group(2)
        section = results["sections"].get(name)
        if section is None or not section.get("data"):
            body = f"Not measured in the committed results yet: `texnet bench --sections {name} --out benchmarks/results`.\n"
        else:
            body = markdown_section(name, section)
        return match.group(1) + body + match.group(4)

    text = BLOCK.sub(replace, text)
    if ZOO_BLOCK.search(text):
        index = json.loads(ZOO_INDEX.read_text()) if ZOO_INDEX.exists() else {"models": [], "refused": []}
        text = ZOO_BLOCK.sub(lambda m: m.group(1) + zoo_markdown(index) + m.group(3), text)
    if SWEEP_BLOCK.search(text):
        sweep = quality_sweep()
        rows = sweep.results().load()
        text = SWEEP_BLOCK.sub(lambda m: m.group(1) + sweep.budget_table(rows, m.group(2).split()) + m.group(4), text)
    return text


def main(argv: list[str]) -> int:
    results = json.loads(RESULTS.read_text())
    stale = []
    for path in FILES:
        text = path.read_text()
        expected = render(text, results)
        if expected == text:
            continue
        stale.append(path)
        if "--check" not in argv:
            path.write_text(expected)
            print(f"updated {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    if stale and "--check" in argv:
        print(f"{', '.join(p.name for p in stale)}: tables differ from {RESULTS.name}, the zoo index or the sweep: "
              "run python benchmarks/docs_tables.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
