"""Engine speed: x-real-time of dx7live's engine, side by side with dexed-py when it is installed.

    python bench/bench_engine.py [--seconds 10] [--cpu 0] [--repeat 3] [--bank PATH]

Pins itself to one core (os.sched_setaffinity), then times, at 48 kHz:
  1. one heavy voice: six operators, all audible (algorithm 32), feedback 7, held;
  2. sixteen such voices sounding at once (dexed-py renders one note per call, so it renders the
     sixteen notes one after another: the same amount of synthesis);
  3. the 32 voices of a factory bank (rom1a.syx), one held note each;
  4. the batch renderer (dx7live._engine.render_batch) in items per second, one thread and all cores.
x-real-time = seconds of audio per second of wall time (per voice for 1 and 3, for the whole
16-voice mix in 2). The best of --repeat runs is kept; the two renderers alternate run by run. Prints a table; exits 0.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SR = 48000
DEFAULT_BANK = REPO.parent / "shared" / "corpus" / "factory" / "rom1a.syx"


def heavy_voice(algorithm: int = 32) -> bytes:
    """Six operators at ratios 1..6, output level 99, feedback 7, sustain held (algorithm 32: all
    six are carriers; algorithm 1: two stacks, OP6 with feedback on top of a 4-operator stack)."""
    op = lambda coarse: [99, 99, 99, 99, 99, 99, 99, 0, 39, 0, 0, 0, 0, 0, 0, 0, 99, 0, coarse, 0, 7]
    v = []
    for n in range(6, 0, -1):                 # VCED stores OP6 first
        v += op(n)
    v += [99, 99, 99, 99, 50, 50, 50, 50, algorithm - 1, 7, 1, 35, 0, 0, 0, 1, 0, 3, 24]
    v += list(b"HEAVY FB 7")
    return bytes(v)


def unpack_vmem(data: bytes) -> list[bytes]:
    """32 packed voices of a 4104-byte VMEM dump -> 155-byte VCED voices (DX7-FACTS §1.4)."""
    if len(data) >= 4104 and data[0] == 0xF0:
        data = data[6:6 + 4096]
    voices = []
    for i in range(32):
        p = data[128 * i:128 * (i + 1)]
        v = []
        for k in range(6):
            o = p[17 * k:17 * (k + 1)]
            v += list(o[0:11])
            v += [o[11] & 3, (o[11] >> 2) & 3, o[12] & 7, o[13] & 3, (o[13] >> 2) & 7, o[14],
                  o[15] & 1, (o[15] >> 1) & 31, o[16], (o[12] >> 3) & 15]
        g = p[102:128]
        v += list(g[0:8]) + [g[8] & 31, g[9] & 7, (g[9] >> 3) & 1] + list(g[10:14])
        v += [g[14] & 1, (g[14] >> 1) & 7, (g[14] >> 4) & 7, g[15]] + list(g[16:26])
        voices.append(bytes(x & 0x7F for x in v))
    return voices


def best_of(repeat: int, fn) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def ours_notes(voices: list[bytes], seconds: float, notes: list[int], together: bool):
    from dx7live import _engine
    frames = int(seconds * SR)

    s = _engine.Synth(float(SR), 16)       # one instrument, reset per note (as dexed-py is reused)

    def run():
        if together:
            s.reset(0)
            s.load_voice(voices[0])
            for n in notes:
                s.note_on(n, 100, 0)
            s.render(frames)
        else:
            for v, n in zip(voices, notes):
                s.reset(0)
                s.load_voice(v)
                s.note_on(n, 100, 0)
                s.render(frames)
    return run


def dexed_notes(voices: list[bytes], seconds: float, notes: list[int]):
    import dexed
    synth = dexed.DexedSynth(sample_rate=float(SR))

    def run():
        for v, n in zip(voices, notes):
            synth._synth.load_sysex(v + b"\x3f")      # 156 bytes: + operator on/off (all on)
            synth.render(midi_note=n, velocity=100, note_duration=seconds, render_duration=seconds)
    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="audio seconds per note (default 10)")
    ap.add_argument("--single-seconds", type=float, default=60.0,
                    help="audio seconds for the one-voice rows (longer: they are quick; default 60)")
    ap.add_argument("--cpu", type=int, default=0, help="core to pin to (default 0)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per figure, best kept (default 5)")
    ap.add_argument("--bank", type=Path, default=DEFAULT_BANK, help="factory bank .syx (VMEM)")
    ap.add_argument("--batch-items", type=int, default=256, help="items for the batch figure")
    args = ap.parse_args(argv)

    os.sched_setaffinity(0, {args.cpu})
    from dx7live import _engine
    try:
        import dexed  # noqa: F401
        have_dexed = True
    except ImportError:
        have_dexed = False
    sec = args.seconds
    print(f"dx7live engine {getattr(_engine, 'ENGINE_VERSION', '?')}, {SR} Hz, pinned to CPU {args.cpu}, "
          f"{args.single_seconds:g} s for one voice, {sec:g} s per note otherwise, best of {args.repeat}" + ("" if have_dexed else "; dexed-py not installed"))

    rows = []
    heavy = heavy_voice()
    # (label, voices, notes, all at once?, seconds of voice audio, target speed ratio vs dexed-py)
    one = args.single_seconds
    cases = [("1 heavy voice (alg 32, 6 ops, FB 7)", [heavy], [60], False, one, 5.0),
             ("1 heavy voice (alg 1, 6 ops, FB 7)", [heavy_voice(1)], [60], False, one, 5.0),
             ("16 heavy voices at once", [heavy] * 16, list(range(48, 80, 2)), True, 16 * sec, 3.0)]
    if args.bank.is_file():
        bank = unpack_vmem(args.bank.read_bytes())
        notes = [48 + (i * 5) % 36 for i in range(32)]
        cases.append((f"32 voices of {args.bank.name}, 1 note each", bank, notes, False, 32 * sec, 3.0))
    else:
        print(f"(no factory bank at {args.bank}; skipping that row)")

    for label, voices, notes, together, audio_s, target in cases:
        # the two renderers alternate, so a change in machine load hits both alike
        note_s = audio_s / len(notes)
        ours_run = ours_notes(voices, note_s, notes, together)
        dex_run = dexed_notes(voices if not together else [voices[0]] * len(notes), note_s, notes) \
            if have_dexed else None
        t_ours, t_dex = float("inf"), None
        for _ in range(args.repeat):
            t_ours = min(t_ours, best_of(1, ours_run))
            if dex_run is not None:
                t_dex = min(t_dex if t_dex is not None else float("inf"), best_of(1, dex_run))
        rows.append((label, audio_s / t_ours, None if t_dex is None else audio_s / t_dex,
                     None if t_dex is None else t_dex / t_ours, target))

    w = max(len(r[0]) for r in rows)
    print()
    print(f"{'case':<{w}}  {'dx7live xRT':>12}  {'dexed-py xRT':>12}  {'speed ratio':>11}  target")
    for label, ours, dex, ratio, target in rows:
        verdict = "" if ratio is None else ("met" if ratio >= target else "NOT met")
        print(f"{label:<{w}}  {ours:12.1f}  {'-' if dex is None else f'{dex:12.1f}':>12}  "
              f"{'-' if ratio is None else f'{ratio:10.2f}x':>11}  >= {target:g}x {verdict}")
    print("(xRT = seconds of voice audio rendered per wall second on one core; for the 16-voice row,"
          " seconds of each voice summed)")

    # batch renderer
    if args.bank.is_file():
        pool = bank
    else:
        pool = [heavy]
    n = args.batch_items
    vo = np.array([list(pool[i % len(pool)]) for i in range(n)], np.uint8)
    notes = np.array([36 + (i * 7) % 48 for i in range(n)], np.int32)
    vel = np.full(n, 100, np.int32)
    item_s = 1.0
    hold = np.full(n, int(0.75 * SR), np.int64)
    print()
    for threads, label in ((1, "1 thread, pinned"), (0, "all cores")):
        if threads == 0:
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        t = best_of(max(1, args.repeat - 1), lambda: _engine.render_batch(vo, notes, vel, hold, int(item_s * SR),
                                                                         float(SR), threads=threads))
        print(f"batch renderer ({label}): {n / t:8.1f} items/s  ({n} items of {item_s:g} s at {SR} Hz,"
              f" {n * item_s / t:.0f} x real time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
