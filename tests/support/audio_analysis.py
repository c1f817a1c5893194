"""Measurement helpers for the engine tests: pitch, level and envelope read from rendered audio.

All functions take a mono float array and its sample rate. They are deliberately simple and exact for
the test signals used (steady sines, sine carriers with slowly varying pitch or level).
"""
from __future__ import annotations

import math

import numpy as np


def rms(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(np.sqrt(np.mean(x * x))) if x.size else 0.0


def db(a: float, ref: float = 1.0) -> float:
    return 20.0 * math.log10(max(a, 1e-30) / ref)


def rising_zero_crossings(x: np.ndarray) -> np.ndarray:
    """Fractional sample positions of the upward zero crossings (linear interpolation)."""
    x = np.asarray(x, dtype=np.float64)
    i = np.nonzero((x[:-1] < 0) & (x[1:] >= 0))[0]
    return i + (-x[i]) / (x[i + 1] - x[i])


def f0_zero_crossings(x: np.ndarray, sr: float) -> float:
    """f0 of a (nearly) pure sine: slope of a line fitted through its upward zero crossings.

    For a steady sine this is accurate to far better than 0.01 cent over a few hundred periods.
    """
    z = rising_zero_crossings(x)
    if z.size < 3:
        return float("nan")
    k = np.arange(z.size, dtype=np.float64)
    period = np.polyfit(k, z, 1)[0]
    return sr / period


def f0_fft(x: np.ndarray, sr: float, fmin: float = 20.0, fmax: float | None = None,
           pad: int = 8) -> float:
    """Frequency of the strongest spectral peak in [fmin, fmax]: Hann window, zero padding, and
    parabolic interpolation on the log magnitude."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    w = np.hanning(n)
    spec = np.abs(np.fft.rfft(x * w, n * pad))
    freqs = np.fft.rfftfreq(n * pad, 1.0 / sr)
    fmax = sr / 2 if fmax is None else fmax
    band = (freqs >= fmin) & (freqs <= fmax)
    idx = np.nonzero(band)[0]
    k = idx[np.argmax(spec[idx])]
    if 0 < k < spec.size - 1:
        a, b, c = np.log(spec[k - 1:k + 2] + 1e-300)
        p = 0.5 * (a - c) / (a - 2 * b + c)
    else:
        p = 0.0
    return float((k + p) * sr / (n * pad))


def f0_autocorr(x: np.ndarray, sr: float, fmin: float = 30.0, fmax: float = 4000.0) -> float:
    """f0 of a periodic (not necessarily sinusoidal) signal by autocorrelation, parabolic peak."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    n = x.size
    spec = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    lo, hi = int(sr / fmax), min(int(sr / fmin), n - 2)
    k = lo + int(np.argmax(ac[lo:hi]))
    a, b, c = ac[k - 1:k + 2]
    p = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return sr / (k + p)


def component_amplitude(x: np.ndarray, sr: float, f: float) -> float:
    """Peak amplitude of the sinusoidal component at exactly f Hz (Hann-windowed DFT at f).

    Accurate when the other components are several main-lobe widths (4 sr/len) away.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    w = np.hanning(n)
    t = np.arange(n) / sr
    z = np.sum(x * w * np.exp(-2j * np.pi * f * t))
    return float(2 * abs(z) / w.sum())


def envelope_db(x: np.ndarray, sr: float, window: float) -> tuple[np.ndarray, np.ndarray]:
    """RMS level per window of `window` seconds in dB re a full-scale sine of amplitude 1
    (i.e. +3 dB on RMS so a sine of peak a reads 20*log10(a)). Returns (window centre times, dB)."""
    x = np.asarray(x, dtype=np.float64)
    n = max(1, int(round(window * sr)))
    m = x.size // n
    frames = x[:m * n].reshape(m, n)
    r = np.sqrt(np.mean(frames * frames, axis=1)) * math.sqrt(2)
    t = (np.arange(m) + 0.5) * n / sr
    return t, 20 * np.log10(np.maximum(r, 1e-12))


def peak_envelope_db(x: np.ndarray, sr: float, window: float) -> tuple[np.ndarray, np.ndarray]:
    """Peak |x| per window in dB (for a sine: its amplitude when the window spans a period)."""
    x = np.abs(np.asarray(x, dtype=np.float64))
    n = max(1, int(round(window * sr)))
    m = x.size // n
    frames = x[:m * n].reshape(m, n)
    t = (np.arange(m) + 0.5) * n / sr
    return t, 20 * np.log10(np.maximum(frames.max(axis=1), 1e-12))


def slope_between(t: np.ndarray, level_db: np.ndarray, hi_db: float, lo_db: float) -> float:
    """Least-squares slope (dB/s) of the points after the loudest one whose level lies in
    [lo_db, hi_db] (so an attack passing through the same levels is not mixed into a decay)."""
    level_db = np.asarray(level_db)
    after = np.arange(level_db.size) >= int(np.argmax(level_db))
    sel = (level_db <= hi_db) & (level_db >= lo_db) & after
    if sel.sum() < 3:
        raise ValueError(f"only {int(sel.sum())} envelope points between {lo_db} and {hi_db} dB")
    return float(np.polyfit(t[sel], level_db[sel], 1)[0])


def first_crossing(t: np.ndarray, level_db: np.ndarray, threshold_db: float, rising: bool = True) -> float:
    """Time at which the level first crosses threshold_db (linear interpolation between windows)."""
    above = level_db >= threshold_db if rising else level_db <= threshold_db
    idx = np.nonzero(above)[0]
    if idx.size == 0:
        return float("nan")
    i = int(idx[0])
    if i == 0:
        return float(t[0])
    y0, y1 = level_db[i - 1], level_db[i]
    frac = (threshold_db - y0) / (y1 - y0) if y1 != y0 else 0.0
    return float(t[i - 1] + frac * (t[i] - t[i - 1]))


def instantaneous_hz(x: np.ndarray, sr: float) -> np.ndarray:
    """Instantaneous frequency per sample of a sine carrier (one value per zero-crossing period,
    held): robust for slowly varying pitch. Returns an array the length of x (NaN before the
    second crossing)."""
    z = rising_zero_crossings(x)
    out = np.full(np.asarray(x).size, np.nan)
    if z.size < 2:
        return out
    f = sr / np.diff(z)
    starts = np.ceil(z[:-1]).astype(int)
    for s, e, v in zip(starts, np.append(starts[1:], out.size), f):
        out[s:e] = v
    return out


def pitch_track(x: np.ndarray, sr: float) -> tuple[np.ndarray, np.ndarray]:
    """(times, Hz) of each period of a sine carrier, from consecutive upward zero crossings."""
    z = rising_zero_crossings(x)
    return (z[:-1] + z[1:]) / 2 / sr, sr / np.diff(z)


def hilbert_envelope_db(x: np.ndarray, pre_pad: int = 4096) -> np.ndarray:
    """Per-sample amplitude (dB) of a sine carrier via the analytic signal. Silence is prepended
    before the transform (the audio starts at note-on, so that is what preceded it) to keep the
    transform's edge effects away from the attack."""
    from scipy.signal import hilbert
    x = np.concatenate([np.zeros(pre_pad), np.asarray(x, dtype=np.float64), np.zeros(pre_pad)])
    a = np.abs(hilbert(x))[pre_pad:-pre_pad]
    return 20 * np.log10(np.maximum(a, 1e-12))


def rising_edges(t: np.ndarray, values: np.ndarray, margin: float = 0.3) -> np.ndarray:
    """Times where a square-like signal switches from its low to its high state, with hysteresis:
    it must go below -margin*depth and then above +margin*depth (depth = 90th percentile of
    |values|), so flat stretches and one-sample glitches at the edges do not count."""
    values = np.asarray(values, dtype=np.float64)
    depth = np.percentile(np.abs(values), 90)
    hi, lo = margin * depth, -margin * depth
    edges, state = [], 0
    for ti, vi in zip(t, values):
        if vi < lo:
            state = -1
        elif vi > hi and state == -1:
            edges.append(ti)
            state = 1
    return np.array(edges)
