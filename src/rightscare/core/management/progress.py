"""A tqdm progress bar for the long-running management commands, on standard error."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm


def bar_factory(stream: TextIO, *, unit: str = "values") -> Callable[[str, int], tuple[Callable[[int], object], Callable[[], object]]]:
    """A ``progress`` callback for :mod:`rightscare.core.rotation`: one bar per field on ``stream``."""

    def start(label: str, total: int) -> tuple[Callable[[int], object], Callable[[], object]]:
        bar = tqdm(total=total, desc=label, unit=unit, file=stream, dynamic_ncols=True, leave=True)
        return bar.update, bar.close

    return start
