"""Durable session audio: every accepted chunk is on disk before the pipeline (or the client) hears of it.

Why a file and not Redis: Redis is the *working* store (bounded window, lost on a restart or eviction); the
recording is the record. A session's directory under ``MEDIA_ROOT/recordings/<session id>/`` holds

* ``audio.pcm`` - the client's raw PCM (s16le, interleaved channels, client sample rate), chunks back to back;
* ``index.bin`` - one fixed-size record per chunk: ``seq, byte offset, byte length`` (little-endian ``<qqq``).

Appends are strictly in ``seq`` order (the consumer already refuses gaps) and serialised by an exclusive
``flock`` on ``append.lock`` (two sockets of one session - the one a blip left half-dead and its resume - may
append the same chunk at once; without the lock both wrote it and the index was corrupt); a chunk that is
already stored is a no-op, so a retried ``chunk_accept`` never writes twice; a chunk beyond the next expected ``seq`` raises
``RecordingGap`` - a hole is an error, never a shifted timeline. A crash between the data write and the index
write leaves extra bytes past the last indexed chunk; the next append truncates them.

Everything else is derived: the 16 kHz pipeline audio of any chunk is recomputed from the chunk and its
predecessor exactly as the live ``preprocess`` stage computed it, and the final WAV is written by streaming
chunk by chunk (flat memory whatever the length). Multi-host deployments put ``MEDIA_ROOT`` on a shared
filesystem (daphne writes, workers read).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import struct
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from django.conf import settings

from analysis.audio import opus
from analysis.audio.preprocess import ChunkFormat, preprocess_chunk, resample_ratio, to_int16_bytes

RECORD = struct.Struct("<qqq")  # seq, byte offset in audio.pcm, byte length
TARGET_SR = 16000


def chunk_pcm(payload: bytes, previous: bytes | None, *, encoding: str, channels: int) -> bytes:
    """The PCM16 the recording keeps for one accepted chunk.

    ``encoding=opus`` chunks are decoded here, once, at accept time (the previous chunk's packets prime the
    decoder, so chunk boundaries are seamless): the recording, the final WAV and every stage then see PCM at
    the session's sample rate (48 kHz for Opus) whatever came over the wire.
    """
    if encoding != "opus":
        return payload
    pcm, _ = opus.decode_chunk(payload, previous, channels=channels)
    return pcm


class RecordingGap(Exception):
    """A chunk arrived (or is missing) out of order in the durable recording."""


@dataclass(frozen=True)
class ChunkEntry:
    seq: int
    offset: int  # bytes into audio.pcm
    length: int  # bytes

    def in_offset(self, channels: int) -> int:
        """The chunk's first frame at the client's sample rate (what ``preprocess_chunk`` calls ``in_offset``)."""
        return self.offset // (2 * channels)


def root() -> Path:
    return Path(settings.MEDIA_ROOT) / "recordings"


class Recording:
    """One session's durable audio. Cheap to construct; every call opens and closes its files."""

    def __init__(self, session_id: str, *, sample_rate: int, channels: int) -> None:
        self.session_id = str(session_id)
        self.sample_rate = sample_rate
        self.channels = channels
        self.dir = root() / self.session_id
        self.data_path = self.dir / "audio.pcm"
        self.index_path = self.dir / "index.bin"

    # --- writing ---------------------------------------------------------------------------------------------
    def append(self, seq: int, pcm: bytes) -> ChunkEntry:
        """Store chunk ``seq`` durably (fsync) and return where it lies. Idempotent for an already stored seq."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with self._append_lock():
            return self._append_locked(seq, pcm)

    @contextmanager
    def _append_lock(self) -> Iterator[None]:
        """One appender at a time, across threads and processes (released when the file closes)."""
        with open(self.dir / "append.lock", "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            yield

    def _append_locked(self, seq: int, pcm: bytes) -> ChunkEntry:
        count = self.last_seq() + 1  # reads one record, not the whole index: appends stay O(1) for any length
        if seq < count:
            return self.entry(seq)
        if seq != count:
            raise RecordingGap(f"recording of {self.session_id} has chunks 0..{count - 1}; refusing chunk {seq}")
        previous = self.entry(count - 1) if count else None
        offset = previous.offset + previous.length if previous else 0
        with open(self.data_path, "ab") as data:
            if data.tell() != offset:  # bytes of a write whose index record never landed
                data.truncate(offset)
                data.seek(offset)
            data.write(pcm)
            data.flush()
            os.fsync(data.fileno())
        entry = ChunkEntry(seq=seq, offset=offset, length=len(pcm))
        with open(self.index_path, "ab") as index:
            index.write(RECORD.pack(entry.seq, entry.offset, entry.length))
            index.flush()
            os.fsync(index.fileno())
        return entry

    def delete(self) -> int:
        """Remove the recording; returns how many files went."""
        if not self.dir.exists():
            return 0
        count = sum(1 for p in self.dir.iterdir() if p.is_file())
        shutil.rmtree(self.dir, ignore_errors=True)
        return count

    # --- reading ---------------------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.index_path.exists()

    def entries(self) -> list[ChunkEntry]:
        """Every stored chunk, in seq order (a torn trailing record is ignored)."""
        try:
            raw = self.index_path.read_bytes()
        except FileNotFoundError:
            return []
        usable = len(raw) - len(raw) % RECORD.size
        out = [ChunkEntry(*RECORD.unpack_from(raw, i)) for i in range(0, usable, RECORD.size)]
        for position, entry in enumerate(out):
            if entry.seq != position:
                raise RecordingGap(f"recording of {self.session_id} is corrupt at record {position} (seq {entry.seq})")
        return out

    def entry(self, seq: int) -> ChunkEntry:
        try:
            with open(self.index_path, "rb") as index:
                index.seek(seq * RECORD.size)
                raw = index.read(RECORD.size)
        except FileNotFoundError:
            raw = b""
        if len(raw) != RECORD.size:
            raise RecordingGap(f"chunk {seq} of {self.session_id} is not in the recording")
        entry = ChunkEntry(*RECORD.unpack(raw))
        if entry.seq != seq:
            raise RecordingGap(f"recording of {self.session_id} is corrupt at record {seq} (seq {entry.seq})")
        return entry

    def last_seq(self) -> int:
        try:
            return self.index_path.stat().st_size // RECORD.size - 1
        except FileNotFoundError:
            return -1

    def last_write(self) -> float | None:
        """Wall time of the last stored chunk (the recording's own activity clock), or None without one."""
        try:
            return self.index_path.stat().st_mtime
        except FileNotFoundError:
            return None

    def frames(self, entries: list[ChunkEntry] | None = None) -> int:
        entries = self.entries() if entries is None else entries
        return (entries[-1].offset + entries[-1].length) // (2 * self.channels) if entries else 0

    def duration_s(self) -> float:
        return self.frames() / self.sample_rate

    def _read(self, handle: BinaryIO, entry: ChunkEntry) -> bytes:
        handle.seek(entry.offset)
        data = handle.read(entry.length)
        if len(data) != entry.length:
            raise RecordingGap(f"chunk {entry.seq} of {self.session_id} is truncated in the recording")
        return data

    def chunk(self, seq: int) -> tuple[bytes, bytes | None, ChunkEntry]:
        """(raw chunk, raw previous chunk or None, entry) - what ``preprocess_chunk`` needs for ``seq``."""
        if seq < 0:
            raise RecordingGap(f"chunk {seq} of {self.session_id} is not in the recording")
        entry = self.entry(seq)
        with open(self.data_path, "rb") as handle:
            previous = self._read(handle, self.entry(seq - 1)) if seq > 0 else None
            return self._read(handle, entry), previous, entry

    def starts_16k(self) -> list[int]:
        """First 16 kHz session sample of every chunk, in seq order."""
        up, down = resample_ratio(self.sample_rate, TARGET_SR)
        return [-(-entry.in_offset(self.channels) * up // down) for entry in self.entries()]

    def preprocessed(self, first: int, last: int, *, steps: tuple[str, ...]) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
        """(seq, 16 kHz mono, 16 kHz channels or None) for chunks ``first..last``, as the live stage made them."""
        entries = self.entries()
        if last >= len(entries) or first < 0:
            raise RecordingGap(f"chunks {first}..{last} of {self.session_id} are not all in the recording")
        fmt = ChunkFormat(self.sample_rate, self.channels)
        with open(self.data_path, "rb") as handle:
            previous = self._read(handle, entries[first - 1]) if first > 0 else None
            for entry in entries[first : last + 1]:
                raw = self._read(handle, entry)
                out = preprocess_chunk(raw, fmt=fmt, in_offset=entry.in_offset(self.channels), previous_raw=previous,
                                       steps=steps)
                yield entry.seq, out.mono, out.channels
                previous = raw

    def write_wav(self, target: BinaryIO, *, steps: tuple[str, ...], keep_channels: bool, upto_seq: int | None = None) -> float:
        """Stream the session as a 16 kHz WAV (mono, or every channel with ``keep_channels``) into ``target``.

        One chunk at a time, so memory stays flat for any length. Returns the duration written in seconds.
        """
        last = self.last_seq() if upto_seq is None else upto_seq
        n_channels = self.channels if keep_channels and self.channels > 1 else 1
        frames = 0
        with wave.open(target, "wb") as out:  # type: ignore[arg-type]
            out.setnchannels(n_channels)
            out.setsampwidth(2)
            out.setframerate(TARGET_SR)
            if last >= 0:
                for _seq, mono, multi in self.preprocessed(0, last, steps=steps):
                    block = multi if n_channels > 1 and multi is not None else mono
                    out.writeframes(to_int16_bytes(block.reshape(-1)))
                    frames += len(block)
        return frames / TARGET_SR


def for_meta(meta: object) -> Recording:
    """The recording of a live session (anything with ``session_id``, ``sample_rate`` and ``channels``)."""
    return Recording(
        getattr(meta, "session_id"), sample_rate=int(getattr(meta, "sample_rate")), channels=int(getattr(meta, "channels"))
    )
