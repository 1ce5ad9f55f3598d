"""A per-process micro-batcher: clips from concurrent threads decoded together, each thread given its own.

For a worker that runs several sessions' transcribe steps at once in threads on one model copy (a
``-P threads`` Celery pool, the GPU layout): each step hands its clip to ``MicroBatcher.submit`` and blocks;
the first clip of a group opens a batch and its thread becomes the batch's *leader*. The leader waits up to
``window_s`` for other clips (less when the batch is full, ``max_batch``, or as soon as every thread that
could still add a clip is already waiting in some batch: ``participant``, the threads inside a transcribe
step), then for a decode slot (at most ``max_inflight`` batches decode at once, the model's parallel calls):
while the model is busy the batch stays open and keeps growing, so a saturated worker decodes in batches
and an idle one adds at most the window to a clip. The leader then decodes the whole batch with one
``decode`` call in its own thread and hands each waiter its result (or the call's exception). No background
thread.

Order and idempotency stay the caller's: a session's step submits its clips one after the other and gets
each result before going on, under its session's stage lock, so per-session order is unchanged, and a
result depends only on the clip (``BatchedDecoder`` groups commits by their exact encoder window).

Pure: plain ``threading``, no Django/Celery/Redis.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from analysis.stt.batch import BatchItem, decode_batch
from analysis.stt.engine import ClipText, transcribe_clip

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Batch(Generic[T, R]):
    items: list[T] = field(default_factory=list)
    closed: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    results: Sequence[R] = ()
    error: BaseException | None = None


@dataclass
class BatchStats:
    batches: int = 0
    items: int = 0
    sizes: dict[int, int] = field(default_factory=dict)  # batch size → how many batches
    waited_s: float = 0.0  # leaders' total wait for a batch to fill


class MicroBatcher(Generic[T, R]):
    def __init__(
        self,
        decode: Callable[[list[T]], Sequence[R]],
        *,
        window_s: float = 0.01,
        max_batch: int = 8,
        max_inflight: int = 1,
        group: Callable[[T], Hashable] = lambda _item: None,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._decode = decode
        self.window_s = window_s
        self.max_batch = max(1, max_batch)
        self.max_inflight = max(1, max_inflight)  # batches decoding at once (WHISPER_NUM_WORKERS)
        self._inflight = 0
        self._group = group
        self._on_batch = on_batch  # called with each batch's size before it decodes (metrics)
        self._cond = threading.Condition()
        self._open: dict[Hashable, _Batch[T, R]] = {}
        self._participants = 0  # threads that may submit (inside a transcribe step); 0 = unknown
        self._waiting = 0  # clips submitted whose batch has not been decoded yet
        self.stats = BatchStats()

    @contextmanager
    def participant(self) -> Iterator[None]:
        """Mark this thread as one that may submit soon: a batch stops waiting once all of them are in."""
        with self._cond:
            self._participants += 1
        try:
            yield
        finally:
            with self._cond:
                self._participants -= 1
                self._cond.notify_all()

    def _all_in(self) -> bool:
        return self._participants > 0 and self._waiting >= self._participants

    def submit(self, item: T) -> R:
        key = self._group(item)
        with self._cond:
            batch = self._open.get(key)
            leader = batch is None
            if batch is None:
                batch = _Batch()
                self._open[key] = batch
            index = len(batch.items)
            batch.items.append(item)
            self._waiting += 1
            if len(batch.items) >= self.max_batch:
                self._close(key, batch)
            self._cond.notify_all()
        if leader:
            self._lead(key, batch)
        else:
            batch.done.wait()
        if batch.error is not None:
            raise batch.error
        return batch.results[index]

    def _close(self, key: Hashable, batch: _Batch[T, R]) -> None:
        batch.closed = True
        if self._open.get(key) is batch:
            del self._open[key]

    def _lead(self, key: Hashable, batch: _Batch[T, R]) -> None:
        started = time.monotonic()
        deadline = started + self.window_s
        with self._cond:
            # 1. the window: other sessions' clips may be a few ms away
            while not batch.closed and not self._all_in():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            # 2. a decode slot: while the model is busy with other batches the batch stays open and grows
            # (a clip would queue behind those calls anyway), so a saturated worker decodes in batches
            while self._inflight >= self.max_inflight:
                self._cond.wait()
            self._inflight += 1
            self._close(key, batch)
            items = list(batch.items)
            self.stats.batches += 1
            self.stats.items += len(items)
            self.stats.sizes[len(items)] = self.stats.sizes.get(len(items), 0) + 1
            self.stats.waited_s += time.monotonic() - started
        try:
            if self._on_batch is not None:
                self._on_batch(len(items))
            results = self._decode(items)
            if len(results) != len(items):
                raise RuntimeError(f"batch decode returned {len(results)} results for {len(items)} items")
            batch.results = results
        except BaseException as exc:  # every waiter gets it, the leader re-raises it in submit
            batch.error = exc
        finally:
            with self._cond:
                # its waiters are answered: none of them is blocked any more (they may submit again at once)
                self._waiting -= len(items)
                self._inflight -= 1
                self._cond.notify_all()
            batch.done.set()


class BatchedDecoder:
    """``transcribe_clip`` through a ``MicroBatcher`` (``StreamingTranscriber(decode=...)``).

    Batched: clips with a fixed language in the short-window modes (every commit with
    ``commit_context="short"``, and partials when ``partials``). Decoded alone as before: hotword-biased
    commits (their refusal and retry are per clip), clips whose language is still being detected, and
    full-window commits.
    """

    def __init__(self, model: Any, *, window_s: float, max_batch: int, max_inflight: int = 1,
                 partials: bool = True, on_batch: Callable[[int], None] | None = None) -> None:
        self.model = model
        self.partials = partials
        self.batcher: MicroBatcher[Any, ClipText] = MicroBatcher(
            lambda items: decode_batch(model, items), window_s=window_s, max_batch=max_batch,
            max_inflight=max_inflight, group=lambda item: item.group(), on_batch=on_batch,
        )

    def participant(self) -> Any:
        return self.batcher.participant()

    def __call__(self, model: Any, audio: np.ndarray, *, language: str | None, beam_size: int, word_timestamps: bool,
                 short_window: bool, window_pad_s: float | None = None, hotwords: str = "") -> ClipText:
        partial = window_pad_s is not None
        if model is not self.model or hotwords or not language or not short_window or (partial and not self.partials):
            return transcribe_clip(model, audio, language=language, beam_size=beam_size,
                                   word_timestamps=word_timestamps, short_window=short_window,
                                   window_pad_s=window_pad_s, hotwords=hotwords)
        item = BatchItem(audio=audio, language=language, beam_size=beam_size, word_timestamps=word_timestamps,
                          window_pad_s=window_pad_s, exact_window=not partial)
        return self.batcher.submit(item)
