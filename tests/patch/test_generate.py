"""The patch generator: deterministic, valid, varied, audible, and true to the fitted statistics."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dx7live
from dx7live.patch.generate import STATS_PATH, generate_vced, generate_voices, load_stats
from dx7live.patch.reader import Bank
from dx7live.patch.voice import CARRIERS, VCED_MAX, Voice, clamp_vced, pack_vced, unpack_packed, vced_hashes

from support.paths import REPO  # noqa: E402
STATS = load_stats()


def test_same_seed_same_voices_other_seed_other_voices():
    a, b = generate_vced(300, seed=42), generate_vced(300, seed=42)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, generate_vced(300, seed=43))
    # and reproducible in a fresh process
    out = subprocess.run([sys.executable, "-c", "from dx7live.patch.generate import generate_vced;"
                          "import hashlib;print(hashlib.sha1(generate_vced(300, 42).tobytes()).hexdigest())"],
                         capture_output=True, text=True, cwd=REPO, check=True)
    import hashlib
    assert out.stdout.strip() == hashlib.sha1(a.tobytes()).hexdigest()


def test_voice_i_depends_only_on_seed_and_i():
    whole = generate_vced(3000, seed=8)
    assert np.array_equal(generate_vced(10, seed=8), whole[:10])
    assert np.array_equal(generate_vced(1500, seed=8, start=1000), whole[1000:2500])   # crosses blocks
    assert np.array_equal(generate_voices(3, seed=8, start=2047).vced, whole[2047:2050])
    assert generate_voices(1, seed=8, start=2047)[0].name == "GEN 002047"


def test_names_stay_ten_characters_for_huge_indices():
    from dx7live.patch.generate import voice_name
    assert voice_name(42) == "GEN 000042"
    assert voice_name(1_234_567) == "GEN1234567"
    assert voice_name(123_456_789) == "G123456789"
    assert all(len(voice_name(i)) == 10 for i in (0, 999_999, 10**6, 10**7 - 1, 10**7, 10**12))
    assert generate_voices(1, seed=0, start=10**7)[0].name == "G010000000"


def test_public_api_returns_a_bank_of_named_voices():
    bank = dx7live.generate_voices(50, seed=1)
    assert isinstance(bank, Bank) and len(bank) == 50 and bank.vced.shape == (50, 155)
    assert isinstance(bank[42], Voice) and bank[42].name == "GEN 000042"
    assert bank.names[0] == "GEN 000000"
    assert len(generate_voices(0, seed=1)) == 0


@pytest.mark.parametrize("n, seed, start", [(-1, 0, 0), (2.5, 0, 0), (True, 0, 0), (3, -1, 0), (3, "x", 0),
                                            (3, 0, -5), (3, 0, 1.0)])
def test_bad_arguments_are_rejected(n, seed, start):
    with pytest.raises(ValueError, match="must be a non-negative integer"):
        generate_vced(n, seed, start)


def test_every_value_in_range_and_round_trips_through_the_packed_form():
    v = generate_vced(2000, seed=5)
    _, changed = clamp_vced(v)
    assert not changed.any()
    assert np.all(v[:, :145] <= VCED_MAX[:145])
    assert np.array_equal(unpack_packed(pack_vced(v)), v)
    for row in v[:20]:
        voice = Voice.from_vced(row.tobytes())          # strict: raises on any out-of-range value
        assert Voice.from_packed(voice.to_packed()).to_vced() == row.tobytes()


def test_voices_are_varied():
    v = generate_vced(5000, seed=9)
    assert len(set(vced_hashes(v, include_name=False))) == 5000
    algs = np.bincount(v[:, 134], minlength=32)
    assert np.count_nonzero(algs) == 32 and algs.max() < 0.2 * 5000
    # operator ratios, output levels and envelopes are spread, not collapsed to a few values
    op1 = v[:, 105:126]
    for k in (0, 1, 4, 6, 16, 18):
        assert len(np.unique(op1[:, k])) >= 10


def test_every_voice_has_a_clearly_audible_carrier():
    v = generate_vced(5000, seed=11)
    ok = np.zeros(len(v), bool)
    for a in range(32):
        rows = v[:, 134] == a
        for n in CARRIERS[a]:
            b = 21 * (6 - n)
            op = v[rows, b:b + 21]
            good = (op[:, 16] >= 80) & (op[:, 4] >= 75) & (op[:, 0] >= 40) & (op[:, 17] == 0)
            ok[np.flatnonzero(rows)[good]] = True
    assert ok.all()


def _tv(counts, values):
    p = np.asarray(counts, float)
    p /= p.sum()
    q = np.bincount(values.astype(np.int64), minlength=len(p))[: len(p)] / len(values)
    return 0.5 * float(np.abs(p - q).sum())


def test_marginals_follow_the_fitted_statistics():
    """5,000 voices: each parameter's histogram is within a small total-variation distance of the
    fitted one (parameters of the main carrier that the audibility fix-up moves get more room)."""
    v = generate_vced(5000, seed=2024)
    assert _tv(STATS["algorithm"], v[:, 134]) < 0.06
    g = STATS["global"]
    for name, k, counts in zip(g["names"], g["params"], g["counts"]):
        assert _tv(counts, v[:, k]) < 0.08, name
    carrier = np.zeros((32, 6), bool)
    for a, cs in enumerate(CARRIERS):
        carrier[a, [n - 1 for n in cs]] = True
    is_car = carrier[v[:, 134]]
    blocks = np.stack([v[:, 21 * (6 - n): 21 * (6 - n) + 21] for n in range(1, 7)], axis=1)
    adjusted = {"r1", "r2", "r3", "l1", "output_level", "mode", "left_depth", "right_depth"}
    for role, mask in (("carrier", is_car), ("modulator", ~is_car)):
        rows = blocks[mask]
        for k, (name, counts) in enumerate(zip(STATS["operator"]["names"], STATS["operator"][role]["counts"])):
            limit = 0.12 if role == "carrier" and name in adjusted else 0.08
            assert _tv(counts, rows[:, k]) < limit, (role, name)


def test_key_correlations_are_kept():
    """The copula keeps real-world structure, e.g. a modulator's L1 and L2 go together."""
    v = generate_vced(5000, seed=77)
    k = STATS["operator"]["names"].index
    fitted = np.asarray(STATS["operator"]["modulator"]["corr"])[k("l2"), k("l3")]
    carrier = np.zeros((32, 6), bool)
    for a, cs in enumerate(CARRIERS):
        carrier[a, [n - 1 for n in cs]] = True
    mod = ~carrier[v[:, 134]]
    blocks = np.stack([v[:, 21 * (6 - n): 21 * (6 - n) + 21] for n in range(1, 7)], axis=1)[mod]
    measured = np.corrcoef(blocks[:, k("l2")], blocks[:, k("l3")])[0, 1]
    assert fitted > 0.3 and abs(measured - fitted) < 0.15


