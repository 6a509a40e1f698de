"""The names fakelens gives its answers, in one place.

Two different things, two different names:

* the binary **label** of an image (training data, accuracy-style metrics): 0 = REAL, 1 = FAKE;
* the three-way **verdict** people are shown, which admits doubt: REAL, UNCERTAIN or FAKE.

Output files call the second ``verdict`` (older CSVs called that column ``label``; readers accept both).
"""

from __future__ import annotations

REAL, FAKE = 0, 1
LABEL_NAMES = {REAL: "REAL", FAKE: "FAKE"}

VERDICT_REAL, VERDICT_UNCERTAIN, VERDICT_FAKE = "REAL", "UNCERTAIN", "FAKE"
VERDICTS = (VERDICT_REAL, VERDICT_UNCERTAIN, VERDICT_FAKE)

#: Output columns that fakelens < 0.2 wrote under the binary label's name; :func:`fakelens.inference.files.read_rows`
#: reads them under the verdict's.
LEGACY_VERDICT_COLUMNS = {"label": "verdict", "image_label": "image_verdict", "video_label": "video_verdict"}
