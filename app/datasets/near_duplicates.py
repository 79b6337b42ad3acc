"""Near-duplicate rows: MinHash over character 5-grams of the normalised text, with LSH banding.

Memory is bounded: signatures are kept for at most ``max_rows`` rows (32 x 4 bytes each, about
13 MB for the default 100,000), in numpy arrays; rows past that are not compared (the report says
so). Candidate pairs share a band of 4 signature values; a pair is reported when the estimated
Jaccard similarity of their shingle sets is at least ``threshold``.
"""

from __future__ import annotations

import re

import numpy as np

_WORDS = re.compile(r"\w+")
_PRIME = np.uint64((1 << 61) - 1)


def normalised_text(text: str) -> str:
    """Lower case, words only, single spaces: what near-duplicate matching compares."""
    return " ".join(_WORDS.findall(text.lower()))


class NearDuplicateFinder:
    def __init__(
        self,
        *,
        max_rows: int = 100_000,
        num_perm: int = 32,
        bands: int = 8,
        shingle: int = 5,
        threshold: float = 0.8,
        seed: int = 1,
    ) -> None:
        if num_perm % bands:
            raise ValueError("num_perm must be a multiple of bands")
        rng = np.random.default_rng(seed)
        # (a * h + b) mod p with a, b below p; the product wraps in uint64 as in datasketch,
        # which keeps the permutations well mixed.
        self.a = rng.integers(1, (1 << 61) - 1, size=num_perm, dtype=np.uint64)
        self.b = rng.integers(0, (1 << 61) - 1, size=num_perm, dtype=np.uint64)
        self.max_rows = max_rows
        self.bands = bands
        self.shingle = shingle
        self.threshold = threshold
        self.signatures = np.zeros((min(max_rows, 1024), num_perm), dtype=np.uint32)
        self.lines = np.zeros(min(max_rows, 1024), dtype=np.int64)
        self.count = 0
        self.skipped = 0

    def add(self, *, line: int, text: str) -> None:
        if self.count >= self.max_rows:
            self.skipped += 1
            return
        data = np.frombuffer(normalised_text(text[:4000]).encode(), dtype=np.uint8)
        if data.size == 0:
            return
        n = min(self.shingle, data.size)
        windows = np.lib.stride_tricks.sliding_window_view(data, n).astype(np.uint64)
        shifts = np.arange(n, dtype=np.uint64) * np.uint64(8)
        hashes = np.unique((windows << shifts).sum(axis=1, dtype=np.uint64))
        permuted = (hashes[:, None] * self.a[None, :] + self.b[None, :]) % _PRIME
        if self.count == len(self.lines):
            grow = min(len(self.lines) * 2, self.max_rows)
            self.signatures = np.resize(self.signatures, (grow, self.signatures.shape[1]))
            self.lines = np.resize(self.lines, grow)
        self.signatures[self.count] = (permuted.min(axis=0) & np.uint64(0xFFFFFFFF)).astype(
            np.uint32
        )
        self.lines[self.count] = line
        self.count += 1

    def pairs(self) -> list[tuple[int, int, float]]:
        """(line, earlier similar line, estimated Jaccard), one per later row, by line."""
        sigs = self.signatures[: self.count]
        lines = self.lines[: self.count]
        width = sigs.shape[1] // self.bands
        laters: list[np.ndarray] = []
        firsts: list[np.ndarray] = []
        for band in range(self.bands):
            block = np.ascontiguousarray(sigs[:, band * width : (band + 1) * width])
            keys = block.view(np.dtype((np.void, block.dtype.itemsize * width))).ravel()
            order = np.argsort(keys, kind="stable")  # stable: a group lists rows in file order
            sorted_keys = keys[order]
            new_group = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
            group_first = order[np.nonzero(new_group)[0][np.cumsum(new_group) - 1]]
            members = np.nonzero(~new_group)[0]
            laters.append(order[members])
            firsts.append(group_first[members])
        if not laters:
            return []
        later = np.concatenate(laters)
        first = np.concatenate(firsts)
        if later.size == 0:
            return []
        similarity = (sigs[first] == sigs[later]).mean(axis=1)
        keep = similarity >= self.threshold
        later, first, similarity = later[keep], first[keep], similarity[keep]
        if later.size == 0:
            return []
        # one pair per later row: the most similar earlier row
        order = np.lexsort((-similarity, later))
        later, first, similarity = later[order], first[order], similarity[order]
        unique = np.r_[True, later[1:] != later[:-1]]
        return [
            (int(lines[a]), int(lines[b]), float(sim))
            for a, b, sim in zip(later[unique], first[unique], similarity[unique], strict=True)
        ]
