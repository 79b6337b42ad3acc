"""Headers of file downloads that any stored name can travel in."""

from __future__ import annotations

import re
from urllib.parse import quote


def attachment(filename: str) -> str:
    """A Content-Disposition for ``filename``: an ASCII fallback plus the exact name in RFC 6266
    ``filename*`` form, so a name in any script, or holding CR/LF or quotes, never breaks the
    header (a dataset named with CR LF used to drop the connection)."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("._") or "download"
    exact = quote(filename.encode("utf-8", "replace"), safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"
