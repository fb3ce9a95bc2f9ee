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


@pytest.fixture(scope="session")
def base_venv(tmp_path_factory):
    """A fresh venv with dlink's base install only (tests/base_venv.py; about 20-30 s, once)."""
    from tests.base_venv import make_base_venv

    return make_base_venv(tmp_path_factory.mktemp("base-venv") / "venv")
