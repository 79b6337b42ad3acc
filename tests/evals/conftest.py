"""Eval tests: make this folder's helpers importable and keep everything offline."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_HERE = Path(__file__).resolve().parent
for path in (_HERE, _HERE.parents[1]):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
