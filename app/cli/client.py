"""The HTTP client that CLI commands use to talk to a running Rung."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import httpx
import typer
from rich.console import Console

err = Console(stderr=True)

URL_HELP = "Rung's URL [env RUNG_URL, default http://127.0.0.1:8000]"
KEY_HELP = "your team's API key [env RUNG_API_KEY]"


class ApiClient:
    def __init__(
        self, url: str | None = None, key: str | None = None, timeout: float = 120
    ) -> None:
        self.url = (url or os.environ.get("RUNG_URL") or "http://127.0.0.1:8000").rstrip("/")
        key = key or os.environ.get("RUNG_API_KEY")
        if not key:
            err.print(
                "[red]No API key.[/] Set RUNG_API_KEY or pass --key "
                "(`rung teams create NAME` prints one)."
            )
            raise typer.Exit(2)
        self.http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout
        )
        # One Idempotency-Key per POST of this command: a retry of that POST (lost answer,
        # 503) reuses it, so the server stores it once.
        self._command_key = uuid.uuid4().hex
        self._posts = 0

    def request(
        self, method: str, path: str, *, retries: int = 3, **kwargs: Any
    ) -> httpx.Response:
        if method.upper() == "POST":
            self._posts += 1
            headers = {"Idempotency-Key": f"{self._command_key}-{self._posts}"}
            kwargs["headers"] = {**headers, **(kwargs.get("headers") or {})}
        replayable = method.upper() != "POST" or _replayable(kwargs)
        for attempt in range(retries + 1):
            last = attempt == retries or not replayable
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if not last:
                    time.sleep(0.5 * 2**attempt)
                    continue
                err.print(
                    f"[red]Cannot reach Rung at {self.url}:[/] {exc}. Is `rung serve` running?"
                )
                raise typer.Exit(2) from exc
            if response.status_code == 503 and not last:
                time.sleep(_retry_after(response, default=0.5 * 2**attempt))
                continue
            if response.status_code >= 400:
                raise ApiError(response)
            return response
        raise AssertionError("unreachable")


def _replayable(kwargs: dict[str, Any]) -> bool:
    """A body that can be sent again (not a stream or an open file)."""
    content = kwargs.get("content")
    return "files" not in kwargs and (content is None or isinstance(content, bytes | str))


def _retry_after(response: httpx.Response, *, default: float) -> float:
    try:
        return min(float(response.headers.get("Retry-After", default)), 30.0)
    except ValueError:
        return default


class ApiError(Exception):
    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {"detail": response.text}
        self.detail = str(body.get("detail", body))
        self.errors: list[dict[str, Any]] = body.get("errors") or []
        super().__init__(f"{self.status}: {self.detail}")

    def show(self) -> None:
        err.print(f"[red]Error {self.status}:[/] {self.detail}")
        for item in self.errors[:50]:
            where = ", ".join(f"{k}={v}" for k, v in item.items() if k != "message")
            err.print(f"  - {where}: {item.get('message')}")
        if len(self.errors) > 50:
            err.print(f"  ... and {len(self.errors) - 50} more")
