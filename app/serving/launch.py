"""Run the model server in-process: uvicorn in a thread on 127.0.0.1 and a free port.

Used by tests, the demo and the bench::

    engine = GenerationEngine.load(base=path, adapters={"support": adapter_dir})
    with ModelServerThread(engine) as server:
        client = ChatOpenAI(base_url=server.base_url, api_key="x", model="support")
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from app.serving.engine import BatchingEngine, GenerationEngine, as_batching
from app.serving.server import create_app


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ModelServerThread:
    """The OpenAI-compatible server for ``engine`` (batched) on uvicorn in a daemon thread."""

    def __init__(
        self,
        engine: GenerationEngine | BatchingEngine,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        default_max_tokens: int = 256,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.engine = as_batching(engine)
        self._owns_engine = self.engine is not engine
        config = uvicorn.Config(
            create_app(self.engine, default_max_tokens=default_max_tokens),
            host=host,
            port=self.port,
            log_level="warning",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, name="rung-model-server", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``…/v1``)."""
        return f"{self.url}/v1"

    def start(self, *, timeout_s: float = 60.0) -> ModelServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError(f"the model server failed to start on {self.url}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the model server did not start within {timeout_s:.0f}s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        if self._owns_engine:
            self.engine.close()

    def __enter__(self) -> ModelServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
