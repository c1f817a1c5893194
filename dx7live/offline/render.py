"""Offline rendering: many notes at once (:func:`render_batch`) and Standard MIDI Files (:func:`render_midi`).

:func:`render_batch` is a checked front end to the native ``_engine.render_batch``: every item
starts from a freshly reset engine, so an item's audio depends only on (voice, note, velocity,
hold, length, sample rate, seed) — never on what was rendered before it, on its position in the
batch or on the number of threads. The default seed of an item is derived from those same
values, so the same note renders to the same samples in any batch.
"""
from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any, NamedTuple, Optional, Sequence, Union

import numpy as np

from dx7live.patch.analysis import as_vced

MIN_SAMPLE_RATE = 8000.0   # the engine's range
MAX_SAMPLE_RATE = 192000.0
MAX_BATCH_SECONDS = 600.0  # refuse absurd item lengths before allocating gigabytes


class BatchAudio(NamedTuple):
    """Result of ``render_batch(..., annotate=True)``."""

    audio: np.ndarray        # float32 [N, T]
    pitch_hz: np.ndarray     # float32 [N, F]: a ratio-1 operator's frequency at each frame start
    carrier_amp: np.ndarray  # float32 [N, F]: summed linear carrier amplitude (audio scale)


def _engine() -> Any:
    try:
        from dx7live import _engine
    except ImportError as exc:  # pragma: no cover - only without a build
        raise ImportError("dx7live's native engine is not built: run `python setup.py build_ext --inplace`"
                          f" ({exc})") from exc
    return _engine


# ---------------------------------------------------------------- voices -> uint8[N, 155]

def voices_array(voices: Any) -> np.ndarray:
    """Any collection of voices as a C-contiguous uint8[N, 155] VCED array.

    Accepts a ``Bank`` (its ``vced``), a single ``Voice``, a sequence of ``Voice`` objects or
    155/156-byte strings, or an integer array of shape (155,), (156,), (N, 155) or (N, 156).
    Values outside 0..255 are an error; out-of-range parameters are clamped by the engine (§1.7).
    """
    if hasattr(voices, "vced") and isinstance(getattr(voices, "vced"), np.ndarray):
        arr = voices.vced
    elif hasattr(voices, "to_vced"):
        arr = np.frombuffer(bytes(voices.to_vced()), dtype=np.uint8)[None, :]
    elif isinstance(voices, (bytes, bytearray, memoryview)):
        arr = np.frombuffer(bytes(voices), dtype=np.uint8)[None, :]
    elif isinstance(voices, np.ndarray):
        arr = voices
    else:
        rows = []
        for i, v in enumerate(voices):
            try:
                rows.append(as_vced(v))
            except ValueError as exc:
                raise ValueError(f"voice {i}: {exc}") from None
        if not rows:
            raise ValueError("no voices given")
        arr = np.stack(rows)
    arr = np.asarray(arr)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] not in (155, 156):
        raise ValueError(f"voices must have shape (N, 155), got {arr.shape}")
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"voice parameters must be integers, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError("voice parameters must be in 0..255")
    return np.ascontiguousarray(arr[:, :155], dtype=np.uint8)


