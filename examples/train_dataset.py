"""Train a tiny model on DX7 notes rendered on the fly: predict its pitch from the audio.

A small 1-D convolutional network learns, for a few steps on the CPU, to predict the sounding
fundamental (log f0, from the Dataset's exact annotation) of notes from the built-in bank. The
split is by patch, so the validation voices were never heard in training.

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
    """Strided convolutions over the waveform, global pooling, one output: log2(f0 / 440 Hz)."""

    def __init__(self) -> None:
        super().__init__()
        layers, ch = [], 1
        for out in (16, 32, 32, 64):
            layers += [nn.Conv1d(ch, out, kernel_size=9, stride=4, padding=4), nn.GELU()]
            ch = out
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(ch, 1)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        x = self.body(audio[:, None, :])
        return self.head(x.mean(dim=2))[:, 0]


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
        vb = next(iter(DataLoader(valid, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(1))))
        err = (model(vb["audio"]) - torch.log2(vb["f0_hz"] / 440.0)).abs().mean().item()
    print(f"validation mean |error|: {err * 12:.2f} semitones on unseen voices")
    return 0


if __name__ == "__main__":
    sys.exit(main())
