"""Headless Chromium for rendering reports: Debian's /usr/bin/chromium driven by Playwright.

Playwright's own browser download (`playwright install`) is never used; the system Chromium is
launched with the background network features switched off, so rendering a report makes no
request beyond the page itself. Playwright is an optional (dev) package: it is imported only
when a browser is launched, and its absence is reported like a missing Chromium.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM_ENV = "RUNG_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class ChromiumNotFoundError(RuntimeError):
    """No Chromium binary to render with."""


def chromium_path() -> str:
    """The Chromium binary: $RUNG_CHROMIUM, else /usr/bin/chromium, else `chromium` on PATH."""
    candidates = [os.environ.get(CHROMIUM_ENV), DEFAULT_CHROMIUM, shutil.which("chromium")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ChromiumNotFoundError(
        "Chromium was not found: install it (Debian: `apt-get install -y chromium`) or set "
        f"{CHROMIUM_ENV} to the browser binary. Do not use `playwright install`."
    )


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium browser, closed on exit."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise ChromiumNotFoundError(
            "Python Playwright is not installed: it drives Chromium to render reports "
            "(pip install playwright, part of the dev extra; never `playwright install`)"
        ) from exc
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
