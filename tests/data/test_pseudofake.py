import cv2
import numpy as np
import pytest

from fakelens.data import pseudofake as pf
from fakelens.imaging.landmarks import EYES, MOUTH


def template_landmarks(size: int, scale: float = 0.5, shift=(0.0, 0.0), angle: float = 0.0) -> np.ndarray:
    """A plausible iBUG 68-point face: jaw arc, brows, nose, eyes, mouth; ``scale`` of the image wide."""
    t = np.linspace(0, np.pi, 17)
    jaw = np.stack([-0.5 * np.cos(t), -0.1 + 0.6 * np.sin(t)], axis=1)
    brows = np.concatenate(
        [np.stack([np.linspace(-0.4, -0.1, 5), np.full(5, -0.28)], 1), np.stack([np.linspace(0.1, 0.4, 5), np.full(5, -0.28)], 1)]
    )
    nose = np.concatenate(
        [np.stack([np.zeros(4), np.linspace(-0.18, 0.1, 4)], 1), np.stack([np.linspace(-0.08, 0.08, 5), np.full(5, 0.15)], 1)]
    )
    a = np.linspace(0, 2 * np.pi, 7)[:-1]
    eyes = np.concatenate([np.stack([c + 0.09 * np.cos(a), -0.15 + 0.035 * np.sin(a)], 1) for c in (-0.22, 0.22)])
    a12, a8 = np.linspace(0, 2 * np.pi, 13)[:-1], np.linspace(0, 2 * np.pi, 9)[:-1]
    mouth = np.concatenate(
        [np.stack([0.17 * np.cos(a12), 0.3 + 0.06 * np.sin(a12)], 1), np.stack([0.11 * np.cos(a8), 0.3 + 0.02 * np.sin(a8)], 1)]
    )
    unit = np.concatenate([jaw, brows, nose, eyes, mouth])
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    unit = unit @ np.array([[c, s], [-s, c]])
    return (unit * scale * size + np.array([size / 2 + shift[0], size / 2 + shift[1]])).astype(np.float32)


def face_image(size: int, seed: int, lm: np.ndarray) -> np.ndarray:
    """Textured background, a skin-coloured face over the landmarks, dark eyes and a red mouth."""
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.integers(0, 255, (size, size, 3), dtype=np.uint8), (0, 0), 2)
    skin = tuple(int(v) for v in rng.integers(120, 220, 3))
    cv2.fillConvexPoly(img, cv2.convexHull(np.round(lm).astype(np.int32)), skin)
    for part, colour in ((slice(36, 42), (40, 30, 30)), (slice(42, 48), (40, 30, 30)), (slice(48, 60), (170, 60, 60))):
        cv2.fillConvexPoly(img, cv2.convexHull(np.round(lm[part]).astype(np.int32)), colour)
    noise = rng.normal(0, 6, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


SIZE = 160
LM = template_landmarks(SIZE)
FACE = face_image(SIZE, 0, LM)
DONOR_LM = template_landmarks(SIZE, 0.48, (4, -3), 5)
DONOR = face_image(SIZE, 1, DONOR_LM)


def make(family: str, seed: int) -> pf.PseudoFake:
    rng = np.random.default_rng(seed)
    if family == "sbi":
        return pf.self_blend68(FACE, LM, rng)
    if family == "xray":
        return pf.xray_blend(FACE, LM, DONOR, DONOR_LM, rng)
    return pf.region_blend(FACE, LM, rng)


def hull_with_forehead(lm: np.ndarray, grow: float) -> np.ndarray:
    mask = pf.polygon_mask((SIZE, SIZE), np.concatenate([lm, pf.forehead_points(lm, 0.5)]))
    k = int(grow * SIZE)
    return cv2.dilate(mask, np.ones((2 * k + 1, 2 * k + 1), np.uint8)) if k else mask


@pytest.mark.parametrize("family", pf.FAMILIES)
@pytest.mark.parametrize("seed", range(6))
def test_each_family_changes_only_the_face_inside_its_mask(family, seed):
    out = make(family, seed)
    assert out.image.shape == FACE.shape and out.image.dtype == np.uint8
    assert out.mask.shape == FACE.shape[:2] and out.mask.dtype == np.float32
    assert 0 <= out.mask.min() and out.mask.max() <= 1 and out.mask.max() > 0.2
    # the mask lies on the face: nearly all its weight inside the hull (forehead included), none far outside it
    assert (out.mask * hull_with_forehead(LM, 0.05)).sum() / out.mask.sum() > 0.9
    assert out.mask[hull_with_forehead(LM, 0.25) == 0].max(initial=0) == 0
    # outside the mask the picture is the target, bit for bit; inside it has changed
    outside = out.mask == 0
    np.testing.assert_array_equal(out.image[outside], out.target[outside])
    inside = out.mask > 0.5 * out.mask.max()
    assert np.abs(out.image[inside].astype(int) - out.target[inside].astype(int)).mean() > 1.0
    if family != "sbi":  # only SBI may jitter the target itself
        np.testing.assert_array_equal(out.target, FACE)


@pytest.mark.parametrize("family", pf.FAMILIES)
def test_a_seed_gives_the_same_pseudo_fake(family):
    a, b, c = make(family, 7), make(family, 7), make(family, 8)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, c.image)


