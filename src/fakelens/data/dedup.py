"""Near-duplicate groups by perceptual hash, so that no copy of an image straddles train and test.

Public face sets hold copies: the same photo re-saved, resized, lightly edited,
or a fake made from a real of the same set. Images whose 64-bit pHash differ in
at most ``max_distance`` bits are put in one group (transitively, with
union-find); a split by these groups keeps every copy on one side.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from tqdm.auto import tqdm

from ..errors import ImageReadError
from ..imaging.imageio import open_image
from ..utils.unionfind import UnionFind


def phash(path: str) -> int | None:
    """The 64-bit perceptual hash of an image (``imagehash.phash``), or None if unreadable."""
    import imagehash

    try:
        return int(str(imagehash.phash(open_image(path))), 16)
    except ImageReadError:
        return None


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


def phashes(paths: Sequence[str], progress: bool = True) -> list[int | None]:
    """The pHash of each image (None where unreadable), with a progress bar."""
    return [phash(p) for p in tqdm(paths, desc="perceptual hashes", unit="img", disable=not progress, leave=False)]


def phash_groups(paths: Sequence[str], max_distance: int = 4, progress: bool = True) -> list[int]:
    """Group indices of near-duplicate images among ``paths`` (an unreadable file is its own group)."""
    return near_duplicate_groups(phashes(paths, progress), max_distance)

