"""Loss plots for training runs and benchmarks (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from texnet.files import atomic_path


def subplots(cols: int = 1, width: float = 7, height: float = 4) -> tuple[Any, list[Any]]:
    """A figure with `cols` axes side by side, on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, cols, figsize=(width * cols, height), dpi=100, squeeze=False)
    return fig, list(axes[0])


def log_axes(ax: Any, xlabel: str, ylabel: str, title: str, logx: bool = False) -> None:
    if logx:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()


def plain_ticks(ax: Any, x: list[float] | None = None, y: list[float] | None = None) -> None:
    """Ticks at these values, labelled as plain numbers (log axes otherwise label 3 as 3x10^0)."""
    from matplotlib.ticker import NullFormatter

    for values, axis, set_ticks in ((x, ax.xaxis, ax.set_xticks), (y, ax.yaxis, ax.set_yticks)):
        if values:
            set_ticks(values, [f"{v:g}" for v in values])
            axis.set_minor_formatter(NullFormatter())


def save(fig: Any, path: Path) -> None:
    """Write the figure as PNG atomically and free it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
