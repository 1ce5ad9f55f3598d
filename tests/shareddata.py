"""Where the real data lives (``SHARED_DATA_DIR``, default ``../shared/data``) and its manifests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SHARED_DATA_DIR", REPO.parent / "shared" / "data"))


def manifest(folder: str) -> list[dict[str, Any]]:
    path = DATA / folder / "manifest.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
