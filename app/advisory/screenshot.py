"""Screenshot a rendered report: `python -m app.advisory.screenshot REPORT.html OUT.png`.

Options: `--width` of the viewport in CSS pixels (default 1200), `--viewport-only` to capture
only the first screen instead of the whole page, `--pdf` to print to PDF instead (A4, as the
print stylesheet lays it out). Any request the page makes beyond its own file is blocked and
reported; a self-contained report makes none.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.advisory.browser import ChromiumNotFoundError, chromium

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Route

LOCAL_SCHEMES = ("file:", "data:", "about:")


def capture(
    report: Path,
    out: Path,
    *,
    width: int = 1200,
    full_page: bool = True,
    pdf: bool = False,
    browser: Browser | None = None,
) -> list[str]:
    """Render `report` in headless Chromium into `out`; returns the blocked outside requests.

    Pass `browser` to reuse a running one; otherwise one is launched and closed.
    """
    if not report.is_file():
        raise FileNotFoundError(f"no report at {report}: render one first")
    blocked: list[str] = []

    def _route(route: Route) -> None:
        url = route.request.url
        if url.startswith(LOCAL_SCHEMES):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    def _shoot(running: Browser) -> None:
        page = running.new_page(viewport={"width": width, "height": 900})
        try:
            page.route("**/*", _route)
            page.goto(report.resolve().as_uri(), wait_until="load")
            out.parent.mkdir(parents=True, exist_ok=True)
            if pdf:
                page.pdf(path=str(out), format="A4", print_background=True)
            else:
                page.screenshot(path=str(out), full_page=full_page)
        finally:
            page.close()

    if browser is not None:
        _shoot(browser)
    else:
        with chromium() as launched:
            _shoot(launched)
    return blocked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.advisory.screenshot", description="Screenshot a Rung HTML report."
    )
    parser.add_argument("report", type=Path, help="the report's .html file")
    parser.add_argument("out", type=Path, help="where to write the .png (or .pdf with --pdf)")
    parser.add_argument("--width", type=int, default=1200, help="viewport width in CSS pixels")
    parser.add_argument("--viewport-only", action="store_true", help="only the first screen")
    parser.add_argument("--pdf", action="store_true", help="print to an A4 PDF instead")
    args = parser.parse_args(argv)
    try:
        blocked = capture(
            args.report,
            args.out,
            width=args.width,
            full_page=not args.viewport_only,
            pdf=args.pdf,
        )
    except (FileNotFoundError, ChromiumNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for url in blocked:
        print(f"warning: blocked an outside request: {url}", file=sys.stderr)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
