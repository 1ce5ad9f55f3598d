"""A deployment of several nodes on this machine (see scalestack.py); skips with the reason when a piece is absent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from scalestack import (
    DB_PREFIX,
    Deployment,
    RedisServer,
    base_env,
    create_database,
    drop_database,
    require,
    wait_for,
)


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, RedisServer]]:
    """Two daphne nodes behind HAProxy, two Celery workers, our own Redis, a MariaDB database; DEBUG=0 as
    deployed (an interviewer account, a fresh ticket per connect and resume, consent)."""
    require(haproxy=True)
    workdir = tmp_path_factory.mktemp("two-nodes")
    redis = RedisServer(workdir).start()
    db = f"{DB_PREFIX}_scale"
    env = base_env(workdir, redis_url=f"{redis.url}/0", database_url=create_database(db), DEBUG="0",
                   SECRET_KEY="two-nodes-" + "k" * 40, ALLOWED_HOSTS="interviews.example.com,127.0.0.1")
    deployment = Deployment(workdir, env)
    try:
        deployment.migrate()
        deployment.create_interviewer()
        for name in ("daphne-a", "daphne-b"):
            deployment.add_daphne(name)
        for name in ("w1", "w2"):
            deployment.add_worker(name)
        for name in deployment.daphnes:
            deployment.wait_ready(name)
        # both workers loaded: then both take chunks of every session
        wait_for(lambda: len(deployment.readyz("daphne-a")[1].get("checks", {}).get("models", {})
                             .get("workers_with_models", [])) == 2, timeout_s=240, what="both workers' models", step_s=1)
        deployment.add_balancer()
        yield deployment, redis
    finally:
        deployment.stop()
        redis.stop()
        drop_database(db)
