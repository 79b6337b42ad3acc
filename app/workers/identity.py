from __future__ import annotations

import os
import socket
import uuid


def worker_owner() -> str:
    """A lease owner id: host, process and a random suffix (unique per worker loop)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
