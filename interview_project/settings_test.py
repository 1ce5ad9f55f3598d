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

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A test database in a file (in /dev/shm where there is one), not Django's default shared-cache in-memory
    # one: that one locks per table and fails a second connection's write at once with "database table is
    # locked" (no busy timeout applies), where the file database, like `make run`'s and MariaDB, makes it wait
    # (`timeout`, IMMEDIATE transactions). The embedded worker thread and the server's executor threads write
    # beside each other; two full-suite runs failed on that lock (the sweeper test, a third socket's INSERT).
    _shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(_shm or tempfile.gettempdir(), f"interview-test-{os.getpid()}.sqlite3")
    }
