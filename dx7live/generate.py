"""Random DX7 voices for unlimited datasets, sampled from statistics of real-world voices.

:func:`generate_voices` draws voices from a model fitted on a corpus of real DX7 sysex files by
``patches/fit_generator.py`` (stored in ``dx7live/data/voice_stats.json``: histograms and
correlations only). The model is a Gaussian copula:

1. the algorithm from its histogram;
2. the voice-global parameters (feedback, LFO, pitch EG, transpose, ...) jointly, each with its
   real-world histogram and their pairwise correlations;
3. each operator's 21 parameters with the histograms and correlations of its *role* in that
   algorithm (carriers have high output levels and mostly low ratios; modulators vary), plus a
   per-voice shared component so operators of the same role resemble each other as they do in
   real voices (similar envelopes, for instance).

Then every voice is made audible: its loudest carrier is a ratio-mode operator at output level
80..99 whose envelope reaches a high level (L1 >= 75) quickly enough (R1 >= 40) and which is not
scaled away at middle C. Everything else keeps its sampled value. The same ``seed`` always gives
the same voices (NumPy's PCG64), on every platform.

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
from typing import Optional, Union

import numpy as np

from .patchfile import Bank
from .voice import CARRIERS, NAME_OFFSET, VCED_SIZE, clamp_vced

STATS_PATH = Path(__file__).resolve().parent / "data" / "voice_stats.json"

ALGORITHM = 134
# Operator block offsets (§1.5).
_R1, _L1, _LD, _RD, _OL, _MODE, _COARSE, _FINE = 0, 4, 9, 10, 16, 17, 18, 19
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


def generate_vced(n: int, seed: int = 0, stats_path: Union[str, Path, None] = None) -> np.ndarray:
    """``n`` generated voices as ``uint8[n, 155]`` VCED rows (names ``GEN 000000`` ...).

    The vectorised core of :func:`generate_voices`; see the module docstring for the model.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    n = int(n)
    model = _model(str(stats_path or STATS_PATH))
    rng = np.random.Generator(np.random.PCG64(int(seed)))
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
    _make_audible(blocks, is_carrier, rng)
    for k in range(6):                                             # OPn = column n-1, stored OP6 first
        base = 21 * (5 - k)
        vced[:, base:base + 21] = blocks[:, k]
    names = np.frombuffer("".join(f"GEN {i:06d}" for i in range(n)).encode("ascii"), np.uint8)
    vced[:, NAME_OFFSET:] = names.reshape(n, 10) if n else vced[:, NAME_OFFSET:]
    vced, _ = clamp_vced(vced)   # every sampled value is already in range; this is a safety net
    return vced


def _make_audible(blocks: np.ndarray, is_carrier: np.ndarray, rng: np.random.Generator) -> None:
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
    quiet = op[:, _L1] < 75
    op[quiet, _L1] = rng.integers(75, 100, size=n)[quiet]
    slow = op[:, _R1] < 40
    op[slow, _R1] = rng.integers(40, 100, size=n)[slow]
    # Keyboard level scaling can only attenuate by up to a few dB near the breakpoint; deep
    # scaling far from C3 could silence the note: limit both depths on the main carrier.
    op[:, _LD] = np.minimum(op[:, _LD], 40)
    op[:, _RD] = np.minimum(op[:, _RD], 40)
    blocks[rows, main] = op


def generate_voices(n: int, seed: int = 0, stats_path: Union[str, Path, None] = None) -> Bank:
    """``n`` new random voices, deterministic for ``seed``, as a :class:`~dx7live.patchfile.Bank`.

    The voices are valid (every parameter in range), audible (see the module docstring) and
    varied; their parameter statistics follow real-world DX7 voices. Names are ``GEN 000000``,
    ``GEN 000001``, ... (the index within this call). ``bank.vced`` is the ``uint8[n, 155]`` array;
    ``bank[i]`` a :class:`~dx7live.voice.Voice`.
    """
    return Bank(generate_vced(n, seed, stats_path))
