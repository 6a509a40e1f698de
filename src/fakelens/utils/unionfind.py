"""Union-find over hashable items: which items end up linked, transitively."""
from __future__ import annotations

from typing import Hashable


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
