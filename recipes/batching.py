"""Dynamic batching over `recipes.generation`: requests that arrive together run together.

``BatchingEngine.submit`` validates a request in the caller's thread (unknown model, context too
long: raised at once) and queues it. One scheduler thread takes the oldest waiting request, waits
a few milliseconds for its neighbours to arrive (until none came for ``gather_s`` or
``max_wait_s`` passed), and runs every waiting request with the same weights and sampling
settings (up to ``max_rows`` sequences) as one left-padded ``generate`` call. Tokens are handed to
each request as they are produced, so streaming and plain answers share the same batches.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from recipes.generation import (
    GenerationEngine,
    GenerationOutput,
    PreparedRequest,
    SamplingParams,
    cut_at_stop,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delta:
    """New text of choice ``choice`` since the last delta."""

    choice: int
    text: str


class PendingGeneration:
    """A queued request: iterate ``events()`` for deltas, or call ``result()`` for the output."""

    def __init__(self, request: PreparedRequest, engine: GenerationEngine) -> None:
        self.request = request
        self._engine = engine
        self._events: queue.Queue[Delta | GenerationOutput | BaseException] = queue.Queue()
        self._sent: dict[int, int] = {}
        self._hold = max((len(s) for s in request.params.stop), default=1) - 1
        self.stream_deltas = False

    # called from the scheduler thread
    def on_tokens(self, choice: int, tokens: list[int]) -> None:
        if not self.stream_deltas:
            return
        text = self._engine.decode(tokens)
        if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
            return
        cut = cut_at_stop(text, self.request.params.stop)
        visible = text[:cut] if cut is not None else text[: max(0, len(text) - self._hold)]
        sent = self._sent.get(choice, 0)
        if len(visible) > sent:
            self._sent[choice] = len(visible)
            self._events.put(Delta(choice=choice, text=visible[sent:]))

    def finish(self, output: GenerationOutput | BaseException) -> None:
        if isinstance(output, GenerationOutput) and self.stream_deltas:
            for index, choice in enumerate(output.choices):  # what the hold-back kept
                sent = self._sent.get(index, 0)
                if len(choice.text) > sent:
                    self._events.put(Delta(choice=index, text=choice.text[sent:]))
        self._events.put(output)

    # called by the client
    def events(self, timeout: float | None = None) -> Iterator[Delta | GenerationOutput]:
        """Deltas as they come, then the final output; raises the generation's error."""
        while True:
            event = self._events.get(timeout=timeout)
            if isinstance(event, BaseException):
                raise event
            yield event
            if isinstance(event, GenerationOutput):
                return

    def next_event(self, timeout: float | None = None) -> Delta | GenerationOutput:
        event = self._events.get(timeout=timeout)
        if isinstance(event, BaseException):
            raise event
        return event

    def result(self, timeout: float | None = None) -> GenerationOutput:
        for event in self.events(timeout=timeout):
            if isinstance(event, GenerationOutput):
                return event
        raise RuntimeError("generation ended without an output")


class BatchingEngine:
    """Batches concurrent requests over one GenerationEngine in a scheduler thread."""

    def __init__(
        self,
        engine: GenerationEngine,
        *,
        max_rows: int = 16,
        gather_s: float = 0.01,
        max_wait_s: float = 0.05,
    ) -> None:
        self.engine = engine
        self.max_rows = max_rows
        self.gather_s = gather_s
        self.max_wait_s = max_wait_s
        self._waiting: list[PendingGeneration] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="rung-batching", daemon=True)
        self._thread.start()
        self.batches = 0  # how many generate calls ran (for tests and stats)
        self.batched_requests = 0

    # the engine's read-only surface, so a server can take either
    @property
    def model_names(self) -> list[str]:
        return self.engine.model_names

    def check_model(self, name: str) -> None:
        self.engine.check_model(name)

    def submit(
        self,
        *,
        model: str,
        messages: list[dict[str, str]],
        max_tokens: int = 256,
        temperature: float = 1.0,
        top_p: float = 1.0,
        n: int = 1,
        seed: int | None = None,
        stop: Sequence[str] | None = None,
        stream: bool = False,
    ) -> PendingGeneration:
        """Validate and queue one request (raises a ServingError for a bad one)."""
        params = SamplingParams(
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            n=n,
            seed=seed,
            stop=tuple(s for s in stop or () if s),
        )
        request = self.engine.prepare(model=model, messages=messages, params=params)
        pending = PendingGeneration(request, self.engine)
        pending.stream_deltas = stream
        with self._cond:
            if self._closed:
                raise RuntimeError("the batching engine is closed")
            self._waiting.append(pending)
            self._cond.notify()
        return pending

    def generate(self, **kwargs: Any) -> GenerationOutput:
        """Blocking: submit and wait (same arguments as GenerationEngine.generate)."""
        return self.submit(**kwargs).result()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=30)

    def _take_batch(self) -> list[PendingGeneration] | None:
        with self._cond:
            while not self._waiting and not self._closed:
                self._cond.wait()
            if self._closed and not self._waiting:
                return None
            # gather: let requests sent at the same moment arrive
            start = time.monotonic()
            seen = len(self._waiting)
            while time.monotonic() - start < self.max_wait_s:
                self._cond.wait(timeout=self.gather_s)
                if len(self._waiting) == seen:
                    break
                seen = len(self._waiting)
            head = self._waiting[0].request
            key = (self.engine.weights_key(head.model), head.params.batch_key())
            batch: list[PendingGeneration] = []
            rows = 0
            seeded = head.params.seed is not None and not head.params.greedy
            for pending in list(self._waiting):
                if seeded and batch:  # a seed reproduces its output only when generated alone
                    break
                request = pending.request
                if (self.engine.weights_key(request.model), request.params.batch_key()) != key:
                    continue
                if batch and rows + request.rows > self.max_rows:
                    break
                batch.append(pending)
                rows += request.rows
            for pending in batch:
                self._waiting.remove(pending)
            return batch

    def _loop(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            self.batches += 1
            self.batched_requests += len(batch)

            def on_step(index: int, choice: int, tokens: list[int], batch=batch) -> None:
                batch[index].on_tokens(choice, tokens)

            try:
                outputs = self.engine.generate_batch([p.request for p in batch], on_step=on_step)
            except Exception as exc:
                logger.exception("generation failed for a batch of %d", len(batch))
                for pending in batch:
                    pending.finish(exc)
                continue
            for pending, output in zip(batch, outputs, strict=True):
                pending.finish(output)