def test_stats_file_is_small_and_well_formed():
    assert STATS_PATH.stat().st_size < 200_000
    assert len(STATS["algorithm"]) == 32 and STATS["voices"] > 10_000
    assert len(STATS["global"]["params"]) == 18
    for role in ("carrier", "modulator"):
        r = STATS["operator"][role]
        assert len(r["counts"]) == 21 and len(r["shared"]) == 21
        c = np.asarray(r["corr"])
        assert c.shape == (21, 21) and np.allclose(c, c.T) and np.all(np.linalg.eigvalsh(c) > 0)


@pytest.mark.corpus
def test_fit_script_reproduces_the_committed_statistics(corpus_dir, tmp_path):
    """A fresh fit on the corpus matches the committed file: exactly, unless the reader has since
    learnt to read a few more or fewer voices, and then within sampling-level tolerances."""
    out = tmp_path / "stats.json"
    subprocess.run([sys.executable, str(REPO / "patches" / "fit_generator.py"), str(corpus_dir / "files"),
                    "--out", str(out)], check=True, capture_output=True, cwd=REPO)
    fresh = json.loads(out.read_text())
    again = tmp_path / "again.json"
    subprocess.run([sys.executable, str(REPO / "patches" / "fit_generator.py"), str(corpus_dir / "files"),
                    "--out", str(again)], check=True, capture_output=True, cwd=REPO)
    assert again.read_bytes() == out.read_bytes(), "the fit is not deterministic"
    if fresh == STATS:
        return
    assert abs(fresh["voices"] - STATS["voices"]) < 0.01 * STATS["voices"], "refit: python patches/fit_generator.py"
    pairs = [(fresh["algorithm"], STATS["algorithm"])]
    pairs += list(zip(fresh["global"]["counts"], STATS["global"]["counts"]))
    for role in ("carrier", "modulator"):
        pairs += list(zip(fresh["operator"][role]["counts"], STATS["operator"][role]["counts"]))
        assert np.allclose(fresh["operator"][role]["corr"], STATS["operator"][role]["corr"], atol=0.02)
    for a, b in pairs:
        p, q = np.asarray(a, float), np.asarray(b, float)
        assert 0.5 * np.abs(p / p.sum() - q / q.sum()).sum() < 0.01


def test_generated_voices_are_audible_when_rendered():
    pytest.importorskip("dx7live._engine", reason="the native engine is not built (setup.py build_ext --inplace)")
    from dx7live import render_note
    bank = generate_voices(50, seed=123)
    for i, voice in enumerate(bank):
        a = np.asarray(render_note(voice, note=60, velocity=100, note_duration=1.0, duration=1.5, sample_rate=48000))
        assert np.all(np.isfinite(a)), i
        held = a[:48000]
        peak, rms = float(np.abs(a).max()), float(np.sqrt(np.mean(held.astype(np.float64) ** 2)))
        assert peak > 0.02 and rms > 0.003, (i, peak, rms)
        assert peak < 4.0, (i, peak)
