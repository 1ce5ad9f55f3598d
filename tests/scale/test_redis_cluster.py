"""A whole session with live state and the channel layer on a local three-master Redis Cluster, the Celery
broker on a plain Redis (kombu does not speak the cluster protocol): daphne and a worker process, MariaDB,
DEBUG=0 with a WebSocket ticket. (Resume across nodes is tested in test_two_nodes.py.)"""

from __future__ import annotations

import asyncio
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
    start_cluster,
)
from shareddata import manifest
from textnorm import error_rate

from analysis.audio.preprocess import load_audio_file
from clients.python.interview_client import stream_audio

pytestmark = [pytest.mark.scale, pytest.mark.integration, pytest.mark.models]


@pytest.fixture(scope="module")
def on_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Deployment, list[RedisServer], RedisServer]]:
    require()
    workdir = tmp_path_factory.mktemp("cluster")
    nodes = start_cluster(workdir, masters=3)
    broker = RedisServer(workdir).start()
    db = f"{DB_PREFIX}_cluster"
    # DEBUG=0, the production mode: a ticket per socket (its key lives on the cluster too), consent required
    env = base_env(workdir, redis_url=f"{broker.url}/0", database_url=create_database(db), DEBUG="0",
                   SECRET_KEY="cluster-test-" + "k" * 40, ALLOWED_HOSTS="127.0.0.1",
                   REDIS_CLUSTER_URLS=",".join(n.url for n in nodes), READY_QUEUES="interviews")
    deployment = Deployment(workdir, env)
    try:
        deployment.migrate()
        deployment.create_interviewer()
        deployment.add_daphne("daphne")
        deployment.add_worker("w1")
        deployment.wait_ready("daphne")
        yield deployment, nodes, broker
    finally:
        deployment.stop()
        for server in [*nodes, broker]:
            server.stop()
        drop_database(db)


def _commandstats(server: RedisServer, command: str) -> int:
    for line in server.cli("info", "commandstats").splitlines():
        if line.startswith(f"cmdstat_{command}:"):
            return int(line.split("calls=", 1)[1].split(",", 1)[0])
    return 0


def test_a_whole_session_runs_on_the_cluster(on_cluster, shared_data):
    deployment, nodes, broker = on_cluster
    entry = next(e for e in manifest("en") if e["path"] == "jfk.flac")
    audio, sr = load_audio_file(str(shared_data / "en" / entry["path"]))
    params = {"language": "en", "ticket": deployment.ws_ticket("daphne"), "consent": "1"}
    log = asyncio.run(stream_audio(deployment.ws_url("daphne"), audio, sample_rate=sr, channels=audio.shape[1],
                                   params=params))

    assert log.complete is not None and log.close_code == 1000, log.of_type("error_message")
    assert sorted({e["seq"] for e in log.of_type("audio_processed")}) == list(range(len(log.sent_at)))
    assert error_rate(entry["text"], log.transcript(), "en") <= 0.15

    # every key of the session sits in one slot of one master
    session_id = log.ack["session_id"]
    tag = "{" + session_id + "}"
    slot = nodes[0].cli("cluster", "keyslot", tag)
    owners = [n for n in nodes if n.cli("cluster", "countkeysinslot", slot) not in ("", "0")]
    assert len(owners) == 1
    keys = owners[0].cli("cluster", "getkeysinslot", slot, "100").split()
    assert f"iv:{tag}:meta" in keys and f"iv:{tag}:mon" in keys
    assert all(tag in key for key in keys)

    # the channel layer published on the cluster's masters (one event per chunk at least); the broker's Redis
    # (whose PUBLISH calls are Celery's own control replies) has no channel-layer subscriber and no live state
    assert sum(_commandstats(n, "publish") for n in nodes) > len(log.sent_at)
    assert broker.cli("pubsub", "channels", "asgi*") == ""
    assert broker.cli("--scan", "--pattern", "iv:*") == ""
    assert "_kombu.binding.interviews" in broker.cli("--scan", "--pattern", "_kombu.binding.*")
    assert all(n.cli("--scan", "--pattern", "_kombu*") == "" for n in nodes)
