#!/usr/bin/env python3
"""Listen with your eyes: render every voice of a built-in bank and measure what it does.

For each voice of ``patches/<bank>.toml``: render note C3 (MIDI 60) at velocity 100, held 1 s, and
print peak, RMS, the measured pitch (f0, or the intended partial for bells), attack time, decay
after 1 s and how steady the held level is, next to what the source file says to expect.
``tests/patch/test_builtin.py`` uses the same measurements to check every voice.

    python patches/audition.py [--bank dx7live-1] [--wav-dir DIR]
"""
from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import build_banks  # noqa: E402  (standalone script beside this one)

SAMPLE_RATE = 48000
NOTE, VELOCITY, HOLD_S, TOTAL_S = 60, 100, 1.0, 2.0
FRAME_S = 0.01


def key_hz(note: int, transpose: int = 24) -> float:
    """Equal-tempered frequency of a key after the voice's transpose (24 = none), A4 = 440 Hz."""
    return 440.0 * 2.0 ** ((note + transpose - 24 - 69) / 12.0)


def frame_db(audio: np.ndarray, sr: int, frame_s: float = FRAME_S) -> np.ndarray:
    """RMS level in dB per frame (floor -200 dB)."""
    n = int(round(frame_s * sr))
    k = len(audio) // n
    fr = audio[: k * n].astype(np.float64).reshape(k, n)
    return 10.0 * np.log10(np.mean(fr * fr, axis=1) + 1e-20)


