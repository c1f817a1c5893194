"""Random DX7 voices for unlimited datasets, sampled from statistics of real-world voices.

:func:`generate_voices` draws voices from a model fitted on a corpus of real DX7 sysex files by
``patches/fit_generator.py`` (stored in ``dx7live/patch/data/voice_stats.json``: histograms and
correlations only). The model is a Gaussian copula:

1. the algorithm from its histogram;
2. the voice-global parameters (feedback, LFO, pitch EG, transpose, ...) jointly, each with its
   real-world histogram and their pairwise correlations;
3. each operator's 21 parameters with the histograms and correlations of its *role* in that
   algorithm (carriers have high output levels and mostly low ratios; modulators vary), plus a
   per-voice shared component so operators of the same role resemble each other as they do in
   real voices (similar envelopes, for instance).

Then every voice is made audible at middle C: its loudest carrier becomes a ratio-mode operator
at output level 80..99 whose attack peak (output level and L1 together) is within 15 dB of full
scale and comes soon enough (R1 >= 40), which does not fall to a low level within milliseconds,
and whose keyboard level scaling cannot take more than about 6 dB away. Everything else keeps its
sampled value.

Voice ``i`` of a ``seed`` depends only on ``(seed, i)`` (NumPy PCG64 streams seeded with
``(seed, block of 1024)``), on every platform: any slice of an unlimited stream can be drawn
directly with ``start=``.

    >>> from dx7live import generate_voices
    >>> bank = generate_voices(1000, seed=7)      # a Bank: bank.vced is uint8[1000, 155]
    >>> bank[0].name
    'GEN 000000'
"""
from __future__ import annotations

import json
import statistics
from functools import lru_cache
from pathlib import Path
from typing import Union

import numpy as np

from dx7live.patch.reader import Bank
from dx7live.patch.voice import CARRIERS, NAME_OFFSET, VCED_SIZE, clamp_vced

STATS_PATH = Path(__file__).resolve().parent / "data" / "voice_stats.json"

ALGORITHM = 134
TRANSPOSE = 144
# Operator block offsets (§1.5).
_R1, _L1, _BP, _LD, _RD, _LC, _RC, _OL, _MODE = 0, 4, 8, 9, 10, 11, 12, 16, 17
_N01 = statistics.NormalDist()


