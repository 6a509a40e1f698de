"""fakelens: tell real face images and videos from deepfakes, and show why."""
__version__ = "0.1.0"

from .inference.detector import Detector, load  # noqa: E402
from .models import create_model, list_models  # noqa: E402

__all__ = ["Detector", "load", "create_model", "list_models", "__version__"]
