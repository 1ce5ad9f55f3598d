"""The console's pure JavaScript (chunk ledger, resampling worklet) under Node's built-in test runner.

These modules decide whether audio survives a network blip and whether Whisper gets clean 16 kHz input,
so they are tested without a browser, in a second or two; the browser test then checks the whole path.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

JS_TESTS = sorted((Path(__file__).parent / "js").glob("*.test.mjs"))


@pytest.mark.parametrize("script", JS_TESTS, ids=lambda p: p.name)
def test_javascript_unit(script: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    result = subprocess.run([node, "--test", "--test-reporter=spec", str(script)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
