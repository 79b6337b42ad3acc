"""The HTTP client that CLI commands use to talk to a running Rung."""

from __future__ import annotations

import os
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

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            err.print(f"[red]Cannot reach Rung at {self.url}:[/] {exc}. Is `rung serve` running?")
            raise typer.Exit(2) from exc
        if response.status_code >= 400:
            raise ApiError(response)
        return response


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
