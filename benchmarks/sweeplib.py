"""What the sweeps share: an append-only result file, so an interrupted sweep resumes where it stopped."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any, Iterable


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
