"""Put the bench's tables into the README, so every number there comes from benchmarks/results/bench.json.

    python benchmarks/readme_tables.py            # rewrite the README's bench blocks from the JSON
    python benchmarks/readme_tables.py --check    # exit 1 if the README and the JSON disagree (a test runs this)

A block is the text between `<!-- bench:SECTION -->` and `<!-- /bench:SECTION -->`, where
SECTION is one of texnet.bench.SECTIONS; it is replaced by that section's table.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results" / "bench.json"
BLOCK = re.compile(r"(<!-- bench:([a-z-]+) -->\n)(.*?)(<!-- /bench:\2 -->)", re.S)


def render(readme: str, results: dict) -> str:
    from texnet.bench import markdown_section

    def replace(match: re.Match) -> str:
        name = match.group(2)
        section = results["sections"].get(name)
        if section is None:
            raise SystemExit(f"README has a bench:{name} block but {RESULTS} has no '{name}' section")
        return match.group(1) + markdown_section(name, section) + match.group(4)

    return BLOCK.sub(replace, readme)


def main(argv: list[str]) -> int:
    readme = README.read_text()
    expected = render(readme, json.loads(RESULTS.read_text()))
    if "--check" in argv:
        if expected != readme:
            print("README.md's bench tables differ from benchmarks/results/bench.json: "
                  "run python benchmarks/readme_tables.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(expected)
    print(f"updated {len(BLOCK.findall(readme))} bench block(s) in {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