def yin_f0(x: np.ndarray, sr: int, fmin: float = 30.0, fmax: float = 4000.0, threshold: float = 0.12) -> float:
    """Fundamental frequency by YIN (cumulative mean normalised difference), NaN if unvoiced."""
    x = x.astype(np.float64) - np.mean(x)
    tau_max = min(int(sr / fmin), len(x) // 2)
    tau_min = max(2, int(sr / fmax))
    w = len(x) - tau_max
    # Difference function via FFT autocorrelation: d(t) = e0 + e(t) - 2 r(t).
    nfft = 1 << int(math.ceil(math.log2(len(x) + w)))
    xf = np.fft.rfft(x, nfft)
    hf = np.fft.rfft(x[:w][::-1], nfft)
    r = np.fft.irfft(xf * hf, nfft)[w - 1: w - 1 + tau_max + 1]
    cs = np.concatenate(([0.0], np.cumsum(x * x)))
    e0 = cs[w]
    e = cs[np.arange(tau_max + 1) + w] - cs[np.arange(tau_max + 1)]
    d = e0 + e - 2.0 * r
    d[0] = 0.0
    cmnd = np.ones_like(d)
    cums = np.cumsum(d[1:])
    cmnd[1:] = d[1:] * np.arange(1, tau_max + 1) / np.maximum(cums, 1e-30)
    cand = np.where(cmnd[tau_min:] < threshold)[0]
    if len(cand) == 0:
        return float("nan")
    t = cand[0] + tau_min
    while t + 1 <= tau_max and cmnd[t + 1] < cmnd[t]:
        t += 1
    if 1 <= t < tau_max:   # parabolic refinement
        a, b, c = cmnd[t - 1], cmnd[t], cmnd[t + 1]
        den = a - 2 * b + c
        t = t + (0.5 * (a - c) / den if den != 0 else 0.0)
    return sr / t


def spectrum_peak(x: np.ndarray, sr: int, target_hz: float, tol: float = 0.03) -> tuple[float, float]:
    """(frequency, level in dB relative to the strongest peak) of the largest peak within ±tol of target."""
    x = x.astype(np.float64) * np.hanning(len(x))
    nfft = 1 << int(math.ceil(math.log2(len(x)) + 2))
    mag = np.abs(np.fft.rfft(x, nfft))
    freqs = np.fft.rfftfreq(nfft, 1.0 / sr)
    band = np.where((freqs > target_hz * (1 - tol)) & (freqs < target_hz * (1 + tol)))[0]
    if len(band) == 0:
        return float("nan"), -math.inf
    i = band[np.argmax(mag[band])]
    if 0 < i < len(mag) - 1:   # parabolic interpolation on log magnitude
        a, b, c = np.log(mag[i - 1: i + 2] + 1e-30)
        den = a - 2 * b + c
        off = 0.5 * (a - c) / den if den != 0 else 0.0
    else:
        off = 0.0
    f = (i + off) * sr / nfft
    return f, 20.0 * math.log10((mag[i] + 1e-30) / (mag.max() + 1e-30))


def cents(f: float, ref: float) -> float:
    return 1200.0 * math.log2(f / ref) if f > 0 and ref > 0 and math.isfinite(f) else math.nan


@dataclass
class Measures:
    peak: float
    rms: float           # over the held second
    finite: bool
    onset_s: float
    attack_s: float      # onset -> within 6 dB of the loudest 10 ms frame while held
    decay_db: float      # loudest frame in the first 0.3 s after onset minus the level at 0.9-1.0 s
    drop_05_db: float    # loudest frame in the first 0.3 s after onset minus the level at 0.45-0.5 s
    hold_range_db: float  # max - min of 50 ms levels over the sustained part of the hold (chorus beats too)
    sustain_db: float    # level at 0.65-0.95 s minus level at 0.3-0.6 s (trend while held)
    f0: float            # YIN over the pitch window (NaN if unvoiced)
    partial_hz: float    # strongest peak near the intended partial (or fundamental)
    partial_db: float    # its level relative to the strongest spectral peak


def measure(audio: np.ndarray, sr: int, expect: dict, transpose: int = 24, note: int = NOTE) -> Measures:
    """All measurements the bank test and the audition table use (note-on at 0, note-off at 1 s)."""
    a = np.asarray(audio, dtype=np.float64)
    finite = bool(np.all(np.isfinite(a)))
    a = np.nan_to_num(a)
    hold = a[: int(HOLD_S * sr)]
    peak = float(np.max(np.abs(a))) if len(a) else 0.0
    rms = float(np.sqrt(np.mean(hold * hold))) if len(hold) else 0.0
    db = frame_db(hold, sr)
    top = float(db.max())
    onset_i = int(np.argmax(db > top - 40.0))
    onset = onset_i * FRAME_S
    reach = np.where(db[onset_i:] > top - 6.0)[0]
    attack = float(reach[0] * FRAME_S) if len(reach) else math.nan
    i03 = onset_i + int(0.3 / FRAME_S)
    early = float(db[onset_i:max(i03, onset_i + 1)].max())

    def level(t0: float, t1: float) -> float:
        seg = hold[int(t0 * sr):int(t1 * sr)]
        return 10.0 * math.log10(float(np.mean(seg * seg)) + 1e-20)

    decay = early - level(0.9, 1.0)
    drop05 = early - level(0.45, 0.5)
    start = 0.6 if expect.get("envelope") == "swelling" else 0.4
    lv = [level(t, t + 0.05) for t in np.arange(start, 0.95 - 1e-9, 0.05)]
    hold_range = float(max(lv) - min(lv))
    sustain = level(0.65, 0.95) - level(0.3, 0.6)
    w0, w1 = expect.get("window", [0.15, 0.45])
    seg = hold[int(w0 * sr):int(w1 * sr)]
    f0 = yin_f0(seg, sr) if np.any(seg) else math.nan
    ratio = expect.get("partial", expect.get("f0", 1.0))
    p_hz, p_db = spectrum_peak(seg, sr, key_hz(note, transpose) * ratio) if np.any(seg) else (math.nan, -math.inf)
    return Measures(peak, rms, finite, onset, attack, decay, drop05, hold_range, sustain, f0, p_hz, p_db)


# Limits the bank test applies (see tests/patch/test_builtin.py).
PEAK_MIN, PEAK_MAX, RMS_MIN = 0.05, 1.0, 0.01
PITCH_CENTS = 25.0
PARTIAL_MIN_DB = -20.0
SUSTAIN_TREND_DB = 4.0     # sustaining: the held level's trend stays within this
SUSTAIN_MAX_DECAY_DB = 10.0  # ... and it is no more than this below the attack's peak at 1 s
SWELL_MIN_ATTACK_S = 0.15
PERCUSSIVE_DB = 30.0


def problems(vs: build_banks.VoiceSource, m: Measures) -> list[str]:
    """Why a voice does not do what its source says (empty list = fine)."""
    e = vs.expect
    out = []
    transpose = vs.vced[build_banks.P_TRANSPOSE]
    if not m.finite:
        out.append("non-finite samples")
    if not PEAK_MIN <= m.peak <= PEAK_MAX:
        out.append(f"peak {m.peak:.3f} outside {PEAK_MIN}..{PEAK_MAX}")
    if m.rms < RMS_MIN:
        out.append(f"rms {m.rms:.4f} below {RMS_MIN}")
    if e["pitch"] == "fundamental":
        want = key_hz(NOTE, transpose) * e.get("f0", 1.0)
        c = cents(m.f0, want)
        if not abs(c) <= PITCH_CENTS:
            out.append(f"f0 {m.f0:.1f} Hz, expected {want:.1f} Hz ({c:+.0f} cents)")
    elif e["pitch"] == "partial":
        want = key_hz(NOTE, transpose) * e["partial"]
        c = cents(m.partial_hz, want)
        if not abs(c) <= PITCH_CENTS or m.partial_db < PARTIAL_MIN_DB:
            out.append(f"partial {m.partial_hz:.1f} Hz at {m.partial_db:.1f} dB, expected {want:.1f} Hz ({c:+.0f} cents)")
    env = e["envelope"]
    if env == "decaying" and not m.decay_db >= e.get("decay_db", 6.0):
        out.append(f"decays {m.decay_db:.1f} dB in 1 s, expected >= {e.get('decay_db', 6.0)}")
    if env == "percussive" and not m.drop_05_db >= PERCUSSIVE_DB:
        out.append(f"drops {m.drop_05_db:.1f} dB by 0.5 s, expected >= {PERCUSSIVE_DB}")
    if env in ("sustaining", "swelling"):
        low = -SUSTAIN_TREND_DB
        high = SUSTAIN_TREND_DB if env == "sustaining" else math.inf   # a swell may still be rising
        if not low <= m.sustain_db <= high:
            out.append(f"held level moves {m.sustain_db:+.1f} dB between 0.3-0.6 s and 0.65-0.95 s")
        if not m.decay_db <= SUSTAIN_MAX_DECAY_DB:
            out.append(f"held level at 1 s is {m.decay_db:.1f} dB below the attack peak")
    if env == "swelling" and not m.attack_s >= SWELL_MIN_ATTACK_S:
        out.append(f"attack {m.attack_s:.2f} s, expected >= {SWELL_MIN_ATTACK_S}")
    return out


def render(vced: bytes, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Note C3, velocity 100, held 1 s, 2 s rendered, with dx7live's engine."""
    import dx7live
    from dx7live.patch.voice import Voice
    return np.asarray(dx7live.render_note(Voice(vced), note=NOTE, velocity=VELOCITY, note_duration=HOLD_S,
                                          duration=TOTAL_S, sample_rate=sr))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bank", default="dx7live-1")
    ap.add_argument("--wav-dir", type=Path, help="also write each render as a WAV file here")
    args = ap.parse_args(argv)
    voices = build_banks.read_source(HERE / f"{args.bank}.toml")
    print(f"{'#':>2} {'name':10} {'family':10} {'alg':>3} {'peak':>6} {'rms':>6} {'f0 Hz':>7} {'want':>7}"
          f" {'part dB':>7} {'att s':>5} {'dec dB':>6} {'d.5 dB':>6} {'trend':>5}  verdict")
    bad = 0
    for i, vs in enumerate(voices):
        audio = render(vs.vced)
        t = vs.vced[build_banks.P_TRANSPOSE]
        m = measure(audio, SAMPLE_RATE, vs.expect, t)
        ratio = vs.expect.get("partial", vs.expect.get("f0", 1.0))
        want = key_hz(NOTE, t) * ratio if vs.expect["pitch"] != "none" else math.nan
        p = problems(vs, m)
        bad += bool(p)
        print(f"{i + 1:2d} {vs.name:10} {vs.family:10} {vs.vced[build_banks.P_ALG] + 1:3d} {m.peak:6.3f} {m.rms:6.3f}"
              f" {m.f0:7.1f} {want:7.1f} {m.partial_db:7.1f} {m.attack_s:5.2f} {m.decay_db:6.1f}"
              f" {m.drop_05_db:6.1f} {m.sustain_db:+5.1f}  {'; '.join(p) or 'ok'}")
        if args.wav_dir:
            from dx7live import _io
            args.wav_dir.mkdir(parents=True, exist_ok=True)
            _io.write_wav(args.wav_dir / f"{i + 1:02d}_{vs.name.strip().replace(' ', '_')}.wav", audio, SAMPLE_RATE)
    print(f"{len(voices) - bad}/{len(voices)} voices as expected")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