def _int_column(name: str, value: Any, n: int, lo: int, hi: int) -> np.ndarray:
    a = np.asarray(value)
    if a.ndim == 0:
        a = np.full(n, a)
    if a.ndim != 1 or (a.shape[0] != n and n != 1):
        raise ValueError(f"{name} must be a scalar or have one value per item ({n}), got shape {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            raise ValueError(f"{name} must be whole numbers")
    a = a.astype(np.int64)
    if a.size and (a.min() < lo or a.max() > hi):
        bad = a[(a < lo) | (a > hi)][0]
        raise ValueError(f"{name} must be in {lo}..{hi}, got {bad}")
    return a


def check_sample_rate(sample_rate: float) -> float:
    try:
        sr = float(sample_rate)
    except (TypeError, ValueError):
        raise ValueError(f"sample_rate must be a number, got {sample_rate!r}") from None
    if not math.isfinite(sr) or not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
        raise ValueError(f"sample_rate must be between {MIN_SAMPLE_RATE:g} and {MAX_SAMPLE_RATE:g} Hz, got {sample_rate}")
    return sr


def seconds_to_frames(name: str, seconds: Any, sample_rate: float, allow_zero: bool = True) -> np.ndarray:
    s = np.atleast_1d(np.asarray(seconds, dtype=np.float64))
    if not np.all(np.isfinite(s)) or np.any(s < 0) or (not allow_zero and np.any(s <= 0)):
        raise ValueError(f"{name} must be a finite number of seconds {'>= 0' if allow_zero else '> 0'}, got {seconds}")
    if np.any(s > MAX_BATCH_SECONDS):
        raise ValueError(f"{name} must be at most {MAX_BATCH_SECONDS:g} s, got {seconds}")
    return np.round(s * sample_rate).astype(np.int64)


def _seed_weights(n: int = 155) -> np.ndarray:
    """Odd 64-bit multipliers, one per VCED column, from a fixed LCG (computed once)."""
    w = np.empty(n, dtype=np.uint64)
    x = 0x9E3779B97F4A7C15
    for i in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        w[i] = x | 1
    return w


_SEED_WEIGHTS = _seed_weights()


def item_seeds(vced: np.ndarray, notes: np.ndarray, velocities: np.ndarray, hold_frames: np.ndarray) -> np.ndarray:
    """Deterministic per-item seeds from the item's content (voice bytes, note, velocity, hold).

    A vectorised 64-bit hash (no Python loop per item): the same note of the same voice gets the
    same seed in any batch, dataset or process.
    """
    with np.errstate(over="ignore"):
        h = (vced.astype(np.uint64) * _SEED_WEIGHTS[None, : vced.shape[1]]).sum(axis=1, dtype=np.uint64)
        h ^= notes.astype(np.uint64) * np.uint64(0xBF58476D1CE4E5B9)
        h ^= velocities.astype(np.uint64) * np.uint64(0x94D049BB133111EB)
        h ^= hold_frames.astype(np.uint64) * np.uint64(0xD6E8FEB86659FD93)
        h ^= h >> np.uint64(31)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(29)
    return h


def render_batch(
    voices: Any,
    notes: Union[int, Sequence[int], np.ndarray] = 60,
    velocities: Union[int, Sequence[int], np.ndarray] = 100,
    note_duration: Union[float, Sequence[float], np.ndarray] = 1.0,
    duration: float = 2.0,
    sample_rate: float = 48000,
    *,
    seeds: Optional[Union[Sequence[int], np.ndarray]] = None,
    threads: int = 0,
    annotate: bool = False,
    frame_rate: float = 250.0,
) -> Union[np.ndarray, BatchAudio]:
    """Render many notes at once on all cores, each from a freshly reset engine.

    Args:
        voices: N voices (Bank, list of Voice, uint8[N,155]) or one voice used for every item.
        notes, velocities: MIDI note 0..127 and velocity 1..127, a scalar or one per item.
        note_duration: seconds until note-off (scalar or one per item); may exceed ``duration``.
        duration: length of every item in seconds (> 0).
        sample_rate: output rate in Hz (8 kHz .. 192 kHz); honoured exactly.
        seeds: per-item engine seeds; default: derived from each item's content.
        threads: worker threads (0 = all cores). The result does not depend on it.
        annotate: also return per-frame ``pitch_hz`` and ``carrier_amp`` at ``frame_rate`` Hz.

    Returns:
        float32 [N, T] with ``T = round(duration * sample_rate)``, or a :class:`BatchAudio`.
    """
    sr = check_sample_rate(sample_rate)
    vced = voices_array(voices)
    n = vced.shape[0]
    lens = [np.size(notes), np.size(velocities), np.size(note_duration)]
    if seeds is not None:
        lens.append(np.size(seeds))
    n_items = max([n] + lens)
    if n not in (1, n_items):
        raise ValueError(f"got {n} voices for {n_items} items: give one voice or one per item")
    if n == 1 and n_items > 1:
        vced = np.ascontiguousarray(np.broadcast_to(vced, (n_items, 155)))
    note_a = _int_column("notes", notes, n_items, 0, 127)
    vel_a = _int_column("velocities", velocities, n_items, 1, 127)
    hold = seconds_to_frames("note_duration", note_duration, sr)
    if hold.shape[0] not in (1, n_items):
        raise ValueError(f"note_duration must be a scalar or have one value per item ({n_items})")
    hold = np.ascontiguousarray(np.broadcast_to(hold, (n_items,)), dtype=np.int64)
    total = int(seconds_to_frames("duration", duration, sr, allow_zero=False)[0])
    if total < 1:
        raise ValueError(f"duration {duration} s is shorter than one sample at {sr:g} Hz")
    if not isinstance(threads, (int, np.integer)) or threads < 0:
        raise ValueError(f"threads must be an integer >= 0 (0 = all cores), got {threads!r}")
    fr = float(frame_rate)
    if not math.isfinite(fr) or not 0 < fr <= sr:
        raise ValueError(f"frame_rate must be in (0, sample_rate], got {frame_rate}")
    if seeds is None:
        seed_a = item_seeds(vced, note_a, vel_a, hold)
    else:
        seed_a = np.asarray(seeds)
        if seed_a.ndim == 0:
            seed_a = np.full(n_items, seed_a)
        if seed_a.shape != (n_items,) or not np.issubdtype(seed_a.dtype, np.integer) or np.any(seed_a < 0):
            raise ValueError(f"seeds must be {n_items} non-negative integers")
        seed_a = seed_a.astype(np.uint64)
    if n_items == 0:
        empty = np.zeros((0, total), np.float32)
        if annotate:
            f = math.ceil(total * fr / sr)
            return BatchAudio(empty, np.zeros((0, f), np.float32), np.zeros((0, f), np.float32))
        return empty
    return render_checked(vced, note_a, vel_a, hold, total, sr, seed_a, int(threads), bool(annotate), fr)


def render_checked(vced: np.ndarray, notes: np.ndarray, velocities: np.ndarray, hold_frames: np.ndarray,
                   total_frames: int, sample_rate: float, seeds: Optional[np.ndarray] = None, threads: int = 0,
                   annotate: bool = False, frame_rate: float = 250.0,
                   out: Optional[np.ndarray] = None) -> Union[np.ndarray, BatchAudio]:
    """:func:`render_batch` without the argument checks, for callers that validated already
    (the Dataset, sweeps). Same seeds by default, so the same samples. ``out``: a writable
    C-contiguous float32 [N, total_frames] array to render into."""
    notes = np.ascontiguousarray(notes, dtype=np.int32)
    velocities = np.ascontiguousarray(velocities, dtype=np.int32)
    hold_frames = np.ascontiguousarray(hold_frames, dtype=np.int64)
    if seeds is None:
        seeds = item_seeds(vced, notes, velocities, hold_frames)
    out = _engine().render_batch(
        vced, notes, velocities, hold_frames, int(total_frames), float(sample_rate),
        seeds=np.ascontiguousarray(seeds, dtype=np.uint64), threads=threads, annotate=annotate,
        frame_rate=frame_rate, out=out,
    )
    if annotate:
        audio, pitch, amp = out
        return BatchAudio(audio, pitch, amp)
    return out


# ---------------------------------------------------------------- MIDI files

BLOCK = 1024          # frames per engine call while following a MIDI file
SILENCE = 10 ** (-90 / 20)  # the release tail ends when every channel is this quiet
MAX_TAIL = 10.0       # seconds: voices with a non-zero L4 drone forever; stop somewhere
MAX_SONG_SECONDS = 3600.0  # a damaged delta time can put an event hours away: refuse, do not hang
NORMALIZE_PEAK_DB = -1.0   # render_midi's default: the peak to -1 dBFS (headroom for 16 voices x 16 parts)


class ClippingWarning(UserWarning):
    """Audio peaks above full scale: written to a file as it is, it would clip."""


def peak_db(audio: np.ndarray) -> float:
    """The peak of ``audio`` in dB re full scale (-inf for silence)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def apply_gain(audio: np.ndarray, normalize: Optional[bool], gain: Optional[float],
               default_normalize: bool, what: str = "audio") -> tuple[np.ndarray, float]:
    """The headroom rule of MIDI renders: ``(audio scaled, gain in dB applied)``.

    ``gain`` (dB) is a fixed master gain; ``normalize=True`` scales the peak to
    ``NORMALIZE_PEAK_DB``; ``normalize=None`` means ``default_normalize`` unless a gain is given.
    Giving both a gain and ``normalize=True`` is an error. Audio left above full scale warns
    (:class:`ClippingWarning`).
    """
    if gain is not None:
        gain = float(gain)
        if not math.isfinite(gain):
            raise ValueError(f"gain must be a finite number of dB, got {gain}")
        if normalize:
            raise ValueError("give either normalize=True or a gain in dB, not both")
        applied = gain
    elif normalize or (normalize is None and default_normalize):
        p = peak_db(audio)
        applied = NORMALIZE_PEAK_DB - p if math.isfinite(p) else 0.0
    else:
        applied = 0.0
    if applied != 0.0:
        audio = (audio * np.float32(10.0 ** (applied / 20.0))).astype(np.float32, copy=False)
    p = peak_db(audio)
    if p > 0.0:
        warnings.warn(f"{what} peaks at {p:+.1f} dBFS: it clips when written to a file "
                      f"(normalize, or a gain of {-math.ceil(p - NORMALIZE_PEAK_DB):d} dB or less)",
                      ClippingWarning, stacklevel=3)
    return audio, applied


def resolve_bank(bank: Any) -> Sequence[Any]:
    """A bank argument as a sequence of voices: None = built-in bank, a path, a Bank, a Voice or a list."""
    if bank is None:
        from dx7live.patch.builtin import builtin_bank

        return builtin_bank()
    if isinstance(bank, (str, os.PathLike)):
        from dx7live.patch.reader import load

        return load(bank)
    if hasattr(bank, "to_vced"):
        return [bank]
    voices = list(bank)
    if not voices:
        raise ValueError("the bank has no voices")
    return voices


class _Channel:
    """One Synth following one MIDI channel, with the frames it has rendered so far."""

    def __init__(self, sample_rate: float, voice: Any, polyphony: int) -> None:
        from dx7live.engine.synth import Synth

        self.synth = Synth(sample_rate, polyphony)
        self.synth.load_voice(voice)
        self.pos = 0
        self.chunks: list[np.ndarray] = []

    def advance(self, frame: int) -> None:
        """Render up to ``frame`` (exclusive) in blocks; queued events keep their offsets."""
        while self.pos < frame:
            n = min(BLOCK, frame - self.pos)
            self.chunks.append(np.asarray(self.synth.render(n), dtype=np.float32))
            self.pos += n

    def audio(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)


def _timed_messages(path: Union[str, os.PathLike]) -> list[tuple[float, Any]]:
    import mido

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such MIDI file")
    try:
        mid = mido.MidiFile(str(path))
        if mid.type == 2:
            raise ValueError("MIDI file type 2 (independent sequences) is not supported")
        t = 0.0
        out = []
        for msg in mid:  # merged tracks; msg.time is seconds since the previous message (tempo map applied)
            t += msg.time
            if not msg.is_meta:
                out.append((t, msg))
    except Exception as exc:  # mido raises many kinds on damaged files; report them all the same way
        raise ValueError(f"{path}: not a readable Standard MIDI File ({exc})") from exc
    if not all(math.isfinite(t) for t, _ in out):
        raise ValueError(f"{path}: the tempo map gives non-finite event times")
    return out


def render_midi(
    path: Union[str, os.PathLike],
    bank: Any = None,
    sample_rate: float = 48000,
    *,
    program: int = 0,
    polyphony: int = 16,
    tail: Optional[float] = None,
    max_seconds: float = MAX_SONG_SECONDS,
    normalize: Optional[bool] = None,
    gain: Optional[float] = None,
    return_gain: bool = False,
) -> Union[np.ndarray, tuple[np.ndarray, float]]:
    """Play a Standard MIDI File through the engine offline; returns mono float32 audio.

    Headroom: 16 channels of 16 voices each add up far past full scale (a multi-part file can
    peak at +18 dBFS), so by default the result is normalised: its peak is scaled to -1 dBFS
    (``NORMALIZE_PEAK_DB``). ``gain=DB`` applies a fixed master gain instead (reproducible
    levels across files); ``normalize=False`` with no gain returns the engine's raw sum. A result
    still above full scale warns with :class:`ClippingWarning`. ``return_gain=True`` returns
    ``(audio, gain_db)``, the gain in dB that was applied (0.0 for the raw sum).

    Every MIDI channel used in the file gets its own Synth (as a multitimbral setup of 16 DX7s
    would), starting on voice ``program`` (0-based index into ``bank``) and following the file's
    program changes (modulo the bank size, with a warning). Notes, controllers, pitch bend,
    aftertouch and sysex (sent to every channel's Synth) are applied at their exact frame; tempo
    changes are honoured. The output ends at the last event plus the release tail: until every
    channel is silent (-90 dBFS), or after ``tail`` seconds if given (at most 10 s when automatic).
    A file whose events run past ``max_seconds`` (default one hour) is refused.
    """
    sr = check_sample_rate(sample_rate)
    voices = resolve_bank(bank)
    if not 0 <= int(program) < len(voices):
        raise ValueError(f"program must be 0..{len(voices) - 1} for this bank of {len(voices)} voices, got {program}")
    if tail is not None and (not math.isfinite(tail) or tail < 0):
        raise ValueError(f"tail must be >= 0 seconds, got {tail}")
    events = _timed_messages(path)
    if events and events[-1][0] > max_seconds:
        raise ValueError(f"{path}: events run to {events[-1][0]:.0f} s, past the limit of {max_seconds:g} s "
                         f"(pass max_seconds to render longer files)")
    used = sorted({m.channel for _, m in events if hasattr(m, "channel")}) or [0]
    channels = {c: _Channel(sr, voices[int(program)], polyphony) for c in used}
    wrapped = False
    end = 0
    for t, msg in events:
        frame = int(round(t * sr))
        end = max(end, frame)
        targets = [channels[msg.channel]] if hasattr(msg, "channel") else list(channels.values())
        for ch in targets:
            if frame - ch.pos >= BLOCK:  # keep event offsets within one render call
                ch.advance(frame - (frame - ch.pos) % BLOCK)
            offset = frame - ch.pos
            if msg.type == "program_change":
                ch.advance(frame)  # a voice change takes effect exactly here
                if msg.program >= len(voices):
                    wrapped = True
                ch.synth.load_voice(voices[msg.program % len(voices)])
            elif msg.type == "sysex":
                ch.synth.sysex(bytes(msg.bytes()), offset)
            else:
                ch.synth.midi(bytes(msg.bytes()), offset)
    if wrapped:
        warnings.warn(f"{path}: program changes beyond the bank's {len(voices)} voices wrap around", stacklevel=2)
    for ch in channels.values():
        ch.advance(end)
    # release tail: all channels advance together until silent
    limit = end + int(round((MAX_TAIL if tail is None else tail) * sr))
    pos = end
    while pos < limit:
        n = min(BLOCK, limit - pos)
        for ch in channels.values():
            ch.advance(pos + n)
        pos += n
        if tail is None:
            quiet = all(float(np.max(np.abs(ch.chunks[-1]))) < SILENCE for ch in channels.values())
            if quiet and all(ch.synth.active_voices() == 0 for ch in channels.values()):
                break
            if quiet and pos - end > int(sr):  # a silent drone-free second after the end: done
                break
    mix = np.zeros(pos, dtype=np.float32)
    for ch in channels.values():
        a = ch.audio()
        mix[: a.shape[0]] += a[:pos]
    mix, applied = apply_gain(mix, normalize, gain, default_normalize=True, what=str(path))
    return (mix, applied) if return_gain else mix


def write_audio(path: Union[str, os.PathLike], audio: np.ndarray, sample_rate: float, bits: int = 16,
                fmt: Optional[str] = None) -> None:
    """Write WAV (through dx7live._io) or FLAC (soundfile, optional extra ``flac``), atomically."""
    fmt = (fmt or Path(path).suffix.lstrip(".") or "wav").lower()
    if fmt == "wav":
        from dx7live._io import write_wav

        write_wav(path, audio, int(round(sample_rate)), bits)
    elif fmt == "flac":
        try:
            import soundfile
        except ImportError:
            raise RuntimeError("FLAC output needs the soundfile package: pip install 'dx7live[flac]'") from None
        from dx7live._io import atomic_path

        subtype = {16: "PCM_16", 24: "PCM_24"}[bits]
        with atomic_path(path) as tmp:
            soundfile.write(str(tmp), np.clip(np.nan_to_num(audio), -1.0, 1.0), int(round(sample_rate)),
                            subtype=subtype, format="FLAC")
    else:
        raise ValueError(f"unknown audio format {fmt!r}: use wav or flac")
