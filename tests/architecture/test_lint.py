"""`make lint` as a test, so CI (`make test`) fails when the code breaks the layering or ruff's rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_imports_point_one_way() -> None:
    result = _run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_ruff_finds_nothing() -> None:
    result = _run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_contract_catches_an_upward_import(tmp_path: Path) -> None:
    """The contract is not vacuous: a services module importing the tasks breaks it."""
    probe = ROOT / "sessions" / "_layer_probe.py"
    probe.write_text("from analysis import tasks  # noqa: F401\n")
    try:
        result = _run(str(BIN / "lint-imports"), "--no-cache", "--config", str(_probe_config(tmp_path)))
    finally:
        probe.unlink()
    assert result.returncode != 0 and "sessions._layer_probe" in result.stdout, result.stdout


def _probe_config(tmp_path: Path) -> Path:
    """The project's contract with the probe placed in the services layer."""
    text = (ROOT / "pyproject.toml").read_text()
    marker = '"analysis.services : analysis.judge_service : scoring.services : sessions.services : sessions.admission : sessions.retention"'
    if marker not in text:
        pytest.fail("the services layer line of the contract changed; update this test")
    config = tmp_path / "pyproject.toml"
    config.write_text(text.replace(marker, marker[:-1] + ' : sessions._layer_probe"'))
    return config
