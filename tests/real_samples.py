"""Where the tests find the real sample rows of the data contract (``../shared/samples``).

``tests/samples/`` is a byte-for-byte copy of them, so that a clone of the project runs its tests wherever it
is; ``WINEPIPE_SHARED_DIR`` points the tests at another copy of the shared folder (its ``samples/``) instead.
``tests/test_sample.py`` checks that the copy still equals the shared folder when that one is beside the project.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_BESIDE = ROOT.parent / "shared" / "samples"
SAMPLES = (Path(os.environ["WINEPIPE_SHARED_DIR"]) / "samples" if os.environ.get("WINEPIPE_SHARED_DIR")
           else ROOT / "tests" / "samples").resolve()
