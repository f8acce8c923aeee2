"""Progress bars: tqdm when it is installed, silence otherwise (the torch-free runtime may lack it)."""

from __future__ import annotations

from typing import Any, Iterable


def bar(iterable: Iterable | None = None, **kwargs: Any) -> Any:
    """tqdm(iterable, **kwargs), or a plain iterable with the few methods texnet calls when tqdm is missing."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _Silent(iterable)
    return tqdm(iterable, dynamic_ncols=True, **kwargs)


class _Silent:
    def __init__(self, iterable: Iterable | None):
        self.iterable = iterable if iterable is not None else ()

    def __iter__(self):
        return iter(self.iterable)

    def update(self, *_: Any) -> None:
        pass

    def set_postfix(self, *_: Any, **__: Any) -> None:
        pass

    def close(self) -> None:
        pass

    @staticmethod
    def write(text: str) -> None:
        print(text)
