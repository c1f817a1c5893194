"""The sound is a contract: a SHA-256 over the engine's output, recorded once and kept.

The hashes below cover every voice of the built-in banks and of the eight factory ROM banks
(from ../shared/corpus when present), rendered alone at several notes, velocities and sample
rates through ``render_batch`` (with and without annotations) and ``render_note``, plus a
polyphonic ``Synth`` performance with controllers. Any change to a single output sample changes
a hash. Update a hash only on purpose, in a commit that says which issue asks for the change.

``python tests/engine/test_fingerprint.py`` prints the current hashes.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

import dx7live

FACTORY = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "factory"

NOTES = (36, 60, 96)
VELOCITIES = (20, 100, 127)
RATES = (16000, 44100, 48000, 96000)

# Recorded before issue 9's redesign (commit e801977) and kept identical through it.
EXPECTED = {
    "builtin": "428d7e8221de0439d0001979e962573a658e5a96aeadfeadf77354c7b44beac5",
    "factory": "6ae1a5df6551ea0420590f4e9c3f4caafcc64eb07d93c1362578c36c1be8c3ea",
}


def builtin_vced() -> np.ndarray:
    bank = dx7live.builtin_bank()
    return np.stack([np.frombuffer(bytes(v.to_vced()), np.uint8) for v in bank])


def factory_vced() -> np.ndarray | None:
    if not FACTORY.is_dir():
        return None
    rows = []
    for path in sorted(FACTORY.glob("*.syx")):
        rows.extend(np.frombuffer(bytes(v.to_vced()), np.uint8) for v in dx7live.load(path))
    return np.stack(rows)


def fingerprint(vced: np.ndarray) -> str:
    """SHA-256 over every render of these voices (float32 bytes, in a fixed order)."""
    h = hashlib.sha256()
    n = vced.shape[0]
    grid = [(i, note, vel) for i in range(n) for note in NOTES for vel in VELOCITIES]
    idx = np.array([g[0] for g in grid])
    notes = np.array([g[1] for g in grid])
    vels = np.array([g[2] for g in grid])
    for sr in RATES:
        audio = dx7live.render_batch(vced[idx], notes, vels, note_duration=0.6, duration=1.0,
                                     sample_rate=sr, threads=2)
        h.update(np.ascontiguousarray(audio, np.float32).tobytes())
    ann = dx7live.render_batch(vced[idx], notes, vels, note_duration=3.0, duration=4.0,
                               sample_rate=16000, threads=2, annotate=True)
    for part in ann:
        h.update(np.ascontiguousarray(part, np.float32).tobytes())
    for i in range(0, n, 7):
        h.update(dx7live.render_note(vced[i], note=64, velocity=90, note_duration=0.5, duration=1.0,
                                     sample_rate=48000, seed=i).tobytes())
    # a polyphonic performance with controllers on a few voices
    for i in range(0, n, 11):
        s = dx7live.Synth(sample_rate=44100, polyphony=16)
        s.load_voice(vced[i])
        for k, note in enumerate((48, 55, 60, 64, 67, 72)):
            s.note_on(note, 40 + 14 * k, offset=k * 100)
        s.control_change(1, 90, offset=3000)
        s.pitch_bend(12000, offset=5000)
        s.control_change(64, 127, offset=6000)
        for note in (48, 55, 60):
            s.note_off(note, offset=8000)
        h.update(s.render(22050).tobytes())
        s.control_change(64, 0, offset=0)
        s.note_off(64, offset=100)
        h.update(s.render(22050).tobytes())
    return h.hexdigest()


@pytest.mark.slow
def test_builtin_fingerprint():
    assert fingerprint(builtin_vced()) == EXPECTED["builtin"]


@pytest.mark.slow
@pytest.mark.corpus
def test_factory_fingerprint():
    vced = factory_vced()
    if vced is None:
        pytest.skip(f"the factory ROM banks are not at {FACTORY}")
    assert fingerprint(vced) == EXPECTED["factory"]


if __name__ == "__main__":
    print("builtin", fingerprint(builtin_vced()))
    fv = factory_vced()
    print("factory", fingerprint(fv) if fv is not None else "(no corpus)")
