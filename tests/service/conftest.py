import io

import numpy as np
import pytest
from PIL import Image


def astronaut_photo(width: int = 640, height: int = 400) -> bytes:
    """The real face photo from scikit-image, pasted into a larger grey scene."""
    from skimage import data

    face = Image.fromarray(data.astronaut()).crop((120, 0, 320, 220))
    scene = Image.new("RGB", (width, height), (128, 128, 128))
    scene.paste(face, (200, 80))
    buf = io.BytesIO()
    scene.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def blank_photo() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((200, 300, 3), 90, np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="session")
def service_detector(trained_run):
    import fakelens

    run, _ = trained_run
    return fakelens.load(run, backend="torch")


@pytest.fixture
def make_client(service_detector):
    from fastapi.testclient import TestClient

    from fakelens.service import ServiceSettings, create_app

    def factory(**settings):
        return TestClient(create_app(service_detector, ServiceSettings(**settings)))

    return factory
