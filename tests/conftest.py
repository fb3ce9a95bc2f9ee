"""Shared fixtures: where ../shared is, and a skip marker for tests that need it."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TEACHER_FIXTURES = SHARED / "fixtures" / "teachers"
EEGBCI_DATA = SHARED / "data"

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is absent")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is absent")
    return SHARED
