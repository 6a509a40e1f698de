import numpy as np
import pytest

from fakelens.inference.calibration import Bands, Calibration, verdict_with_score
from fakelens.inference.tta import VIEW_SETS
from fakelens.stats.calibration import fit_bands


def test_bands_meet_the_precision_and_accusation_limits_on_the_data_they_were_fitted_on():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 4000)
    p = np.clip(rng.normal(0.3 + 0.4 * y, 0.18), 0, 1)
    bands = fit_bands(y, p, precision=0.9, max_real_called_fake=0.03)
    fake, real = p >= bands.fake_from, p < bands.real_below
    assert (y[fake] == 1).mean() >= 0.9
    assert fake[y == 0].mean() <= 0.03
    assert (y[real] == 0).mean() >= 0.9
    assert bands.real_below <= bands.fake_from
    assert bands.fitted["share_uncertain"] == pytest.approx((~fake & ~real).mean())


def test_per_source_bands_keep_every_source_under_the_accusation_limit():
    # Two populations of real photos: one the detector finds far more fake-looking (e.g. studio portraits).
    rng = np.random.default_rng(3)
    n = 3000
    y = rng.integers(0, 2, 2 * n)
    sources = np.repeat(["news", "portraits"], n)
    shift = np.where(sources == "portraits", 0.15, 0.0) * (y == 0)
    p = np.clip(rng.normal(0.3 + 0.4 * y + shift, 0.15), 0, 1)
    pooled = fit_bands(y, p, precision=0.9, max_real_called_fake=0.03)
    each = fit_bands(y, p, precision=0.9, max_real_called_fake=0.03, sources=sources)
    accused = lambda bands, name: (p[(y == 0) & (sources == name)] >= bands.fake_from).mean()  # noqa: E731
    assert accused(pooled, "portraits") > 0.045  # the pooled limit lets one population be accused far more often
    assert accused(each, "portraits") <= 0.03 and accused(each, "news") <= 0.03
    assert each.fake_from > pooled.fake_from and each.fitted["per_source"] and not pooled.fitted["per_source"]
    # a source with too few real faces to measure a 3% rate does not set the cut
    tiny = np.where(np.arange(2 * n) < 10, "tiny", "news")
    p_tiny = np.where(tiny == "tiny", 0.99, p)
    assert fit_bands(y, p_tiny, sources=tiny).fake_from == fit_bands(y, p_tiny).fake_from


def test_verdicts_follow_the_bands():
    cal = Calibration(temperature=2.0, threshold=0.5, bands=Bands(0.3, 0.8))
    assert [cal.verdict(p) for p in (0.1, 0.3, 0.5, 0.79, 0.8, 0.99)] == ["REAL", "UNCERTAIN", "UNCERTAIN", "UNCERTAIN", "FAKE", "FAKE"]
    assert cal.label(0.6) == "FAKE" and Calibration(threshold=0.5).verdict(0.6) == "FAKE"
    assert np.allclose(cal.proba(np.array([0.0, 2.0])), [0.5, 1 / (1 + np.exp(-1.0))])
    with pytest.raises(ValueError, match="real_below <= fake_from"):
        Bands(0.9, 0.2)


def test_edges_are_where_the_verdicts_change():
    cal = Calibration(threshold=0.5, bands=Bands(0.3, 0.8, fake_from_by_faces=(0.8, 0.9, 0.95)))
    assert cal.edges() == {"real_below": 0.3, "fake_from": 0.8}
    assert [cal.edges(n)["fake_from"] for n in (1, 2, 3, 7)] == [0.8, 0.9, 0.95, 0.95]
    for n in (1, 2, 5):  # the photo verdict changes exactly at its edges
        edges = cal.edges(n)
        assert cal.photo_verdict(edges["fake_from"], n) == "FAKE" and cal.photo_verdict(edges["fake_from"] - 1e-9, n) == "UNCERTAIN"
        assert cal.photo_verdict(edges["real_below"] - 1e-9, n) == "REAL"
    assert Calibration(threshold=0.6).edges(3) == {"real_below": 0.6, "fake_from": 0.6}  # no bands: the binary cut


