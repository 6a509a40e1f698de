"""Near-duplicate groups by perceptual hash, so that no copy of an image straddles train and test.

Public face sets hold copies: the same photo re-saved, resized, lightly edited,
or a fake made from a real of the same set. Images whose 64-bit pHash differ in
at most ``max_distance`` bits are put in one group (transitively, with
union-find); a split by these groups keeps every copy on one side.
"""

from __future__ import annotations

from typing import Sequence

from tqdm.auto import tqdm

from ..errors import ImageReadError
from ..imaging.imageio import open_image
from ..utils.unionfind import near_duplicate_groups


def phash(path: str) -> int | None:
    """The 64-bit perceptual hash of an image (``imagehash.phash``), or None if unreadable."""
    import imagehash

    try:
        return int(str(imagehash.phash(open_image(path))), 16)
    except ImageReadError:
        return None


def phashes(paths: Sequence[str], progress: bool = True) -> list[int | None]:
    """The pHash of each image (None where unreadable), with a progress bar."""
    return [phash(p) for p in tqdm(paths, desc="perceptual hashes", unit="img", disable=not progress, leave=False)]


def phash_groups(paths: Sequence[str], max_distance: int = 4, progress: bool = True) -> list[int]:
    """Group indices of near-duplicate images among ``paths`` (an unreadable file is its own group)."""
    return near_duplicate_groups(phashes(paths, progress), max_distance)
