import pytest
import torch

from tiny_runs import tiny_config


@pytest.fixture(scope="session")
def patch_run(tmp_path_factory):
    """A simple_cnn trained on 96 px synthetic faces, for the tests of where explanations point.

    96 px rather than the shared 64 px run: simple_cnn's Grad-CAM layer is
    1/16 of the input, so 96 px gives a 6x6 map against a ~33 px patch, fine
    enough to tell inside the patch from beside it. Seeded, so the same model
    (and the same numbers) every time.
    """
    from fakelens.data.synthetic import make_kaggle_dataset
    from fakelens.training import train

    data = make_kaggle_dataset(tmp_path_factory.mktemp("patch_data"), per_class=80, size=96, seed=0)
    out = tmp_path_factory.mktemp("patch_runs") / "simple96"
    cfg = tiny_config(data, out, epochs=6, image_size=96)
    rng_state = torch.get_rng_state()
    torch.manual_seed(0)  # the trainer seeds its batches but not the initial weights
    try:
        metrics = train(cfg, quiet=True)
    finally:
        torch.set_rng_state(rng_state)
    assert metrics["test"]["roc_auc"] > 0.9, "the fixture model did not learn the synthetic fakes"
    return out
