import json

import pytest
import yaml

from fakelens.cli import main
from fakelens.training import TrainConfig
from fakelens.training.study import load_configs, run_study
from fakelens.training.tune import tune

pytestmark = pytest.mark.slow  # starts process groups, clusters or trains: run with -m 'not slow' to skip


def _write_config(folder, name, **kw):
    base = dict(model=name, image_size=48, epochs=2, batch_size=16, lr=3e-3, num_workers=0, patience=0, aug_strength=0.0)
    base.update(kw)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(base))


def test_study_trains_skips_finished_and_ranks(tmp_path, kaggle_dataset):
    configs = tmp_path / "configs"
    configs.mkdir()
    _write_config(configs, "meso4")
    _write_config(configs, "simple_cnn")
    rows = run_study(configs, str(kaggle_dataset), tmp_path / "study", quiet=True)
    assert {r["name"] for r in rows} == {"meso4", "simple_cnn"}
    assert rows[0]["roc_auc"] >= rows[1]["roc_auc"]
    assert (tmp_path / "study" / "leaderboard" / "leaderboard.md").is_file()
    stamp = (tmp_path / "study" / "meso4" / "model.safetensors").stat().st_mtime
    run_study(configs, str(kaggle_dataset), tmp_path / "study", only=["meso4"], quiet=True)
    assert (tmp_path / "study" / "meso4" / "model.safetensors").stat().st_mtime == stamp  # finished: skipped


def test_study_configs_in_repo_cover_the_zoo():
    from pathlib import Path

    configs = load_configs(Path(__file__).resolve().parents[2] / "configs")
    models = {c.train.model for c in configs}
    assert {"simple_cnn", "meso4", "xception", "efficientnet_b0", "resnet50", "mobilenetv3_large", "efficientnet_lite0"} <= models


@pytest.mark.parametrize("name", ["efficientnet_lite1_192", "efficientnet_lite2_224"])
def test_capacity_configs_differ_from_the_cpu_default_only_in_model_and_size(name):
    # the capacity comparison (issue 27) is only fair if nothing but the backbone and its input size changes
    from pathlib import Path

    from fakelens.models import list_models

    root = Path(__file__).resolve().parents[2] / "configs"
    base = TrainConfig.from_file(root / "efficientnet_lite0.yaml").to_dict()
    cfg = TrainConfig.from_file(root / "capacity" / f"{name}.yaml").to_dict()
    assert {k for k in cfg if cfg[k] != base[k]} == {"model", "image_size"}
    assert cfg["model"] in list_models() and f"{cfg['model'].split('_')[-1]}_{cfg['image_size']}" == name.split("_", 1)[1]


def test_study_without_offline_weights_falls_back_to_random_init(tmp_path, kaggle_dataset, monkeypatch):
    from fakelens.training.study import _with_pretrained

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg, init = _with_pretrained(TrainConfig(data="", model="resnet50", freeze_epochs=1, epochs=3), None, {"epochs": 2, "image_size": 128})
    assert not cfg.pretrained and init.startswith("random")
    # a random backbone is never frozen, and the config's without_imagenet budget replaces its own
    assert (cfg.freeze_epochs, cfg.epochs, cfg.image_size) == (0, 2, 128)
    cfg, init = _with_pretrained(TrainConfig(data="", model="efficientnet_lite0"), None)
    assert cfg.pretrained and init == "imagenet"


def test_study_config_with_unknown_random_init_option_fails_before_training(tmp_path):
    (tmp_path / "bad.yaml").write_text("model: resnet50\nwithout_imagenet:\n  epochz: 2\n")
    with pytest.raises(ValueError, match="epochz"):
        load_configs(tmp_path)


def test_train_config_file_ignores_the_study_only_section():
    from pathlib import Path

    cfg = TrainConfig.from_file(Path(__file__).resolve().parents[2] / "configs" / "xception.yaml", data="d")
    assert cfg.model == "xception" and cfg.freeze_epochs == 1 and cfg.image_size == 160


def test_tune_prunes_resumes_and_writes_best_config(tmp_path, kaggle_dataset):
    base = TrainConfig(data=str(kaggle_dataset), model="meso4", image_size=48, epochs=2, batch_size=16, num_workers=0)
    space = {"lr": ("float_log", 1e-4, 1e-2), "aug_strength": ("float", 0.0, 0.5)}
    study = tune(base, tmp_path / "tune", n_trials=2, space=space)
    assert len(study.trials) == 2
    again = tune(base, tmp_path / "tune", n_trials=3, space=space)  # resumes: one more trial, not three
    assert len(again.trials) == 3
    best = yaml.safe_load((tmp_path / "tune" / "best_config.yaml").read_text())
    assert best["model"] == "meso4" and best["lr"] == pytest.approx(again.best_params["lr"])
    assert TrainConfig.from_dict({"data": "", **best}).lr == best["lr"]
    trials = json.loads((tmp_path / "tune" / "trials.json").read_text())
    assert all(t["state"] in ("COMPLETE", "PRUNED") for t in trials)


def test_report_cli(tmp_path, trained_run):
    run, _ = trained_run
    assert main(["report", str(run), "--out", str(tmp_path / "rep")]) == 0
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "Leaderboard" in page and "Wrong verdicts" in page and "data:image/png;base64" in page
    assert (tmp_path / "rep" / "plots" / "roc_all.png").is_file()
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "# fakelens report" in md
    import re

    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert links and all((tmp_path / "rep" / link).is_file() for link in links), links  # every figure opens from the report folder
