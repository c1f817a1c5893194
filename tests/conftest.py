"""Shared test fixtures: where the real-world corpus lives, and the JACK availability check."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    """The project's ``shared/`` folder: $DX7LIVE_SHARED, else ``../shared`` beside the checkout."""
    env = os.environ.get("DX7LIVE_SHARED")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared")
    for c in candidates:
        if (c / "corpus").is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """``shared/corpus``; tests that need it skip (with the reason) when it is absent."""
    s = shared_dir()
    if s is None:
        pytest.skip("the real-world corpus (../shared/corpus or $DX7LIVE_SHARED/corpus) is not present")
    return s / "corpus"