class _Copula:
    """Histograms + a correlation matrix: correlated normals -> discrete parameter values."""

    def __init__(self, counts: list[list[int]], corr: list[list[float]]) -> None:
        self.thresholds = []     # per parameter: normal-score boundaries between its values
        for c in counts:
            cdf = np.cumsum(np.asarray(c, dtype=np.float64))
            cdf = cdf[:-1] / cdf[-1]
            z = np.array([_N01.inv_cdf(float(p)) if 0.0 < p < 1.0 else (np.inf if p >= 1.0 else -np.inf)
                          for p in cdf])
            self.thresholds.append(z)
        self.chol = np.linalg.cholesky(np.asarray(corr, dtype=np.float64))

    def normals(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Correlated standard normals, shape ``shape + (n_params,)``."""
        k = self.chol.shape[0]
        return rng.standard_normal(shape + (k,)) @ self.chol.T

    def values(self, z: np.ndarray) -> np.ndarray:
        """Normal scores (last axis = parameter) -> parameter values (uint8)."""
        out = np.empty(z.shape, dtype=np.uint8)
        for k, thr in enumerate(self.thresholds):
            out[..., k] = np.searchsorted(thr, z[..., k], side="right")
        return out


class _Model:
    def __init__(self, stats: dict) -> None:
        alg = np.asarray(stats["algorithm"], dtype=np.float64)
        self.alg_cdf = np.cumsum(alg) / alg.sum()
        g = stats["global"]
        self.global_params = np.asarray(g["params"], dtype=np.int64)
        self.globals = _Copula(g["counts"], g["corr"])
        op = stats["operator"]
        self.roles = {}
        for role in ("carrier", "modulator"):
            r = op[role]
            shared = np.clip(np.asarray(r["shared"], dtype=np.float64), 0.0, 0.95)
            self.roles[role] = (_Copula(r["counts"], r["corr"]), np.sqrt(shared), np.sqrt(1.0 - shared))
        table = np.zeros((32, 6), bool)
        for a, cs in enumerate(CARRIERS):
            for n in cs:
                table[a, n - 1] = True
        self.carrier_table = table      # [algorithm 0..31, OPn-1]


@lru_cache(maxsize=4)
def _model(path: str) -> _Model:
    with open(path, encoding="utf-8") as f:
        return _Model(json.load(f))


def load_stats(path: Union[str, Path, None] = None) -> dict:
    """The fitted statistics as a dict (see ``patches/fit_generator.py`` for the layout)."""
    with open(path or STATS_PATH, encoding="utf-8") as f:
        return json.load(f)


CHUNK = 1024   # voices are drawn in blocks of this many, each from its own seeded stream


def voice_name(index: int) -> str:
    """The generated voice's 10-character name: ``GEN 000042``, then ``GEN1234567``, ``G123456789``."""
    if index < 10**6:
        return f"GEN {index:06d}"
    if index < 10**7:
        return f"GEN{index:07d}"
    return f"G{index % 10**9:09d}"


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def generate_vced(n: int, seed: int = 0, start: int = 0,
                  stats_path: Union[str, Path, None] = None) -> np.ndarray:
    """Voices ``start .. start+n-1`` of the stream for ``seed``, as ``uint8[n, 155]`` VCED rows.

    Voice ``i`` depends only on ``(seed, i)``: ``generate_vced(10, s)`` equals the first ten rows of
    ``generate_vced(1000, s)``, and ``generate_vced(5, s, start=100)`` gives voices 100..104, so
    a dataset can draw any slice of an unlimited stream. The vectorised core of
    :func:`generate_voices`; see the module docstring for the model.
    """
    n = _check_count("n", n)
    seed = _check_count("seed", seed)
    start = _check_count("start", start)
    model = _model(str(stats_path or STATS_PATH))
    out = np.zeros((n, VCED_SIZE), dtype=np.uint8)
    first, last = start // CHUNK, (start + n - 1) // CHUNK
    for c in range(first, last + 1) if n else ():
        block = _generate_chunk(model, seed, c)
        lo, hi = max(start, c * CHUNK), min(start + n, (c + 1) * CHUNK)
        out[lo - start:hi - start] = block[lo - c * CHUNK:hi - c * CHUNK]
    if n:
        names = "".join(voice_name(i) for i in range(start, start + n)).encode("ascii")
        out[:, NAME_OFFSET:] = np.frombuffer(names, np.uint8).reshape(n, 10)
    return out


def _generate_chunk(model: "_Model", seed: int, chunk: int) -> np.ndarray:
    """CHUNK voices from the random stream (seed, chunk)."""
    n = CHUNK
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, chunk])))
    vced = np.zeros((n, VCED_SIZE), dtype=np.uint8)
    # 1. algorithm
    alg = np.searchsorted(model.alg_cdf, rng.random(n), side="right").clip(0, 31)
    vced[:, ALGORITHM] = alg
    # 2. voice-global parameters
    vced[:, model.global_params] = model.globals.values(model.globals.normals(rng, (n,)))
    # 3. operators: draw both roles for all six operators, keep the one the algorithm assigns
    is_carrier = model.carrier_table[alg]                          # [n, 6]
    ops = {}
    for role, (cop, w_shared, w_own) in model.roles.items():
        shared = cop.normals(rng, (n, 1))                          # one per voice and role
        own = cop.normals(rng, (n, 6))
        ops[role] = cop.values(w_shared * shared + w_own * own)   # [n, 6, 21]
    blocks = np.where(is_carrier[:, :, None], ops["carrier"], ops["modulator"])
    # 4. audibility: fix up the loudest carrier
    _make_audible(blocks, is_carrier, vced[:, TRANSPOSE], rng)
    for k in range(6):                                             # OPn = column n-1, stored OP6 first
        base = 21 * (5 - k)
        vced[:, base:base + 21] = blocks[:, k]
    vced, _ = clamp_vced(vced)   # every sampled value is already in range; this is a safety net
    return vced


