"""Train a tiny model on DX7 notes rendered on the fly: predict its pitch from the audio.

A small network on the averaged spectrum learns, for a few steps on the CPU, to predict the sounding
fundamental (log f0, from the Dataset's exact annotation) of notes from the built-in bank. The
split is by patch, so the validation voices were never heard in training. The point is the data
pipeline (on-the-fly rendering, exact f0 labels with confidences, leak-free splits, DataLoader
workers); a model this small, trained this briefly, only begins to generalise to unseen voices.

    python examples/train_dataset.py                 # a few hundred steps
    python examples/train_dataset.py --steps 5 --workers 0 --batch 8    # a quick check
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dx7live  # noqa: E402


class TinyPitchNet(nn.Module):
    """Log-magnitude spectrum (averaged over time) -> small MLP -> log2(f0 / 440 Hz)."""

    def __init__(self, n_fft: int = 1024) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.register_buffer("window", torch.hann_window(n_fft))
        self.mlp = nn.Sequential(nn.Linear(n_fft // 2 + 1, 128), nn.GELU(), nn.Linear(128, 1))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(audio, self.n_fft, hop_length=self.n_fft // 2, window=self.window, return_complex=True)
        feats = torch.log1p(100 * spec.abs()).mean(dim=2)
        return self.mlp(feats)[:, 0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--patches", default=None, help="bank file or folder (default: the built-in bank)")
    args = ap.parse_args()

    torch.manual_seed(0)
    ds = dx7live.DX7Dataset(args.patches, notes=range(36, 85), velocities=[80, 110], sample_rate=8000,
                            duration=0.5, note_duration=0.4, patch_filter="audible", normalize="peak")
    train, valid, _ = dx7live.split_by_patch(ds, (0.8, 0.2, 0.0), seed=0)
    print(f"{ds}\ntrain {len(train)} items, validation {len(valid)} items (no shared patch)")
    loader = DataLoader(train, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                        persistent_workers=args.workers > 0)
    model = TinyPitchNet()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    step = 0
    while step < args.steps:
        for batch in loader:
            target = torch.log2(batch["f0_hz"] / 440.0)
            weight = batch["f0_confidence"]  # inharmonic / fixed voices count less
            loss = (weight * (model(batch["audio"]) - target) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % 20 == 0 or step == 1 or step == args.steps:
                print(f"step {step:4d}  loss {loss.item():.4f}")
            if step >= args.steps:
                break
    model.eval()
    with torch.no_grad():
        vb = next(iter(DataLoader(valid, batch_size=256, shuffle=True, generator=torch.Generator().manual_seed(1))))
        err = (model(vb["audio"]) - torch.log2(vb["f0_hz"] / 440.0)).abs() * 12
        sure = vb["f0_confidence"] == 1.0  # harmonic voices with a steady pitch
    print(f"validation mean |error|: {err[sure].mean().item():.2f} semitones on {int(sure.sum())} notes of "
          f"unseen harmonic voices ({err.mean().item():.2f} over all {len(err)}, noise and bells included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
