"""Progress on stderr, one stage at a time: a bar where someone watches it (a terminal, a
notebook), one line per finished stage where stderr goes to a log, nothing unless asked.

A stage opened inside another one (an NMF inside the restarts of ``--sources``)
reports into it instead of drawing a bar of its own, so the outer bar counts
every iteration of every restart and its ETA is the whole stage's. A stage
that ends early (a fit that converged) completes its bar there, with the
reason.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time
from collections.abc import Iterator

from tqdm.auto import tqdm

#: The stage being drawn, if any: stages opened inside it report into it.
_OUTER: contextvars.ContextVar[Stage | None] = contextvars.ContextVar("stage", default=None)


def watched() -> bool:
    """Whether progress is seen as it happens: stderr is a terminal, or this is a notebook
    (where ``tqdm.auto`` draws widgets: its bar is then tqdm.notebook's)."""
    in_notebook = any(kind.__module__ == "tqdm.notebook" for kind in tqdm.__mro__)
    return in_notebook or sys.stderr.isatty()


class Stage:
    """One stage's progress: :meth:`update` as work is done, :meth:`label` to say which
    part of it runs, :meth:`finish` when it ends before its total."""

    def __init__(self, desc: str, total: int, unit: str, *, bar: bool, scale: float = 1.0):
        self.title, self.total, self.unit, self.scale = desc, total, unit, scale
        self.count, self.note = 0, ""
        self._start = time.perf_counter()
        self._bar = None
        if bar:
            self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False,
                             unit_scale=scale if scale != 1 else False)  # fmt: skip

    def update(self, n: int = 1, **postfix: str) -> None:
        if self.note:  # finished: the bar stays as it ended
            return
        self.count += n
        if self._bar is not None:
            self._bar.update(n)
            if postfix:
                self._bar.set_postfix(postfix, refresh=False)

    def label(self, desc: str) -> None:
        """Say on the bar which part of the stage runs (the line at the end has the title)."""
        if self._bar is not None:
            self._bar.set_description_str(desc, refresh=False)

    def finish(self, note: str) -> None:
        """The stage is done before its total (say why): the bar completes here."""
        self.note = note
        if self._bar is not None:
            self._bar.total = self._bar.n
            self._bar.set_postfix_str(note, refresh=False)
            self._bar.refresh()

    def close(self, *, failed: bool = False) -> None:
        if self._bar is not None:
            self._bar.close()
            return
        if failed:
            return
        note = f", {self.note}" if self.note else ""
        seconds = time.perf_counter() - self._start
        print(f"nmfaudio: {self.title}: {self.count * self.scale:.4g} {self.unit}{note}"
              f" ({seconds:.1f} s)",
              file=sys.stderr, flush=True)  # fmt: skip


class _Within(Stage):
    """A stage inside another: its work counts in the outer stage's bar."""

    def __init__(self, outer: Stage, total: int):
        self.outer, self.total, self.count, self.finished = outer, total, 0, False

    def update(self, n: int = 1, **postfix: str) -> None:
        if not self.finished:
            self.count += n
            self.outer.update(n, **postfix)

    def label(self, desc: str) -> None:
        pass

    def finish(self, note: str) -> None:
        self.outer.update(self.total - self.count)  # the outer ETA counts on what is left
        self.finished = True

    def close(self, *, failed: bool = False) -> None:
        pass


class _Silent(Stage):
    def __init__(self):
        self.count = 0

    def update(self, n: int = 1, **postfix: str) -> None:
        pass

    def label(self, desc: str) -> None:
        pass

    def finish(self, note: str) -> None:
        pass

    def close(self, *, failed: bool = False) -> None:
        pass


@contextlib.contextmanager
def stage(
    desc: str, total: int, unit: str, *, enabled: bool, scale: float = 1.0, gathers: bool = True
) -> Iterator[Stage]:
    """The progress of one stage of ``total`` counts, shown as ``total * scale`` units (see
    the module's docstring); stages opened inside it report into it if it ``gathers`` them,
    else they have bars of their own (the files of a batch, each with its stages)."""
    outer = _OUTER.get()
    if outer is not None and enabled:
        inner = _Within(outer, total)
        yield inner
        return
    if not enabled:
        yield _Silent()
        return
    current = Stage(desc, total, unit, bar=watched(), scale=scale)
    token = _OUTER.set(current if gathers else None)
    try:
        yield current
    except BaseException:
        current.close(failed=True)
        raise
    else:
        current.close()
    finally:
        _OUTER.reset(token)
