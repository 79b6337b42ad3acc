"""Near-duplicate rows: MinHash over character 5-grams of the normalised text, with LSH banding.

Memory is bounded: signatures are kept for at most ``max_rows`` rows (32 x 4 bytes each, about
6.4 MB for the default 50,000), in numpy arrays; rows past that are not compared (the report says
so). Candidate pairs share a band of 4 signature values; a pair is reported when the estimated
Jaccard similarity of their shingle sets is at least ``threshold``.
"""

from __future__ import annotations

import re

import numpy as np

_WORDS = re.compile(r"\w+")
BATCH = 128
PAIR_CHUNK = 50_000
MAX_CHARS = 1000


def normalised_text(text: str) -> str:
    """Lower case, words only, single spaces: what near-duplicate matching compares."""
    return " ".join(_WORDS.findall(text.lower()))


class NearDuplicateFinder:
    def __init__(
        self,
        *,
        max_rows: int = 50_000,
        num_perm: int = 32,
        bands: int = 8,
        shingle: int = 5,
        threshold: float = 0.8,
        seed: int = 1,
    ) -> None:
        if num_perm % bands:
            raise ValueError("num_perm must be a multiple of bands")
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, 1 << 63, size=num_perm, dtype=np.uint64) | np.uint64(1)
        self.b = rng.integers(0, 1 << 63, size=num_perm, dtype=np.uint64)
        self.max_rows = max_rows
        self.bands = bands
        self.shingle = shingle
        self.threshold = threshold
        self.signatures = np.zeros((min(max_rows, 1024), num_perm), dtype=np.uint32)
        self.lines = np.zeros(min(max_rows, 1024), dtype=np.int64)
        self.count = 0
        self.skipped = 0
        self._pending: list[tuple[int, bytes]] = []

    def add(self, *, line: int, text: str) -> None:
        """Queue one row; signatures are computed in batches (one numpy pass per batch)."""
        if self.count + len(self._pending) >= self.max_rows:
            self.skipped += 1
            return
        data = normalised_text(text[:MAX_CHARS]).encode()
        if not data:
            return
        if len(data) < self.shingle:
            data = data.ljust(self.shingle)
        self._pending.append((line, data))
        if len(self._pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        lines = np.array([line for line, _ in self._pending], dtype=np.int64)
        texts = [data for _, data in self._pending]
        self._pending = []
        n = self.shingle
        lengths = np.array([len(t) for t in texts], dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        buffer = np.frombuffer(b"".join(texts), dtype=np.uint8)
        windows = np.lib.stride_tricks.sliding_window_view(buffer, n).astype(np.uint64)
        shifts = np.arange(n, dtype=np.uint64) * np.uint64(8)
        hashes = (windows << shifts).sum(axis=1, dtype=np.uint64)
        counts = lengths - n + 1  # windows that stay inside their own row
        index = np.concatenate([np.arange(a, a + c) for a, c in zip(starts, counts, strict=True)])
        offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
        # multiply-shift hashing (a*h + b mod 2**64, top 32 bits): a universal family without
        # the cost of a modulo
        permuted = (hashes[index][:, None] * self.a[None, :] + self.b[None, :]) >> np.uint64(32)
        signatures = np.minimum.reduceat(permuted, offsets, axis=0)
        end = self.count + len(texts)
        if end > len(self.lines):
            grow = min(max(len(self.lines) * 2, end), self.max_rows)
            self.signatures = np.resize(self.signatures, (grow, self.signatures.shape[1]))
            self.lines = np.resize(self.lines, grow)
        self.signatures[self.count : end] = signatures.astype(np.uint32)
        self.lines[self.count : end] = lines
        self.count = end

    def pairs(self) -> list[tuple[int, int, float]]:
        """(line, earlier similar line, estimated Jaccard), one per later row, by line."""
        self._flush()
        if self.count < 2:  # nothing to pair (an empty or one-row file, or every row invalid)
            return []
        sigs = self.signatures[: self.count]
        lines = self.lines[: self.count]
        width = sigs.shape[1] // self.bands
        keys: list[np.ndarray] = []
        for band in range(self.bands):
            block = np.ascontiguousarray(sigs[:, band * width : (band + 1) * width])
            band_keys = block.view(np.dtype((np.void, block.dtype.itemsize * width))).ravel()
            order = np.argsort(band_keys, kind="stable")  # stable: groups list rows in file order
            sorted_keys = band_keys[order]
            new_group = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
            group_first = order[np.nonzero(new_group)[0][np.cumsum(new_group) - 1]]
            members = np.nonzero(~new_group)[0]
            keys.append(order[members].astype(np.int64) * self.count + group_first[members])
        if not keys:
            return []
        candidates = np.unique(np.concatenate(keys))  # one (later, first) pair per band match
        if candidates.size == 0:
            return []
        later_all, first_all = candidates // max(self.count, 1), candidates % max(self.count, 1)
        found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for at in range(0, candidates.size, PAIR_CHUNK):  # bounded temporary arrays
            later, first = later_all[at : at + PAIR_CHUNK], first_all[at : at + PAIR_CHUNK]
            similarity = (sigs[first] == sigs[later]).mean(axis=1)
            keep = similarity >= self.threshold
            found.append((later[keep], first[keep], similarity[keep]))
        later = np.concatenate([f[0] for f in found])
        first = np.concatenate([f[1] for f in found])
        similarity = np.concatenate([f[2] for f in found])
        if later.size == 0:
            return []
        order = np.lexsort((-similarity, later))  # per later row, the most similar first
        later, first, similarity = later[order], first[order], similarity[order]
        unique = np.r_[True, later[1:] != later[:-1]]
        return [
            (int(lines[a]), int(lines[b]), float(sim))
            for a, b, sim in zip(later[unique], first[unique], similarity[unique], strict=True)
        ]
