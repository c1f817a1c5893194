"""Dataset throughput: NSynth-style items (4 s at 16 kHz, note-off at 3 s) from the factory ROM voices.

Measures, side by side on this machine:
  - dexed-py (import name ``dexed``) rendering the same items in one thread (the reference),
  - DX7Dataset item by item with 0 and 2 DataLoader workers,
  - the batched path (DX7BatchDataset) with 0 and 2 workers,
  - building a Dataset over ~30,000 patches (dx7pytorch's collection.bin).

    nice python bench/bench_dataset.py [--items 2000] [--corpus ../shared/corpus]
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SR, DURATION, HOLD = 16000, 4.0, 3.0
NSYNTH_NOTES = 306_043  # notes in NSynth (train + valid + test)


def corpus_dir(arg: str | None) -> Path:
    for c in [arg, os.environ.get("DX7LIVE_SHARED") and os.path.join(os.environ["DX7LIVE_SHARED"], "corpus"),
              REPO.parent / "shared" / "corpus", "/work/shared/corpus"]:
        if c and (Path(c) / "factory").is_dir():
            return Path(c)
    sys.exit("bench_dataset: the corpus (shared/corpus/factory/rom*.syx) is not here; pass --corpus")


def sample_indices(n_total: int, n: int) -> np.ndarray:
    """n indices spread evenly over the dataset (all patches, notes and velocities get their turn)."""
    return np.unique(np.linspace(0, n_total - 1, n).astype(np.int64))


def bench_dexed(roms: list[str], ds, indices: np.ndarray) -> tuple[float, int]:
    import dexed

    patches = [p for f in roms for p in dexed.Patch.load_bank(f)]
    synth = dexed.DexedSynth(sample_rate=SR)
    p, vi, ni = ds.locate(indices)
    t = time.perf_counter()
    for pk, v, n in zip(p, vi, ni):
        synth.load_patch(patches[ds.source_index[pk]])
        synth.render(midi_note=int(ds.notes[n]), velocity=int(ds.velocities[v]), note_duration=HOLD,
                     render_duration=DURATION)
    return time.perf_counter() - t, len(indices)


def bench_loader(ds, indices: np.ndarray, workers: int, batch_size: int = 32) -> tuple[float, int]:
    from torch.utils.data import DataLoader, Subset

    loader = DataLoader(Subset(ds, indices.tolist()), batch_size=batch_size, num_workers=workers)
    t = time.perf_counter()
    n = 0
    for batch in loader:
        n += batch["audio"].shape[0]
    return time.perf_counter() - t, n


def bench_batched(ds, indices: np.ndarray, workers: int, batch_size: int = 256) -> tuple[float, int]:
    from torch.utils.data import DataLoader, Subset

    from dx7live.dataset import DX7BatchDataset

    batches = DX7BatchDataset(Subset(ds, indices.tolist()), batch_size=batch_size)
    loader = DataLoader(batches, batch_size=None, num_workers=workers)
    t = time.perf_counter()
    n = 0
    for batch in loader:
        n += batch["audio"].shape[0]
    return time.perf_counter() - t, n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=2000, help="items per measurement (default 2000)")
    ap.add_argument("--dexed-items", type=int, default=1000, help="items for dexed-py (default 1000)")
    ap.add_argument("--corpus", help="path to shared/corpus")
    args = ap.parse_args()

    import torch

    import dx7live
    from dx7live.dataset import DX7Dataset

    torch.set_num_threads(1)
    corpus = corpus_dir(args.corpus)
    roms = sorted(glob.glob(str(corpus / "factory" / "rom*.syx")))
    ds = DX7Dataset(roms, sample_rate=SR, duration=DURATION, note_duration=HOLD, dedupe=False)
    idx = sample_indices(len(ds), args.items)
    print(f"dx7live engine {dx7live.ENGINE_VERSION}; {os.cpu_count()} CPUs; {ds}")
    print(f"items: {DURATION:g} s at {SR} Hz, note-off at {HOLD:g} s, spread over {len(roms)} ROM banks\n")

    rows = []
    dt, n = bench_dexed(roms, ds, sample_indices(len(ds), args.dexed_items))
    dexed_rate = n / dt
    rows.append(("dexed-py, 1 thread (reference)", n, dt))
    for workers in (0, 2):
        dt, n = bench_loader(ds, idx, workers)
        rows.append((f"DX7Dataset items, DataLoader {workers} workers", n, dt))
    for workers in (0, 2):
        dt, n = bench_batched(ds, idx, workers)
        rows.append((f"DX7BatchDataset (batched, 256), {workers} workers", n, dt))

    print(f"{'method':48s} {'items':>7s} {'seconds':>8s} {'items/s':>9s} {'x dexed':>8s} {'NSynth-size':>12s}")
    for name, n, dt in rows:
        rate = n / dt
        eta = NSYNTH_NOTES / rate
        print(f"{name:48s} {n:7d} {dt:8.2f} {rate:9.0f} {rate / dexed_rate:8.2f} {eta / 60:9.1f} min")

    coll = corpus / "files" / "fcaspe+dx7pytorch" / "dataset" / "collection.bin"
    if coll.exists():
        bank = dx7live.load(coll)
        t = time.perf_counter()
        big = DX7Dataset(bank, patch_filter="audible")
        dt = time.perf_counter() - t
        t = time.perf_counter()
        DX7Dataset(coll)
        dt_file = time.perf_counter() - t
        print(f"\nconstruction over {len(bank)} patches (collection.bin): {dt * 1000:.0f} ms from a Bank "
              f"(dedupe + 'audible' filter -> {big.n_patches} patches), {dt_file * 1000:.0f} ms from the file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
