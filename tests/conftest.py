"""Shared test fixtures: where the real-world corpus lives, and the JACK availability check."""
from __future__ import annotations

from pathlib import Path

import pytest

from support.paths import REPO, shared_dir  # noqa: F401  (REPO for tests that import it from here)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """``shared/corpus``; tests that need it skip (with the reason) when it is absent."""
    s = shared_dir()
    if s is None:
        pytest.skip("the real-world corpus (../shared/corpus or $DX7LIVE_SHARED/corpus) is not present")
    return s / "corpus"
