"""The deployment helpers of bench/topology.py, plus what only tests need: skipping with a reason."""

from __future__ import annotations

import os

import pytest

from bench.topology import (  # noqa: F401  (re-exported for the test modules)
    HAPROXY,
    REDIS_CLI,
    REDIS_SERVER,
    REPO,
    Deployment,
    RedisServer,
    base_env,
    create_database,
    drop_database,
    http_get,
    mariadb_available,
    start_cluster,
    wait_for,
)

DB_PREFIX = os.environ.get("IT_DB_NAME", "interview_it")
"""MariaDB database names start with this (several checkouts can run the tests side by side)."""


def require(*, haproxy: bool = False) -> None:
    """Skip the calling test, with the reason, when a binary or service it needs is absent."""
    if not (REDIS_SERVER and REDIS_CLI):
        pytest.skip("redis-server/redis-cli are not installed (make ops-deps installs them)")
    if haproxy and not HAPROXY:
        pytest.skip("haproxy is not installed (make ops-deps installs it)")
    if not mariadb_available():
        pytest.skip("MariaDB must listen on 127.0.0.1:3306 (.ci/run starts it)")
