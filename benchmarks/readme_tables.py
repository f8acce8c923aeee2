"""Put the bench's tables into the README, so every number there comes from benchmarks/results/bench.json.

    python benchmarks/readme_tables.py            # rewrite the README's bench blocks from the JSON
    python benchmarks/readme_tables.py --check    # exit 1 if the README and the JSON disagree (a test runs this)

A block is the text between `<!-- bench:SECTION -->` and `<!-- /bench:SECTION -->`, where
SECTION is one of texnet.bench.SECTIONS; it is replaced by that section's table. The block
`<!-- zoo -->` ... `<!-- /zoo -->` gets the pretrained models' gallery and bench numbers from
src/texnet/zoo/index.json (written by benchmarks/build_zoo.py).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results" / "bench.json"
ZOO_INDEX = ROOT / "src" / "texnet" / "zoo" / "index.json"
BLOCK = re.compile(r"(<!-- bench:([a-z-]+) -->\n)(.*?)(<!-- /bench:\2 -->)", re.S)
ZOO_BLOCK = re.compile(r"(<!-- zoo -->\n)(.*?)(<!-- /zoo -->)", re.S)


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


def render(readme: str, results: dict) -> str:
    from texnet.bench import markdown_section

    def replace(match: re.Match) -> str:
        name = match.group(2)
        section = results["sections"].get(name)
        if section is None:
            raise SystemExit(f"README has a bench:{name} block but {RESULTS} has no '{name}' section")
        return match.group(1) + markdown_section(name, section) + match.group(4)

    readme = BLOCK.sub(replace, readme)
    if ZOO_BLOCK.search(readme):
        index = json.loads(ZOO_INDEX.read_text()) if ZOO_INDEX.exists() else {"models": [], "refused": []}
        readme = ZOO_BLOCK.sub(lambda m: m.group(1) + zoo_markdown(index) + m.group(3), readme)
    return readme


def main(argv: list[str]) -> int:
    readme = README.read_text()
    expected = render(readme, json.loads(RESULTS.read_text()))
    if "--check" in argv:
        if expected != readme:
            print("README.md's bench tables differ from benchmarks/results/bench.json or src/texnet/zoo/index.json: "
                  "run python benchmarks/readme_tables.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(expected)
    print(f"updated {len(BLOCK.findall(readme)) + len(ZOO_BLOCK.findall(readme))} block(s) in {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
