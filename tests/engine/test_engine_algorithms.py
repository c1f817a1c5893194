"""The 32 algorithms from rendered audio: carrier sets, modulation edges, which operator has
feedback, and the algorithm 4/6 feedback loops (DX7-FACTS §3)."""
import numpy as np
import pytest

import support.dx7_reference as ref
from support.audio_analysis import component_amplitude, rms
from support.engine_voices import only_ops, set_op, vced

SR = 48000
FRAMES = 2048
ALGS = list(range(1, 33))


def render_batch(voices, frames=FRAMES, note=57):
    """All voices through the batch renderer at once (each item is an independent note)."""
    from dx7live import _engine
    arr = np.array([list(vced(v)) for v in voices], dtype=np.uint8)
    n = len(voices)
    return _engine.render_batch(arr, np.full(n, note, np.int32), np.full(n, 100, np.int32),
                                np.full(n, frames, np.int64), frames, float(SR))


# "Audible": a carrier at output level 99 has RMS 0.177; an operator at output level 0 sits at the
# -90 dB floor (RMS < 1e-5). "Different": a level-99 modulator moves the phase by up to 2 cycles,
# so the output changes by O(0.1-1). "Same": an operator at output level 0 still outputs the floor
# level (16 µsteps, §5.4); through a chain of full-level modulators (index 4 pi each) that leaks up
# to ~4e-3 (algorithm 4's loop through a floor-level OP6), so 1e-2 is the bound.
AUDIBLE = 0.05
SILENT = 1e-3
DIFFERENT = 0.1
SAME = 1e-2


@pytest.mark.parametrize("alg", ALGS)
def test_carrier_set(alg):
    audio = render_batch([only_ops(alg, {n}) for n in range(1, 7)])
    for n in range(1, 7):
        r = rms(audio[n - 1])
        if n in ref.CARRIERS[alg]:
            assert r > AUDIBLE, f"algorithm {alg}: OP{n} is a carrier (§3) but alone gives RMS {r:.2e}"
        else:
            assert r < SILENT, f"algorithm {alg}: OP{n} is a modulator (§3) but alone gives RMS {r:.2e}"


@pytest.mark.parametrize("alg", ALGS)
def test_modulation_edges(alg):
    # For each operator t: enable t and everything downstream of it (so t reaches the output), then
    # add operator m: the output changes iff m modulates t or something downstream of t.
    voices, keys = [], []
    for t in range(1, 7):
        base_set = {t} | ref.downstream(alg, t)
        if not base_set & ref.CARRIERS[alg]:
            continue
        voices.append(only_ops(alg, base_set))
        keys.append((t, None))
        for m in range(1, 7):
            # a carrier added to the mix is heard by itself; carriers never modulate (§3)
            if m in base_set or m in ref.CARRIERS[alg]:
                continue
            voices.append(only_ops(alg, base_set | {m}))
            keys.append((t, m))
    audio = render_batch(voices)
    base = {t: audio[i] for i, (t, m) in enumerate(keys) if m is None}
    for i, (t, m) in enumerate(keys):
        if m is None:
            continue
        reach = {t} | ref.downstream(alg, t)
        modulates = any(a == m and b in reach for a, b in ref.EDGES[alg])
        diff = float(np.max(np.abs(audio[i] - base[t])))
        if modulates:
            assert diff > DIFFERENT, f"algorithm {alg}: OP{m} should modulate {sorted(reach)} (§3); " \
                                     f"adding it changed the output by only {diff:.2e}"
        else:
            assert diff < SAME, f"algorithm {alg}: OP{m} should not reach {sorted(reach)} (§3); " \
                                f"adding it changed the output by {diff:.2e}"


@pytest.mark.parametrize("alg", ALGS)
def test_feedback_operator(alg):
    # Feedback 0 vs 7 changes the sound only when the feedback operator is sounding (§3 column 4).
    voices, ops = [], []
    for k in range(1, 7):
        s = {k} | ref.downstream(alg, k)
        if not s & ref.CARRIERS[alg]:
            continue
        for fb in (0, 7):
            voices.append(only_ops(alg, s, feedback=fb))
        ops.append(k)
    audio = render_batch(voices)
    for i, k in enumerate(ops):
        diff = float(np.max(np.abs(audio[2 * i + 1] - audio[2 * i])))
        if k == ref.FEEDBACK_OP[alg]:
            assert diff > DIFFERENT, f"algorithm {alg}: feedback should act on OP{k}; changed by {diff:.2e}"
        else:
            assert diff < SAME, f"algorithm {alg}: feedback changed OP{k}'s chain by {diff:.2e}"


@pytest.mark.parametrize("alg,source", sorted(ref.FEEDBACK_LOOP.items()))
def test_feedback_loop_algorithms_4_and_6(alg, source):
    # §3: in algorithms 4 and 6 the feedback path takes OP4's / OP5's output into OP6 (a loop), not
    # OP6's own output. Put OP6 and OP5 on harmonics of 220 Hz and OP4 (the carrier, alg 4) or the
    # loop source on an unrelated fixed frequency: with self-feedback the output only holds
    # f_src + k*220 Hz; with the loop, the source's frequency enters OP6 and components at exact
    # multiples of 220 Hz appear.
    # The modulators sit at output level 75 so that OP6's own feedback stays periodic (at full
    # level FB 7 turns noisy, and noise has energy at every frequency).
    chain = {6} | ref.downstream(alg, 6)
    v = only_ops(alg, chain, feedback=7)
    set_op(v, 6, coarse=2, ol=75)                        # 440 Hz
    set_op(v, 5, coarse=1, ol=75)                        # 220 Hz
    set_op(v, source, mode=1, coarse=3, fine=2, ol=99)   # 1047.1 Hz, fixed
    frames = SR
    x = render_batch([v], frames=frames)[0][SR // 10:]
    total = rms(x)
    harm = np.sqrt(np.sum([component_amplitude(x, SR, k * ref.ratio_hz(57)) ** 2 / 2
                           for k in range(1, 21)]))
    ratio_db = 20 * np.log10(harm / total)
    assert ratio_db > -40, f"algorithm {alg}: no loop from OP{source} into OP6 " \
                           f"(harmonics of 220 Hz at {ratio_db:.1f} dB of the total)"
    # control: the same operators under an algorithm with plain OP6 self-feedback (3 for 4, 5 for 6)
    v2 = list(v)
    v2[134] = alg - 2
    y = render_batch([v2], frames=frames)[0][SR // 10:]
    harm2 = np.sqrt(np.sum([component_amplitude(y, SR, k * ref.ratio_hz(57)) ** 2 / 2
                            for k in range(1, 21)]))
    assert 20 * np.log10(harm2 / rms(y)) < -70, "self-feedback control produced loop components"
