import numpy as np

from fakelens.data.sbi import hull_mask, self_blend
from fakelens.data.synthetic import make_image
from tiny_runs import tiny_config


def test_hull_mask_from_landmarks_covers_the_face_not_the_corners():
    rng = np.random.default_rng(0)
    # eyes, nose, mouth corners of a face centred in a 128 px crop
    lm = np.array([[45, 52], [83, 52], [64, 70], [50, 90], [78, 90]], dtype=float)
    mask = hull_mask((128, 128), lm, rng)
    assert mask.dtype == np.float32 and mask.shape == (128, 128)
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    assert mask[70, 64] > 0.9  # the nose
    assert mask[2, 2] < 0.05 and mask[125, 125] < 0.05  # the corners stay untouched


def test_self_blend_changes_the_face_region_only():
    rng = np.random.default_rng(1)
    face = make_image(rng, 128)[0]
    out = self_blend(face, np.random.default_rng(2), landmarks=np.array([[45, 52], [83, 52], [64, 70], [50, 90], [78, 90]], float))
    assert out.shape == face.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - face.astype(int)).sum(axis=2)
    assert diff[40:100, 40:90].mean() > 3 * (diff[:10, :10].mean() + 0.5)


def test_self_blend_without_a_face_uses_the_crop_framing():
    rng = np.random.default_rng(3)
    flat = np.full((96, 96, 3), 120, np.uint8)
    out = self_blend(flat, rng, find_landmarks=False)
    assert out.shape == flat.shape


def test_a_detector_learns_self_blended_fakes_from_reals_alone(tmp_path):
    """The SBI source type: only real images, pseudo-fakes made on the fly, and the model learns the seam."""
    from PIL import Image

    from fakelens.training import train

    def textured(seed):  # a photo-like picture: random colour blocks, smoothly enlarged, with fine grain
        g = np.random.default_rng(seed)
        img = np.asarray(Image.fromarray(g.integers(0, 256, (6, 6, 3), dtype=np.uint8)).resize((64, 64), Image.BICUBIC), float)
        return np.clip(img + g.normal(0, 6, img.shape), 0, 255).astype(np.uint8)

    from fakelens.data.sbi import self_blend

    for name, n in (("real", 160), ("fake", 40)):  # stored fakes (blends of other pictures) for validation: with sbi=1
        (tmp_path / "data" / name).mkdir(parents=True)  # every training fake is a fresh blend of a training real
        for i in range(n):
            img = textured(i) if name == "real" else self_blend(textured(500 + i), np.random.default_rng(i), find_landmarks=False)
            Image.fromarray(img).save(tmp_path / "data" / name / f"{i}.png")
    cfg = tiny_config(
        [tmp_path / "data"],
        tmp_path / "run",
        epochs=10,
        batch_size=32,
        sbi=1.0,
        framing_jitter=0.0,
        samples_per_epoch=512,
        val_fraction=0.25,
        test_fraction=0.0,
    )
    train(cfg, quiet=True)
    import fakelens

    det = fakelens.load(tmp_path / "run")
    reals = [textured(1000 + i) for i in range(40)]
    blends = [self_blend(r, np.random.default_rng(i), find_landmarks=False) for i, r in enumerate(reals)]
    p_real, p_blend = det.predict_proba(reals), det.predict_proba(blends)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score([0] * 40 + [1] * 40, np.concatenate([p_real, p_blend])) > 0.8
