"""The one report writer: number formatting, each section's header (when, where, how long), bench.md."""

from __future__ import annotations

from typing import Any, Callable

Render = Callable[[dict[str, Any]], list[str]]


def fmt(value: Any, digits: int = 3, missing: str = "not reached") -> str:
    if value is None:
        return missing
    if isinstance(value, dict) and "error" in value:
        return f"error: {value['error']}"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def fmt_memory(value: dict[str, Any], key: str) -> str:
    return fmt(value) if "error" in value else fmt(value.get(key), missing="n/a")


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table."""
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]


def header(section: dict[str, Any]) -> str:
    """When, on what and in how long a section was measured."""
    m = section["machine"]
    vector = f", {m['cpu_capability']}{' with AVX512-BF16' if m.get('cpu_bf16') else ''}" \
        if m.get("cpu_capability") and not m.get("gpu") else ""
    reuse = "; freed memory reused (texnet.limits.reuse_freed_memory, as the CLI runs)" \
        if m.get("reuse_freed_memory") else ""
    return (f"Measured {section['date']} on {m.get('gpu') or m.get('cpu')} ({section['device']}{vector}, "
            f"{m['cpu_threads']} threads), torch {m['torch']}, texnet {m['texnet']}, descriptor "
            f"{section['descriptor']}{reuse}; the section took {section['seconds']:.0f} s.")


def render_section(section: dict[str, Any], render: Render) -> str:
    return "\n".join([header(section), ""] + render(section)) + "\n"


def markdown(result: dict[str, Any], renderers: dict[str, tuple[str, Render]]) -> str:
    """bench.md: every section present in the results, in the bench's order, under its title."""
    parts = [f"### {title}\n\n" + render_section(result["sections"][name], render)
             for name, (title, render) in renderers.items()
             if result["sections"].get(name) and result["sections"][name]["data"]]
    return "\n".join(parts)