def test_sbi_jitters_source_or_target_and_blends_at_several_ratios():
    outs = [make("sbi", s) for s in range(40)]
    target_kept = [np.array_equal(o.target, FACE) for o in outs]
    assert 0 < sum(target_kept) < len(outs)  # sometimes the source is jittered, sometimes the target
    assert len({round(float(o.mask.max()), 2) for o in outs}) >= 3  # partial and full blends


@pytest.mark.parametrize("region, kept", [("mouth", EYES), ("eyes", MOUTH)])
def test_region_blends_touch_their_region_only(region, kept):
    for seed in range(5):
        out = pf.region_blend(FACE, LM, np.random.default_rng(seed), region=region)
        elsewhere = pf.polygon_mask((SIZE, SIZE), LM[kept]) > 0
        assert out.mask[elsewhere].max() == 0
        np.testing.assert_array_equal(out.image[elsewhere], FACE[elsewhere])
        part = pf.polygon_mask((SIZE, SIZE), LM[MOUTH if region == "mouth" else EYES]) > 0
        assert out.mask[part].mean() > 0.3


def test_region_blend_from_a_donor():
    out = pf.region_blend(FACE, LM, np.random.default_rng(0), region="mouth", donor=DONOR, donor_lm=DONOR_LM)
    assert out.image.shape == FACE.shape and (out.mask > 0).any()
    with pytest.raises(ValueError, match="unknown region"):
        pf.region_blend(FACE, LM, np.random.default_rng(0), region="nose")


def test_the_nearest_donor_is_the_same_shape_moved_not_another_shape():
    rng = np.random.default_rng(0)
    moved = template_landmarks(SIZE, 0.4, (10, -5), 12) + rng.normal(0, 0.3, (68, 2))
    other = LM.copy()
    other[MOUTH, 1] += 12  # a longer face
    other[:17] *= [1.1, 1.0]
    assert pf.nearest_donor(LM, [other, moved]) == 1
    assert pf.nearest_donor(LM, [moved, other]) == 0


def test_the_donor_is_aligned_onto_the_target():
    matrix = pf.similarity_to(DONOR_LM, LM)
    moved = cv2.transform(DONOR_LM[None], matrix)[0]
    assert np.abs(moved - LM).max() < 1.5


def test_colour_transfer_matches_the_target_inside_the_region():
    region = pf.polygon_mask((SIZE, SIZE), LM)
    out = pf.colour_transfer(DONOR, FACE, region)
    lab = lambda x: cv2.cvtColor(x, cv2.COLOR_RGB2LAB)[region > 0].astype(float).mean(axis=0)  # noqa: E731
    assert np.abs(lab(out) - lab(FACE)).max() < 3 < np.abs(lab(DONOR) - lab(FACE)).max()
