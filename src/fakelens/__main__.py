"""``python -m fakelens`` is the ``fakelens`` command (and what ``torchrun -m fakelens train ...`` starts)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
