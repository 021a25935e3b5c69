"""Keep N analyses in flight (a server backend that batches requests, or batch mode).

`run_concurrently` runs `analyze_one` on a small thread pool and reports each result in the
caller's thread, in completion order, so the caller can print and write results without locks.
The items are usually image paths; `lte-train eval` passes its records' indices.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
Item = TypeVar("Item", bound=Path | int)


def run_concurrently(
    analyze_one: Callable[[Item], T],
    items: list[Item],
    concurrency: int,
    on_done: Callable[[Item, T | None, BaseException | None], None],
    should_stop: Callable[[], bool] | None = None,
) -> None:
    """Analyse `items` (image paths, or indices into a list) with at most `concurrency` calls of
    `analyze_one` running at once.

    `on_done(item, result, None)` or `on_done(item, None, error)` is called in this thread as
    each call finishes (completion order). Once `should_stop()` is true no new item is started;
    the ones in flight are still waited for and reported (make `analyze_one` watch the same flag
    so they end quickly). If `on_done` raises, or this thread is interrupted, nothing new starts
    and the exception propagates without waiting for the calls in flight.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    stop = should_stop or (lambda: False)
    pending = iter(enumerate(items))
    running: dict[Future, tuple[int, Item]] = {}
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="lte-analyze")
    try:

        def fill() -> None:
            while len(running) < concurrency and not stop():
                item = next(pending, None)
                if item is None:
                    return
                running[pool.submit(analyze_one, item[1])] = item

        fill()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            # calls that finished together are reported in input order (stable output)
            for future in sorted(done, key=lambda f: running[f][0]):
                _, item = running.pop(future)
                error = future.exception()
                on_done(item, None if error is not None else future.result(), error)
            fill()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
