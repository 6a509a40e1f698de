"""Union-find over hashable items: which items end up linked, transitively."""

from __future__ import annotations

from collections import defaultdict
from typing import Hashable, Sequence


class UnionFind:
    def __init__(self) -> None:
        self._parent: dict[Hashable, Hashable] = {}

    def find(self, x: Hashable) -> Hashable:
        """The representative of ``x``'s set (``x`` itself when never linked)."""
        parent = self._parent
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving
            x = parent[x]
        return x

    def union(self, a: Hashable, b: Hashable) -> None:
        """Link the sets of ``a`` and ``b``; the smaller representative wins, so results do not depend on order."""
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            keep, drop = (ra, rb) if ra <= rb else (rb, ra)
            self._parent[drop] = keep


def near_duplicate_groups(hashes: Sequence[int | None], max_distance: int = 4) -> list[int]:
    """A group index per hash; hashes within ``max_distance`` bits share a group.

    Candidates are found by the pigeonhole principle: two hashes within
    ``max_distance`` bits agree exactly on at least one of ``max_distance + 1``
    bit bands, so only images sharing a band are compared.
    """
    n = len(hashes)
    sets = UnionFind()
    bands = max_distance + 1
    width = 64 // bands
    for b in range(bands):
        shift, mask = b * width, (1 << (width if b < bands - 1 else 64 - b * width)) - 1
        buckets: dict[int, list[int]] = defaultdict(list)
        for i, h in enumerate(hashes):
            if h is not None:
                buckets[(h >> shift) & mask].append(i)
        for members in buckets.values():
            for a_i, a in enumerate(members):
                for c in members[a_i + 1 :]:
                    if bin(hashes[a] ^ hashes[c]).count("1") <= max_distance:
                        sets.union(a, c)
    roots = [sets.find(i) for i in range(n)]
    order = {r: k for k, r in enumerate(dict.fromkeys(roots))}
    return [order[r] for r in roots]