def test_the_verdict_is_worded_with_its_score_on_the_bands_scale():
    edges = {"real_below": 0.3, "fake_from": 0.97}
    assert verdict_with_score("UNCERTAIN", 0.923, edges) == "UNCERTAIN: fake-likeness 0.92 (REAL below 0.30, FAKE from 0.97)"
    # a score just under an edge is never shown equal to it: "0.97 ... FAKE from 0.97" beside UNCERTAIN would contradict itself
    assert verdict_with_score("UNCERTAIN", 0.968, edges) == "UNCERTAIN: fake-likeness 0.968 (REAL below 0.300, FAKE from 0.970)"
    assert verdict_with_score("REAL", 0.2999, edges).startswith("REAL: fake-likeness 0.2999 (REAL below 0.3000")
    assert verdict_with_score(None, None, edges) == "no verdict"
    assert "%" not in verdict_with_score("FAKE", 0.99, edges)


def test_calibrate_run_fits_with_the_tta_setting_that_ships(trained_run, tmp_path):
    import json
    import shutil

    import fakelens
    from fakelens.cli import main

    run = tmp_path / "run"
    shutil.copytree(trained_run[0], run)
    assert main(["calibrate", str(run), "--tta"]) == 0
    saved = json.loads((run / "detector.json").read_text())
    fitted = json.loads((run / "calibration.json").read_text())
    assert saved["tta"] is True and fitted["tta"] is True
    assert tuple(saved["tta_views"]) in VIEW_SETS and saved["tta_views"] == fitted["tta_views"]
    assert set(fitted["val_roc_auc_by_views"]) == {"none", "mirror", "mirror-zoom", "mirror+zoom+mirror-zoom"}
    assert fitted["val_roc_auc_with_tta"] == fitted["val_roc_auc_by_views"]["+".join(saved["tta_views"])]
    assert saved["bands"]["fake_from"] >= saved["bands"]["real_below"]
    assert saved["info"]["calibration"]["val_by_source"]
    det = fakelens.load(run)
    assert det.tta and det.calibration.bands is not None and det.views == tuple(saved["tta_views"])
    assert main(["calibrate", str(run), "--no-tta"]) == 0
    assert json.loads((run / "detector.json").read_text())["tta"] is False


def test_calibrate_takes_another_split_for_a_folder_without_its_own(trained_run, tmp_path, capsys):
    # a copy of one epoch's weights has no split.csv: calibrate it on the sides its run trained with
    import json
    import shutil

    from fakelens.cli import main

    run, copy = tmp_path / "run", tmp_path / "epoch-copy"
    shutil.copytree(trained_run[0], run)
    shutil.copytree(trained_run[0], copy)
    (copy / "split.csv").unlink()
    assert main(["calibrate", str(copy), "--max-views", "0"]) == 2
    assert "no split.csv (nor a bundled split.csv.gz)" in capsys.readouterr().err
    assert main(["calibrate", str(copy), "--split", str(tmp_path / "nope.csv")]) == 2
    assert "no such split.csv" in capsys.readouterr().err
    assert main(["calibrate", str(copy), "--split", str(run / "split.csv"), "--max-views", "0"]) == 0
    assert main(["calibrate", str(run), "--max-views", "0"]) == 0
    by_split, own = (json.loads((d / "calibration.json").read_text()) for d in (copy, run))
    assert by_split["split"] == str(run / "split.csv") and own["split"] == str(run / "split.csv")
    assert by_split["val"] == own["val"] and by_split["bands"] == own["bands"]  # the same faces, so the same fit


