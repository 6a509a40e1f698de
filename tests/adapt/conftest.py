import pytest

from fakelens.data.synthetic import make_adapt_folders

#: The texture's amplitude (grey levels): the bundled detector calls none of these fakes FAKE (fusion23 ranked them at
#: ROC-AUC about 0.4, fusion33 at 0.88, all below its FAKE band); its features see the texture, so adapting can.
AMPLITUDE = 4.0


@pytest.fixture(scope="session")
def new_kind(tmp_path_factory):
    """Folders of a new kind of fake and of reals like them: examples to adapt on and a separate set to measure on."""
    root = tmp_path_factory.mktemp("new_kind")
    teach = make_adapt_folders(root / "teach", per_class=40, seed=0, amplitude=AMPLITUDE)
    measure = make_adapt_folders(root / "measure", per_class=40, seed=1, amplitude=AMPLITUDE)
    return teach, measure[0].parent


@pytest.fixture(scope="session")
def adapted(new_kind, tmp_path_factory):
    """The bundled detector adapted once on the new kind (face crops: no face search), and its summary."""
    from fakelens.adapt import adapt

    (fake, real), _ = new_kind
    out = tmp_path_factory.mktemp("adapted") / "new"
    summary = adapt([fake], [real], out, seed=0, progress=False, crops=True, warn=lambda text: None)
    return out, summary
