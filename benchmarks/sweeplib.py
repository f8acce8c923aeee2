"""What the benchmark scripts share: an append-only result file, so an interrupted sweep resumes where it stopped,
and timing in alternating rounds."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Iterable


class Results:
    """Rows as JSON lines in `path`, keyed by (arm, subject); rows of finished runs are never rewritten."""

    def __init__(self, path: Path, subject: str):
        self.path, self.subject = path, subject

    def key(self, arm: str, subject: str) -> str:
        return f"{arm}/{subject}"

    def load(self) -> dict[str, dict]:
        if not self.path.exists():
            return {}
        rows = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
        return {self.key(r["arm"], r[self.subject]): r for r in rows}

    def append(self, row: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")


def fmt(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def mean(values: Iterable[float | None]) -> str:
    values = [v for v in values if v is not None]
    return fmt(statistics.mean(values)) if values else "-"


def alternating_ms(fns: dict[str, Callable[[int], Any]], rounds: int) -> dict[str, float]:
    """Median milliseconds of each function, called with the round's index; every round calls each in turn, so
    that the machine's drift (tens of percent within minutes here) does not fall on one of them."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(i)
            times[name].append(1000 * (time.perf_counter() - start))
    return {name: statistics.median(t) for name, t in times.items()}


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """A micro-benchmark's result file: the machine (texnet.bench.machine) and its rows."""
    from texnet.bench import machine

    path.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1) + "\n")
    print(f"wrote {path}")
