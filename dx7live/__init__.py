"""dx7live: a Yamaha DX7 (Mark I) FM synthesizer for Python.

One native engine, used two ways: live from a MIDI keyboard (``dx7live play``) and offline to
render notes, MIDI files, sweeps and PyTorch datasets. The public names below are imported lazily,
so ``import dx7live`` is cheap and never imports torch or the audio libraries.

    >>> import dx7live
    >>> bank = dx7live.builtin_bank()
    >>> audio = dx7live.render_note(bank[0], note=60, velocity=100, sample_rate=48000)
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (the package's table of contents)
_EXPORTS = {
    # the voice model and patch files (dx7live.patch)
    "Voice": "patch.voice",
    "Operator": "patch.voice",
    "Bank": "patch.reader",
    "PatchError": "patch.reader",
    "load": "patch.reader",
    "save_bank": "patch.writers",
    "save_voice": "patch.writers",
    "save_collection": "patch.writers",
    "pack": "patch.packer",
    "builtin_bank": "patch.builtin",
    "generate_voices": "patch.generate",
    # the engine wrapper (dx7live.engine)
    "Synth": "engine.synth",
    "render_note": "engine.synth",
    "ENGINE_VERSION": "engine.synth",
    # offline rendering, datasets, sweeps (dx7live.offline)
    "render_batch": "offline.render",
    "render_midi": "offline.render",
    "voice_f0": "patch.analysis",
    "DX7Dataset": "offline.dataset",
    "DX7BatchDataset": "offline.dataset",
    "split_by_patch": "offline.dataset",
    "sweep": "offline.sweeps",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dx7live' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