def _make_audible(blocks: np.ndarray, is_carrier: np.ndarray, transpose: np.ndarray,
                  rng: np.random.Generator) -> None:
    """Make the loudest carrier of every voice clearly audible at middle C (in place)."""
    n = len(blocks)
    if n == 0:
        return
    ol = np.where(is_carrier, blocks[:, :, _OL].astype(np.int64), -1)
    main = np.argmax(ol, axis=1)                                   # loudest carrier, OPn-1
    rows = np.arange(n)
    op = blocks[rows, main]                                        # copy [n, 21]
    low = op[:, _OL] < 80
    op[low, _OL] = rng.integers(80, 100, size=n)[low]
    op[:, _MODE] = 0                                               # ratio: follows the keyboard
    # Output level and L1 together: at most 20 steps (15 dB) below full scale at the attack peak.
    dim = (99 - op[:, _OL].astype(np.int64)) + (99 - op[:, _L1].astype(np.int64)) > 20
    op[dim, _OL] = np.maximum(op[dim, _OL], 88)
    op[dim, _L1] = rng.integers(90, 100, size=n)[dim]
    slow = op[:, _R1] < 40
    op[slow, _R1] = rng.integers(40, 100, size=n)[slow]
    # It must not vanish within milliseconds: a fall to a level more than 30 steps (22 dB) below
    # full scale (L2 or L3 together with the output level) may not be faster than about 60 dB/s
    # (rate 48, fact sheet §6.3).
    for lev, rate in ((_L1 + 1, _R1 + 1), (_L1 + 2, _R1 + 2)):
        low = (99 - op[:, lev].astype(np.int64)) + (99 - op[:, _OL].astype(np.int64)) > 30
        fast = low & (op[:, rate] > 48)
        op[fast, rate] = rng.integers(20, 49, size=n)[fast]
    # Keyboard level scaling on the side of the breakpoint where middle C (after transpose) lies
    # attenuates by about depth x (distance/3 + 1) x 0.074 dB for the linear curves, less for the
    # exponential ones (§5.3 example): cap that depth so the note loses at most about 6 dB.
    key = 60 + transpose.astype(np.int64) - 24
    bp_note = op[:, _BP].astype(np.int64) + 21
    cap = 80 // (np.abs(key - bp_note) // 3 + 1)
    for side, depth, curve in ((bp_note > key, _LD, _LC), (bp_note <= key, _RD, _RC)):
        deep = side & (op[:, curve] < 2) & (op[:, depth] > cap)
        op[deep, depth] = (rng.random(n) * (cap + 1)).astype(np.uint8)[deep]
    blocks[rows, main] = op


def generate_voices(n: int, seed: int = 0, start: int = 0,
                    stats_path: Union[str, Path, None] = None) -> Bank:
    """``n`` random voices, deterministic for ``seed``, as a :class:`~dx7live.patch.reader.Bank`.

    The voices are valid (every parameter in range), audible (see the module docstring) and
    varied; their parameter statistics follow real-world DX7 voices. They are voices
    ``start .. start+n-1`` of an unlimited stream per seed (voice ``i`` depends only on
    ``seed`` and ``i``) and are named after their index: ``GEN 000000``, ``GEN 000001``, ...
    ``bank.vced`` is the ``uint8[n, 155]`` array; ``bank[i]`` a :class:`~dx7live.patch.voice.Voice`.
    """
    return Bank(generate_vced(n, seed, start, stats_path))
