"""Pitch and loudness annotations computed from a voice's parameters and the engine's own state.

Nothing here estimates pitch from audio. The fundamental of a DX7 voice follows from its
parameters: every sounding operator in ratio mode runs at ``key frequency x ratio`` with
``ratio = coarse x (1 + fine/100)`` (coarse 0 = 0.5, DX7-FACTS §4.2), and frequency modulation
only creates partials at sums and differences of the frequencies involved, so the spectrum is
harmonic on the greatest common divisor of the sounding operators' ratios. Because
``coarse x (100 + fine)`` is an integer, that GCD is exact: ratios are counted in units of 1/200.

The time-varying part (pitch EG, LFO vibrato, pitch bend) comes from the native renderer's
annotation (``pitch_hz`` of a ratio-1 operator per frame); :func:`f0_curve` multiplies it by the
voice's fundamental ratio.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

# The 32 algorithms (DX7-FACTS §3): carriers, and "a modulates b" edges (1-based operators).
# Feedback loops are left out: self-feedback only adds harmonics of the operator's own frequency.
_ALGORITHMS: list[tuple[tuple[int, ...], tuple[tuple[int, int], ...]]] = [
    ((1, 3), ((6, 5), (5, 4), (4, 3), (2, 1))),                    # 1
    ((1, 3), ((6, 5), (5, 4), (4, 3), (2, 1))),                    # 2
    ((1, 4), ((6, 5), (5, 4), (3, 2), (2, 1))),                    # 3
    ((1, 4), ((6, 5), (5, 4), (3, 2), (2, 1))),                    # 4
    ((1, 3, 5), ((6, 5), (4, 3), (2, 1))),                         # 5
    ((1, 3, 5), ((6, 5), (4, 3), (2, 1))),                         # 6
    ((1, 3), ((6, 5), (5, 3), (4, 3), (2, 1))),                    # 7
    ((1, 3), ((6, 5), (5, 3), (4, 3), (2, 1))),                    # 8
    ((1, 3), ((6, 5), (5, 3), (4, 3), (2, 1))),                    # 9
    ((1, 4), ((3, 2), (2, 1), (6, 4), (5, 4))),                    # 10
    ((1, 4), ((3, 2), (2, 1), (6, 4), (5, 4))),                    # 11
    ((1, 3), ((2, 1), (6, 3), (5, 3), (4, 3))),                    # 12
    ((1, 3), ((2, 1), (6, 3), (5, 3), (4, 3))),                    # 13
    ((1, 3), ((2, 1), (6, 4), (5, 4), (4, 3))),                    # 14
    ((1, 3), ((2, 1), (6, 4), (5, 4), (4, 3))),                    # 15
    ((1,), ((6, 5), (4, 3), (5, 1), (3, 1), (2, 1))),              # 16
    ((1,), ((6, 5), (4, 3), (5, 1), (3, 1), (2, 1))),              # 17
    ((1,), ((6, 5), (5, 4), (4, 1), (3, 1), (2, 1))),              # 18
    ((1, 4, 5), ((3, 2), (2, 1), (6, 4), (6, 5))),                 # 19
    ((1, 2, 4), ((3, 1), (3, 2), (6, 4), (5, 4))),                 # 20
    ((1, 2, 4, 5), ((3, 1), (3, 2), (6, 4), (6, 5))),              # 21
    ((1, 3, 4, 5), ((2, 1), (6, 3), (6, 4), (6, 5))),              # 22
    ((1, 2, 4, 5), ((3, 2), (6, 4), (6, 5))),                      # 23
    ((1, 2, 3, 4, 5), ((6, 3), (6, 4), (6, 5))),                   # 24
    ((1, 2, 3, 4, 5), ((6, 4), (6, 5))),                           # 25
    ((1, 2, 4), ((3, 2), (6, 4), (5, 4))),                         # 26
    ((1, 2, 4), ((3, 2), (6, 4), (5, 4))),                         # 27
    ((1, 3, 6), ((2, 1), (5, 4), (4, 3))),                         # 28
    ((1, 2, 3, 5), ((4, 3), (6, 5))),                              # 29
    ((1, 2, 3, 6), ((5, 4), (4, 3))),                              # 30
    ((1, 2, 3, 4, 5), ((6, 5),)),                                  # 31
    ((1, 2, 3, 4, 5, 6), ()),                                      # 32
]

# carrier mask per algorithm, shape (32, 6), column j = operator j+1
CARRIER_MASK = np.zeros((32, 6), dtype=bool)
for _a, (_carriers, _edges) in enumerate(_ALGORITHMS):
    CARRIER_MASK[_a, [c - 1 for c in _carriers]] = True

# Firmware TABLE_LOG (DX7-FACTS §5.1 / Appendix A1): attenuation in 0.75 dB units for 0..99.
_TABLE_LOG = np.array([127, 122, 118, 114, 110, 107, 104, 102, 100, 98, 96, 94, 92, 90, 88, 86, 85, 84,
                       82, 81] + [99 - x for x in range(20, 100)], dtype=np.int32)
# Firmware TABLE_PITCH_EG_LEVEL (DX7-FACTS Appendix A6); 128 = no offset, 32 per octave.
_PITCH_EG_LEVEL = np.array([
    0, 12, 24, 33, 43, 52, 60, 67, 72, 76, 79, 82, 85, 87, 89, 91, 93, 95, 96, 97,
    98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117,
    118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137,
    138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156, 157,
    158, 159, 160, 161, 162, 163, 166, 168, 171, 174, 177, 181, 186, 193, 201, 210, 220, 231, 243, 255],
    dtype=np.int32)

# VCED offsets (DX7-FACTS §1.5): operator n's block starts at 21*(6-n)
_OP_BASE = np.array([21 * (6 - n) for n in range(1, 7)])  # column j = operator j+1
P_ALGORITHM, P_PEG_L3, P_TRANSPOSE = 134, 132, 144
AUDIBLE_DB = -60.0  # a carrier quieter than this (re full scale) does not count as sounding
# A modulator this far below full scale swings the phase by < 0.07 rad (full scale = 4 pi, §5.4):
# its sidebands are 30 dB down, so it does not set the pitch.
MODULATING_DB = -45.0


def _ops(vced: np.ndarray, k: int) -> np.ndarray:
    """Operator parameter ``k`` (0..20) for operators 1..6 -> int array (..., 6)."""
    return vced[..., _OP_BASE + k].astype(np.int32)


def as_vced(voice: Any) -> np.ndarray:
    """A voice as uint8[155]: accepts a Voice (``to_vced()``), bytes, or an array of 155/156 values."""
    if hasattr(voice, "to_vced"):
        voice = voice.to_vced()
    a = np.frombuffer(bytes(voice), dtype=np.uint8) if isinstance(voice, (bytes, bytearray, memoryview)) \
        else np.asarray(voice)
    if a.ndim != 1 or a.shape[0] not in (155, 156):
        raise ValueError(f"a voice must have 155 VCED parameters, got shape {a.shape}")
    if a.dtype != np.uint8 and ((a < 0) | (a > 255)).any():
        raise ValueError("VCED values must be bytes 0..255 (out-of-range parameters are clamped, bytes are not)")
    return a[:155].astype(np.uint8)


def operator_levels_db(vced: np.ndarray, levels: tuple[int, ...] = (4, 5, 6)) -> np.ndarray:
    """Approximate loudest EG level of each operator in dB re full scale, shape (..., 6).

    Uses output level and the highest of the given EG levels (parameter offsets 4..7 = L1..L4;
    default L1..L3) at neutral velocity, ignoring key scaling (DX7-FACTS §5.4:
    T = 4080 - 64*(TABLE_LOG[L]>>1) - 16*OPLVL, full scale 3840).
    """
    vced = np.asarray(vced)
    ol = np.clip(_ops(vced, 16), 0, 99)
    eg = np.clip(np.max(np.stack([_ops(vced, k) for k in levels]), axis=0), 0, 99)
    oplvl = np.maximum(2 * _TABLE_LOG[ol] + 15, 4)
    t = np.maximum(16, 4080 - 64 * (_TABLE_LOG[eg] >> 1) - 16 * oplvl)
    db = (t - 3840) / 256.0 * 20.0 * math.log10(2.0)
    return np.where(t <= 16, -np.inf, db)


def modulating_mask(vced: np.ndarray) -> np.ndarray:
    """Per operator: loud enough to modulate while the note sounds, shape (..., 6).

    A modulator counts when its L2/L3 level is above -45 dB, or its L1 level is and it leaves L1
    slowly (R2 < 55: the fall takes more than about half a second) - not when it only flashes
    during the attack, as the sub-octave "hammer" operators of the factory pianos do.
    """
    vced = np.asarray(vced)
    body = operator_levels_db(vced, (5, 6)) > MODULATING_DB
    attack = (operator_levels_db(vced, (4,)) > MODULATING_DB) & (_ops(vced, 1) < 55)
    return body | attack


def audible_mask(vced: np.ndarray, threshold_db: float = AUDIBLE_DB) -> np.ndarray:
    """True for voices with at least one carrier louder than ``threshold_db`` (vectorised, (N,))."""
    vced = np.atleast_2d(np.asarray(vced))
    alg = np.clip(vced[:, P_ALGORITHM].astype(np.int64), 0, 31)
    return np.any(CARRIER_MASK[alg] & (operator_levels_db(vced) > threshold_db), axis=1)


def all_ratio_mask(vced: np.ndarray) -> np.ndarray:
    """True for voices whose six operators are all in ratio mode (dx7pytorch's ``all_ratio``)."""
    return np.all(_ops(np.atleast_2d(vced), 17) & 1 == 0, axis=1)


def all_fixed_mask(vced: np.ndarray) -> np.ndarray:
    """True for voices whose six operators are all in fixed-frequency mode (``all_fixed``)."""
    return np.all(_ops(np.atleast_2d(vced), 17) & 1 == 1, axis=1)


def key_frequency(note: int, transpose: int = 24) -> float:
    """Frequency of a ratio-1 operator for MIDI ``note`` with the voice's transpose (24 = none).

    The firmware adds transpose in 8 bits and forces anything outside 0..127 to key 127
    (DX7-FACTS §4.1); equal temperament is within 1 cent of its key-code table.
    """
    k = int(note) + int(transpose) - 24
    if k < 0 or k > 127:
        k = 127
    return 440.0 * 2.0 ** ((k - 69) / 12.0)


def pitch_eg_sustain_octaves(vced: np.ndarray) -> float:
    """Pitch offset, in octaves, that the pitch EG holds while the key is down (level L3, §7)."""
    return (int(_PITCH_EG_LEVEL[min(int(vced[P_PEG_L3]), 99)]) - 128) / 32.0


@dataclass(frozen=True)
class F0:
    """The fundamental of one voice at one key.

    ``f0_hz``: sounding fundamental while the key is held (transpose, coarse/fine ratios and the
    pitch EG's sustain level included; detune, LFO and bend excluded). ``ratio``: the fundamental
    as a multiple of the key frequency (``nan`` for fixed-frequency voices). ``confidence``: 1.0
    harmonic, 0.5 when only the carriers are harmonic (inharmonic modulators) or the carriers are
    fixed-frequency, 0.25 inharmonic carriers, 0.0 silent; at most 0.75 when ``pitch_moves``
    (pitch EG or vibrato wider than half a semitone: follow the frame-level f0 curve then).
    ``kind``: "harmonic", "inharmonic", "fixed", "mixed" (fixed and ratio carriers together) or
    "silent".
    """

    f0_hz: float
    ratio: float
    confidence: float
    kind: str
    pitch_moves: bool = False

    @property
    def harmonic(self) -> bool:
        return self.kind == "harmonic"


# Widest LFO vibrato per pitch-mod sensitivity at PMD 99, in semitones (DX7-FACTS §8.5).
_VIBRATO_SEMITONES = (0.0, 0.47, 0.93, 1.49, 2.52, 4.3, 7.1, 11.86)
MOVING_SEMITONES = 0.5  # pitch EG or vibrato swings wider than this: the pitch moves


def pitch_moves(vced: np.ndarray) -> bool:
    """True when the pitch EG (levels L1, L2, L4 away from the sustain level L3) or the LFO
    vibrato moves the pitch by more than half a semitone: f0_hz is then only the held pitch."""
    v = as_vced(vced)
    peg = _PITCH_EG_LEVEL[np.minimum(v[130:134].astype(np.int64), 99)]  # L1..L4, 32 per octave
    peg_semitones = np.max(np.abs(peg[[0, 1, 3]] - peg[2])) * 12.0 / 32.0
    vibrato = _VIBRATO_SEMITONES[min(int(v[143]), 7)] * min(int(v[139]), 99) / 99.0
    return bool(peg_semitones > MOVING_SEMITONES or vibrato > MOVING_SEMITONES)


MAX_HARMONIC = 32  # a GCD that makes any sounding operator a partial above this is not heard as f0


def _ratio_units(coarse: int, fine: int) -> int:
    """Operator ratio in units of 1/200: coarse x (100 + fine) x 2 (coarse 0 = 0.5, §4.2)."""
    return (100 + fine) if coarse == 0 else 2 * coarse * (100 + fine)


def _fixed_hz(coarse: int, fine: int) -> float:
    """Fixed-mode frequency: 10^(coarse mod 4) x 10^(fine/100) Hz (DX7-FACTS §4.3)."""
    return 10.0 ** (coarse % 4) * 10.0 ** (fine / 100.0)


def sounding_operators(vced: np.ndarray, threshold_db: float = AUDIBLE_DB) -> tuple[list[int], list[int]]:
    """(carriers, modulators) that reach the output: audible carriers, and modulators loud enough
    to modulate (:func:`modulating_mask`) on a path into one of them (1-based operator numbers)."""
    v = as_vced(vced)
    alg = min(int(v[P_ALGORITHM]), 31)
    carriers_all, edges = _ALGORITHMS[alg]
    level_db = operator_levels_db(v)
    modulating = modulating_mask(v)
    carriers = [c for c in carriers_all if level_db[c - 1] > threshold_db]
    sounding = set(carriers)
    modulators: list[int] = []
    changed = True
    while changed:  # walk the graph upward from the sounding operators
        changed = False
        for a, b in edges:
            if b in sounding and a not in sounding and modulating[a - 1]:
                sounding.add(a)
                modulators.append(a)
                changed = True
    return carriers, sorted(modulators)


@dataclass(frozen=True)
class Fundamental:
    """The key-independent part of a voice's fundamental (see :func:`fundamental`)."""

    ratio: float        # fundamental / key frequency (nan for fixed voices)
    fixed_hz: float     # the fundamental of a fixed-frequency voice, else nan
    confidence: float
    kind: str
    transpose: int
    peg_octaves: float  # pitch-EG sustain offset
    pitch_moves: bool = False

    def at(self, note: int) -> F0:
        """The :class:`F0` of this voice at MIDI ``note``."""
        if self.kind == "fixed":
            return F0(self.fixed_hz, float("nan"), self.confidence, self.kind)
        key_hz = key_frequency(note, self.transpose)
        if self.kind == "silent":
            return F0(key_hz, 1.0, 0.0, "silent")
        return F0(key_hz * 2.0 ** self.peg_octaves * self.ratio, self.ratio, self.confidence, self.kind,
                  self.pitch_moves)


def fundamental(voice: Any) -> Fundamental:
    """The fundamental ratio and its confidence from the voice's sounding operators (§3, §4)."""
    v = as_vced(voice)
    transpose = min(int(v[P_TRANSPOSE]), 48)
    peg = pitch_eg_sustain_octaves(v)
    nan = float("nan")
    carriers, modulators = sounding_operators(v)
    if not carriers:
        return Fundamental(1.0, nan, 0.0, "silent", transpose, peg)
    mode = _ops(v, 17) & 1
    coarse = np.clip(_ops(v, 18), 0, 31)
    fine = np.clip(_ops(v, 19), 0, 99)
    ratio_carriers = [c for c in carriers if mode[c - 1] == 0]
    fixed_carriers = [c for c in carriers if mode[c - 1] == 1]
    if not ratio_carriers:  # fixed carriers: the pitch does not follow the key
        hz = min(_fixed_hz(int(coarse[c - 1]), int(fine[c - 1])) for c in fixed_carriers)
        return Fundamental(nan, hz, 0.5, "fixed", transpose, peg)

    def gcd_units(ops: list[int]) -> tuple[int, int]:
        units = [_ratio_units(int(coarse[o - 1]), int(fine[o - 1])) for o in ops]
        g = 0
        for u in units:
            g = math.gcd(g, u)
        return g, max(units) // g

    ratio_mods = [m for m in modulators if mode[m - 1] == 0]
    g, top = gcd_units(ratio_carriers + ratio_mods)
    kind, confidence = "harmonic", 1.0
    if top > MAX_HARMONIC:
        g, top = gcd_units(ratio_carriers)
        kind, confidence = "inharmonic", 0.5
        if top > MAX_HARMONIC:  # inharmonic carriers: report the lowest carrier
            g = min(_ratio_units(int(coarse[c - 1]), int(fine[c - 1])) for c in ratio_carriers)
            confidence = 0.25
    if fixed_carriers or any(mode[m - 1] == 1 for m in modulators):
        kind, confidence = "mixed", min(confidence, 0.5)
    moves = pitch_moves(v)
    if moves:
        confidence = min(confidence, 0.75)
    return Fundamental(g / 200.0, nan, confidence, kind, transpose, peg, moves)


def voice_f0(voice: Any, note: int = 60) -> F0:
    """The sounding fundamental of ``voice`` (a Voice, bytes or 155 values) at MIDI ``note``.

    Accounts for transpose, coarse 0 (x0.5), fine, the ratios of the carriers and of the
    modulators that reach them, and the pitch EG's sustain level. Fixed-frequency carriers and
    inharmonic ratios are flagged in ``kind`` with a lower ``confidence``.

    >>> import dx7live
    >>> f = dx7live.voice_f0(dx7live.builtin_bank()[0], 60)
    >>> f.f0_hz, f.kind                                      # doctest: +SKIP
    """
    if isinstance(note, bool) or not isinstance(note, (int, np.integer)) or not 0 <= int(note) <= 127:
        raise ValueError(f"note must be an integer 0..127, got {note!r}")
    return fundamental(voice).at(int(note))


def f0_curve(pitch_hz: np.ndarray, f0: F0) -> np.ndarray:
    """Frame-level f0 from the engine's ratio-1 pitch annotation (any shape) and a voice's F0."""
    pitch_hz = np.asarray(pitch_hz, dtype=np.float32)
    if f0.kind == "fixed":  # fixed operators ignore key, pitch EG and LFO (§4.3)
        return np.full_like(pitch_hz, f0.f0_hz)
    return (pitch_hz * np.float32(f0.ratio)).astype(np.float32)


LOUDNESS_FLOOR_DB = -120.0


def amplitude_db(amp: np.ndarray, floor_db: float = LOUDNESS_FLOOR_DB) -> np.ndarray:
    """Linear amplitude -> dB re 1.0 (full scale), floored at ``floor_db``; float32."""
    amp = np.abs(np.asarray(amp, dtype=np.float64))
    with np.errstate(divide="ignore"):
        db = 20.0 * np.log10(amp)
    return np.maximum(db, floor_db).astype(np.float32)


def audio_stats(audio: np.ndarray, sample_rate: float, hold: float | None = None) -> dict[str, float]:
    """Peak, RMS and loudness (RMS in dBFS over the held part, or the whole item) of one item."""
    a = np.asarray(audio, dtype=np.float32).ravel()
    if a.size == 0:
        return {"peak": 0.0, "rms": 0.0, "loudness_db": LOUDNESS_FLOOR_DB}
    peak = float(max(a.max(), -a.min()))
    n_held = min(a.size, max(1, int(round(hold * sample_rate)))) if hold else a.size
    held_sq = float(np.dot(a[:n_held], a[:n_held]))
    total_sq = held_sq + float(np.dot(a[n_held:], a[n_held:]))
    rms = math.sqrt(total_sq / a.size)
    held_rms = math.sqrt(held_sq / n_held)
    loud = 20.0 * math.log10(held_rms) if held_rms > 0 else LOUDNESS_FLOOR_DB
    return {"peak": peak, "rms": rms, "loudness_db": max(loud, LOUDNESS_FLOOR_DB)}
