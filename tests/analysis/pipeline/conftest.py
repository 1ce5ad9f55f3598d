"""Fixtures of the pipeline tests (stub models, fakeredis session): see _pipeline_fixtures."""

from _pipeline_fixtures import stubs  # noqa: F401
