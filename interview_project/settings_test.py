"""Settings of the test suite: the production settings (DEBUG off unless the environment says otherwise)
with a throwaway secret key, so ``pytest`` runs on a fresh clone without any environment.

Tests that need the laptop-demo behaviour turn DEBUG on per test (``settings.DEBUG = True``); the server
processes that the browser and integration tests start use ``interview_project.settings`` with their own
environment, exactly as ``make run`` and the README's production block do.
"""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "test-suite-only-secret-key-0123456789abcdefghijklmnop")

from interview_project.settings import *  # noqa: E402,F403

WHITENOISE_USE_FINDERS = True  # in-process tests serve /static/ without a collectstatic run
