"""Dataset throughput: NSynth-style items (4 s at 16 kHz, note-off at 3 s) from the factory ROM voices.

Measures, side by side on this machine, --repeat times in turn (median and best are printed;
"x dexed" divides by dexed-py's median):
  - dexed-py (import name ``dexed``) rendering the same items in one thread (the reference),
  - DX7Dataset item by item through DataLoader(batch_size=64) with 0 and 2 workers,
  - the batched path (DX7BatchDataset, 256 per batch) through DataLoader with 0 and 2 workers,
  - building a Dataset over ~30,000 patches (dx7pytorch's collection.bin).
Every DataLoader run is a whole cold epoch: worker start-up is included.

    nice python bench/bench_dataset.py [--items 8000] [--repeat 3] [--corpus ../shared/corpus]
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


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (DataLoader workers), all threads."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def measured(fn, *args) -> tuple[int, float, float]:
    """(items, wall seconds, CPU seconds) of one benchmark run."""
    c = cpu_seconds()
    dt, n = fn(*args)
    return n, dt, cpu_seconds() - c


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


def bench_loader(ds, indices: np.ndarray, workers: int, batch_size: int = 64) -> tuple[float, int]:
    from torch.utils.data import DataLoader, Subset

    loader = DataLoader(Subset(ds, indices.tolist()), batch_size=batch_size, num_workers=workers)
    t = time.perf_counter()
    n = 0
    for batch in loader:
        n += batch["audio"].shape[0]
    return time.perf_counter() - t, n


def bench_batched(ds, indices: np.ndarray, workers: int, batch_size: int = 256) -> tuple[float, int]:
    from torch.utils.data import DataLoader, Subset

    from dx7live.offline.dataset import DX7BatchDataset

    batches = DX7BatchDataset(Subset(ds, indices.tolist()), batch_size=batch_size)
    loader = DataLoader(batches, batch_size=None, num_workers=workers)
    t = time.perf_counter()
    n = 0
    for batch in loader:
        n += batch["audio"].shape[0]
    return time.perf_counter() - t, n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=8000, help="items per measurement (default 8000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of every measurement, taken in turn (default 3)")
    ap.add_argument("--dexed-items", type=int, default=1000, help="items for dexed-py (default 1000)")
    ap.add_argument("--corpus", help="path to shared/corpus")
    args = ap.parse_args()

    import torch

    import dx7live
    from dx7live.offline.dataset import DX7Dataset

    torch.set_num_threads(1)
    corpus = corpus_dir(args.corpus)
    roms = sorted(glob.glob(str(corpus / "factory" / "rom*.syx")))
    ds = DX7Dataset(roms, sample_rate=SR, duration=DURATION, note_duration=HOLD, dedupe=False)
    idx = sample_indices(len(ds), args.items)
    print(f"dx7live engine {dx7live.ENGINE_VERSION}; {os.cpu_count()} CPUs; {ds}")
    print(f"items: {DURATION:g} s at {SR} Hz, note-off at {HOLD:g} s, spread over {len(roms)} ROM banks\n")

    methods = [("dexed-py, 1 thread (reference)", bench_dexed, (roms, ds, sample_indices(len(ds), args.dexed_items)))]
    for workers in (0, 2):
        methods.append((f"DX7Dataset, DataLoader(batch 64), {workers} workers", bench_loader, (ds, idx, workers)))
    for workers in (0, 2):
        methods.append((f"DX7BatchDataset (batched, 256), {workers} workers", bench_batched, (ds, idx, workers)))
    runs: dict[str, list[tuple[int, float, float]]] = {name: [] for name, _, _ in methods}
    for _ in range(args.repeat):
        for name, fn, fargs in methods:
            runs[name].append(measured(fn, *fargs))

    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs: wall-clock rates shrink when other work shares them;"
          f" items per CPU-second do not\n")
    print(f"{'method':48s} {'items':>6s} {'items/s':>8s} {'best':>6s} {'x dexed':>8s} {'NSynth-size':>12s}"
          f" {'items/CPU-s':>11s}")
    dexed_rate = float(np.median([n / dt for n, dt, _ in runs[methods[0][0]]]))
    for name, _, _ in methods:
        rates = [n / dt for n, dt, _ in runs[name]]
        rate = float(np.median(rates))
        per_cpu = float(np.median([n / max(cpu, 1e-9) for n, _, cpu in runs[name]]))
        print(f"{name:48s} {runs[name][0][0]:6d} {rate:8.0f} {max(rates):6.0f} {rate / dexed_rate:8.2f}"
              f" {NSYNTH_NOTES / rate / 60:8.1f} min {per_cpu:11.0f}")
    print(f"({args.repeat} runs each, medians; best = fastest run)")

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
