"""Safe file output shared by every writer in dx7live: atomic writes and WAV files.

Every file dx7live writes goes through :func:`atomic_write` (or :func:`atomic_path`): the data is
written to a temporary file in the destination folder and renamed over the target only when it is
complete, so an interrupted run never leaves a half-written file behind.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import wave
from pathlib import Path
from typing import Iterator, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the result normal file permissions
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file + fsync + rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def same_file(a: PathLike, b: PathLike) -> bool:
    """True if ``a`` and ``b`` name the same existing file (used to refuse overwriting inputs)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def wav_bytes(audio: np.ndarray, sample_rate: int, bits: int = 16) -> bytes:
    """Encode mono or (frames, channels) float audio in [-1, 1] as a PCM WAV file (16 or 24 bit).

    Samples outside [-1, 1] are clipped (the engine's output is not clipped itself).
    """
    import io

    a = np.asarray(audio, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"audio must be 1-D or (frames, channels), got shape {a.shape}")
    if bits not in (16, 24):
        raise ValueError(f"bits must be 16 or 24, got {bits}")
    a = np.nan_to_num(np.clip(a, -1.0, 1.0))
    if bits == 16:
        pcm = np.round(a * 32767.0).astype("<i2").tobytes()
    else:
        ints = np.round(a * 8388607.0).astype("<i4")
        pcm = ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(a.shape[1])
        w.setsampwidth(bits // 8)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm)
    return buf.getvalue()


def write_wav(path: PathLike, audio: np.ndarray, sample_rate: int, bits: int = 16) -> None:
    """Write a PCM WAV file atomically."""
    atomic_write(path, wav_bytes(audio, sample_rate, bits))


def read_wav(path: PathLike) -> tuple[np.ndarray, int]:
    """Read a 16- or 24-bit PCM WAV written by :func:`write_wav`; returns (float32 audio, rate)."""
    with wave.open(str(path), "rb") as w:
        n, ch, width, rate = w.getnframes(), w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(n)
    if width == 2:
        a = np.frombuffer(raw, "<i2").astype(np.float32) / 32767.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        ints = (b[:, 0].astype(np.int32) | (b[:, 1].astype(np.int32) << 8) | (b[:, 2].astype(np.int32) << 16))
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        a = ints.astype(np.float32) / 8388607.0
    else:
        raise ValueError(f"{path}: unsupported WAV sample width {width * 8} bits")
    a = a.reshape(-1, ch)
    return (a[:, 0] if ch == 1 else a), rate
