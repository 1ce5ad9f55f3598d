"""Fixtures of the pipeline tests (stub models, fakeredis session): see _pipeline_fixtures."""

from _pipeline_fixtures import stubs  # noqa: F401


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    """Durable recordings of these sessions go to a temp MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"
