#!/usr/bin/env python3
"""Fit the patch generator's statistics (dx7live/patch/data/voice_stats.json) on a real-world corpus.

    python patches/fit_generator.py [CORPUS_DIR] [--out dx7live/patch/data/voice_stats.json]

CORPUS_DIR defaults to ../shared/corpus/files beside the checkout (or $DX7LIVE_SHARED/corpus/files).
Every file is read with dx7live's reader; voices are de-duplicated on their 145 parameters (names
ignored); INIT VOICE copies and silent voices (every carrier at output level 0) are dropped.

The model (a Gaussian copula, sampled by dx7live.patch.generate):
- the algorithm: a histogram over 1..32;
- the 18 other voice-global parameters: one histogram each plus the correlation matrix of their
  normal scores;
- the 21 operator parameters, separately for carriers and modulators (the role an operator has
  in its voice's algorithm): one histogram each, the 21x21 correlation of normal scores, and per
  parameter how strongly operators of the same role in one voice agree ("shared": the
  correlation of normal scores between two such operators).
Only counts and correlations are stored: no voice of the corpus can be recovered from the file.
The output is deterministic for a given corpus.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dx7live import _io  # noqa: E402
from dx7live.patch.reader import load_many  # noqa: E402
from dx7live.patch.voice import CARRIERS, GLOBAL_PARAMS, INIT_VOICE_VCED, OP_PARAMS  # noqa: E402

OUT = REPO / "dx7live" / "patch" / "data" / "voice_stats.json"
ALG = 134
GLOBAL_NUMS = [126 + k for k, (name, _) in enumerate(GLOBAL_PARAMS) if name != "algorithm"]
_N01 = statistics.NormalDist()


def default_corpus() -> Path:
    env = os.environ.get("DX7LIVE_SHARED")
    base = Path(env) if env else REPO.parent / "shared"
    if not (base / "corpus").is_dir():
        base = Path("/work/shared")
    return base / "corpus" / "files"


def counts(values: np.ndarray, maximum: int) -> np.ndarray:
    return np.bincount(values.astype(np.int64), minlength=maximum + 1)[: maximum + 1]


def normal_scores(values: np.ndarray, cnt: np.ndarray) -> np.ndarray:
    """Each discrete value -> the normal quantile of the middle of its CDF step (ties share a score)."""
    cdf = np.cumsum(cnt) / cnt.sum()
    lo = np.concatenate(([0.0], cdf[:-1]))
    mid = np.clip((lo + cdf) / 2.0, 1e-9, 1 - 1e-9)
    table = np.array([_N01.inv_cdf(float(p)) for p in mid])
    return table[values.astype(np.int64)]


def corr(scores: np.ndarray) -> np.ndarray:
    """Correlation matrix of columns; constant columns get 0 off-diagonal."""
    s = scores - scores.mean(axis=0)
    sd = np.sqrt((s * s).mean(axis=0))
    ok = sd > 1e-12
    c = np.eye(s.shape[1])
    sub = s[:, ok] / sd[ok]
    c[np.ix_(ok, ok)] = (sub.T @ sub) / len(s)
    np.fill_diagonal(c, 1.0)
    return c


def nearest_pd(c: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """Clip eigenvalues so the matrix has a Cholesky factor, then renormalise to a correlation."""
    w, v = np.linalg.eigh((c + c.T) / 2)
    c2 = (v * np.maximum(w, floor)) @ v.T
    d = np.sqrt(np.diag(c2))
    return c2 / np.outer(d, d)


def corpus_voices(corpus: Path) -> np.ndarray:
    bank = load_many(corpus)
    params = np.unique(bank.vced[:, :145], axis=0)
    init = np.frombuffer(INIT_VOICE_VCED[:145], np.uint8)
    params = params[~np.all(params == init, axis=1)]
    carrier_mask = role_masks(params[:, ALG])
    ol = params[:, [21 * (6 - n) + 16 for n in range(1, 7)]]
    audible = np.any(carrier_mask & (ol > 0), axis=1)
    return params[audible]


def role_masks(alg0: np.ndarray) -> np.ndarray:
    """bool[N, 6]: column n-1 is True when OPn is a carrier in the voice's algorithm."""
    table = np.zeros((32, 6), bool)
    for a, cs in enumerate(CARRIERS):
        for n in cs:
            table[a, n - 1] = True
    return table[alg0.astype(np.int64)]


def fit(params: np.ndarray) -> dict:
    n = len(params)
    out: dict = {"format": "dx7live voice statistics 1", "voices": int(n),
                 "fitted_by": "patches/fit_generator.py"}
    out["algorithm"] = counts(params[:, ALG], 31).tolist()

    # Voice-global parameters.
    names = [GLOBAL_PARAMS[k - 126][0] for k in GLOBAL_NUMS]
    maxima = [GLOBAL_PARAMS[k - 126][1] for k in GLOBAL_NUMS]
    hists = [counts(params[:, k], m) for k, m in zip(GLOBAL_NUMS, maxima)]
    scores = np.stack([normal_scores(params[:, k], h) for k, h in zip(GLOBAL_NUMS, hists)], axis=1)
    out["global"] = {"names": names, "params": GLOBAL_NUMS, "counts": [h.tolist() for h in hists],
                     "corr": np.round(nearest_pd(corr(scores)), 4).tolist()}

    # Operator parameters by role.
    carrier = role_masks(params[:, ALG])                                   # [N, 6]
    blocks = np.stack([params[:, 21 * (6 - op): 21 * (6 - op) + 21] for op in range(1, 7)], axis=1)  # [N,6,21]
    out["operator"] = {"names": [p for p, _ in OP_PARAMS]}
    for role, mask in (("carrier", carrier), ("modulator", ~carrier)):
        rows = blocks[mask]                                                # [M, 21]
        hists = [counts(rows[:, k], m) for k, (_, m) in enumerate(OP_PARAMS)]
        sc_all = np.zeros(blocks.shape, dtype=np.float64)
        for k in range(21):
            sc_all[:, :, k] = normal_scores(blocks[:, :, k], hists[k])
        c = nearest_pd(corr(sc_all[mask]))
        # Agreement between two operators of the same role in one voice: all ordered pairs.
        a_list, b_list = [], []
        for i in range(6):
            for j in range(6):
                if i != j:
                    both = mask[:, i] & mask[:, j]
                    a_list.append(sc_all[both, i])
                    b_list.append(sc_all[both, j])
        a, b = np.concatenate(a_list), np.concatenate(b_list)
        shared = []
        for k in range(21):
            x, y = a[:, k], b[:, k]
            sx, sy = x.std(), y.std()
            r = float(((x - x.mean()) * (y - y.mean())).mean() / (sx * sy)) if sx > 0 and sy > 0 else 0.0
            shared.append(round(min(max(r, 0.0), 0.95), 4))
        out["operator"][role] = {"operators": int(len(rows)), "counts": [h.tolist() for h in hists],
                                 "corr": np.round(c, 4).tolist(), "shared": shared}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", nargs="?", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    corpus = args.corpus or default_corpus()
    params = corpus_voices(corpus)
    stats = fit(params)
    text = json.dumps(stats, separators=(",", ":")) + "\n"
    _io.atomic_write(args.out, text.encode())
    os.chmod(args.out, 0o644)   # an ordinary package data file, readable by everyone
    print(f"{len(params)} distinct voices from {corpus} -> {args.out} ({len(text) / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
