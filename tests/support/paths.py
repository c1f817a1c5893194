"""Where things are: the repository root, and ``shared/`` (corpus) beside the checkout."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def shared_dir() -> Path | None:
    """The project's ``shared/`` folder: $DX7LIVE_SHARED, else ``../shared`` beside the checkout."""
    env = os.environ.get("DX7LIVE_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared")
    for c in candidates:
        if (c / "corpus").is_dir():
            return c
    return None