def test_photo_cuts_keep_a_photo_of_real_people_as_rarely_accused_as_one_real_face():
    from fakelens.stats.calibration import photo_cuts

    rng = np.random.default_rng(1)
    reals = rng.beta(2, 6, 20000)  # P(fake) of validation real faces
    fake_from = float(np.quantile(reals, 0.97))  # 3% of single real faces reach FAKE
    cuts = photo_cuts(reals, fake_from, max_faces=4)
    assert cuts[0] == fake_from and list(cuts) == sorted(cuts)
    fresh = rng.beta(2, 6, (40000, 4))  # photos of 4 real people
    accused_naive = (fresh.max(axis=1) >= fake_from).mean()
    accused_fitted = (fresh.max(axis=1) >= cuts[3]).mean()
    assert accused_naive > 0.09  # about 1 - 0.97^4
    assert accused_fitted == pytest.approx(0.03, abs=0.006)
    bands = Bands(0.1, fake_from, fake_from_by_faces=cuts)
    assert bands.photo_verdict(cuts[3] - 1e-6, 4) == "UNCERTAIN" and bands.photo_verdict(cuts[3] - 1e-6, 1) == "FAKE"
    assert Bands.from_dict(bands.to_dict()) == bands


def test_choose_views_pays_for_more_views_only_with_validation_auc():
    from fakelens.training.calibrate import TTA_MIN_GAIN, choose_views

    mirror, mirror_zoom, four = ("mirror",), ("mirror-zoom",), ("mirror", "zoom", "mirror-zoom")
    # as many views as the baseline: any gain
    assert choose_views({mirror: 0.9491, mirror_zoom: 0.9518, four: 0.9525}) == mirror_zoom
    assert choose_views({mirror: 0.9520, mirror_zoom: 0.9518, four: 0.9525}) == mirror
    # more views: at least TTA_MIN_GAIN over the chosen set
    assert choose_views({mirror: 0.95, mirror_zoom: 0.94, four: 0.95 + TTA_MIN_GAIN}) == four
    assert choose_views({(): 0.95, mirror: 0.95 + TTA_MIN_GAIN / 2}) == ()
    assert choose_views({(): 0.95, mirror: 0.95 + TTA_MIN_GAIN / 2, mirror_zoom: 0.95 + TTA_MIN_GAIN}) == mirror_zoom
    assert choose_views({(): None, mirror: 0.9}) == ()  # one class only: no AUC, nothing to pay for


def test_calibrate_fits_on_the_logits_of_the_views_it_ships(trained_run):
    import fakelens
    from fakelens.data.split import read_split_csv
    from fakelens.training.calibrate import calibrate, mean_logits, view_logits
    from fakelens.utils.numeric import sigmoid

    run = trained_run[0]
    samples, splits = read_split_csv(run / "split.csv")
    val = [s for s, sp in zip(samples, splits) if sp == "val"]
    det = fakelens.load(run, backend="torch")
    fitted = calibrate(det, val, tta=True)
    by_view, labels, _ = view_logits(det, val)
    views = tuple(fitted["tta_views"])
    # the detector now scores as calibrated: its own logits are the mean over the face and the chosen views
    batch = det.arrays_to_batch(np.stack([det.decode(s.path) for s in val[:8]]))
    np.testing.assert_allclose(det.logits(batch), mean_logits({k: v[:8] for k, v in by_view.items()}, views), atol=1e-4)
    probs = sigmoid(mean_logits(by_view, views) / fitted["temperature"])
    assert abs(((probs >= fitted["threshold"]) == labels).mean() - fitted["val"]["accuracy"]) < 1e-9
    off = calibrate(det, val, tta=False)
    assert not off["tta"] and det.views == () and off["tta_views"] == fitted["tta_views"]


def test_a_view_budget_limits_the_views_that_can_ship(trained_run):
    import fakelens
    from fakelens.data.split import read_split_csv
    from fakelens.training.calibrate import calibrate

    run = trained_run[0]
    samples, splits = read_split_csv(run / "split.csv")
    val = [s for s, sp in zip(samples, splits) if sp == "val"]
    det = fakelens.load(run, backend="torch")
    one = calibrate(det, val, tta=True, max_views=1)
    assert len(one["tta_views"]) == 1 and len(det.views) == 1
    # every set was still measured, so the budget's cost in validation AUC is on record
    assert len(one["val_roc_auc_by_views"]) == 4
    none = calibrate(det, val, max_views=0)
    assert not none["tta"] and det.views == ()
