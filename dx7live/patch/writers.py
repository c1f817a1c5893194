"""Writing voices: 32-voice banks (VMEM .syx), single voices (VCED .syx), packed collections (.bin).

Safety rules, the same for every writer:

- Writes are atomic (temporary file + rename, :mod:`dx7live._io`): an interrupted run never leaves
  a half-written file.
- An existing file is never replaced unless ``overwrite=True``; even then a file named in
  ``inputs`` (the files the voices were read from) is refused, so a user's input cannot be
  overwritten by mistake.

``voices`` may be a :class:`~dx7live.patch.reader.Bank` (its ``vced`` array is used directly), any
iterable of :class:`~dx7live.patch.voice.Voice`, or a ``uint8[N,155]`` VCED array.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence, Union

import numpy as np

from dx7live import _io
from dx7live.patch.sysex import vced_message, vmem_message
from dx7live.patch.voice import INIT_VOICE_VCED, VCED_SIZE, Voice, clamp_vced, pack_vced

PathLike = Union[str, "os.PathLike[str]"]
VoicesLike = Union[Iterable[Voice], np.ndarray]
BANK_SIZE = 32


def as_vced_array(voices: VoicesLike) -> np.ndarray:
    """Any accepted ``voices`` argument as a clamped ``uint8[N,155]`` array."""
    arr = getattr(voices, "vced", None)
    if isinstance(arr, np.ndarray):
        return clamp_vced(arr)[0] if len(arr) else np.zeros((0, VCED_SIZE), np.uint8)
    if isinstance(voices, np.ndarray):
        if voices.ndim != 2 or voices.shape[1] != VCED_SIZE:
            raise ValueError(f"a VCED array must have shape (N, {VCED_SIZE}), got {voices.shape}")
        return clamp_vced(voices)[0] if len(voices) else np.zeros((0, VCED_SIZE), np.uint8)
    if isinstance(voices, Voice):
        voices = [voices]
    rows = []
    for i, v in enumerate(voices):
        if not isinstance(v, Voice):
            raise ValueError(f"item {i} is a {type(v).__name__}, not a Voice")
        rows.append(v.to_vced())
    if not rows:
        return np.zeros((0, VCED_SIZE), np.uint8)
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(-1, VCED_SIZE).copy()


def _file_ids(paths: Union[Sequence[PathLike], set]) -> set[tuple[int, int]]:
    """(device, inode) of each existing path: one stat per input, however many targets.
    (A set is taken to be such ids already.)"""
    if isinstance(paths, set):
        return paths
    ids = set()
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            continue
        ids.add((st.st_dev, st.st_ino))
    return ids


def _check_target(path: Path, overwrite: bool, inputs: Union[Sequence[PathLike], set]) -> None:
    """Refuse to write ``path`` if it is one of ``inputs`` or exists (unless ``overwrite``)."""
    input_ids = inputs if isinstance(inputs, set) else _file_ids(inputs)
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is not None and (st.st_dev, st.st_ino) in input_ids:
        raise FileExistsError(f"{path}: refusing to overwrite an input file")
    if st is not None and not overwrite:
        raise FileExistsError(f"{path} already exists (pass overwrite=True to replace it)")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory")


def bank_bytes(vced: np.ndarray, channel: int = 0) -> bytes:
    """One VMEM message for up to 32 voices, padded with INIT VOICE."""
    if len(vced) > BANK_SIZE:
        raise ValueError(f"a bank holds {BANK_SIZE} voices, got {len(vced)}")
    if len(vced) < BANK_SIZE:
        pad = np.frombuffer(INIT_VOICE_VCED, np.uint8)[None, :].repeat(BANK_SIZE - len(vced), 0)
        vced = np.concatenate([vced, pad]) if len(vced) else pad
    return vmem_message(pack_vced(vced).tobytes(), channel)


def save_bank(voices: VoicesLike, path: PathLike, *, split: bool = False, overwrite: bool = False,
              inputs: Sequence[PathLike] = (), channel: int = 0) -> list[Path]:
    """Write voices as 32-voice bulk dumps (VMEM, 4104 bytes each, correct checksum).

    Fewer than 32 voices are padded with INIT VOICE. More than 32 are refused unless
    ``split=True``, which writes ``NAME-01.syx``, ``NAME-02.syx``, ... beside ``path`` (each
    padded as needed). Returns the paths written.
    """
    vced = as_vced_array(voices)
    if len(vced) == 0:
        raise ValueError(f"{path}: no voices to write")
    target = Path(path)
    if len(vced) <= BANK_SIZE:
        targets = [target]
    elif not split:
        raise ValueError(f"{path}: {len(vced)} voices do not fit one 32-voice bank; pass split=True "
                         f"to write {-(-len(vced) // BANK_SIZE)} numbered banks, or use save_collection")
    else:
        n_banks = -(-len(vced) // BANK_SIZE)
        width = max(2, len(str(n_banks)))
        suffix = target.suffix or ".syx"
        targets = [target.with_name(f"{target.stem}-{i + 1:0{width}d}{suffix}") for i in range(n_banks)]
    input_ids = _file_ids(inputs)
    for t in targets:
        _check_target(t, overwrite, input_ids)
    for i, t in enumerate(targets):
        _io.atomic_write(t, bank_bytes(vced[i * BANK_SIZE:(i + 1) * BANK_SIZE], channel))
    return targets


def save_voice(voice: Voice, path: PathLike, *, overwrite: bool = False, inputs: Sequence[PathLike] = (),
               channel: int = 0) -> Path:
    """Write one voice as a single-voice dump (VCED, 163 bytes)."""
    if not isinstance(voice, Voice):
        raise ValueError(f"save_voice needs a Voice, got {type(voice).__name__}")
    target = Path(path)
    _check_target(target, overwrite, inputs)
    _io.atomic_write(target, vced_message(voice.to_vced(), channel))
    return target


def save_collection(voices: VoicesLike, path: PathLike, *, overwrite: bool = False,
                    inputs: Sequence[PathLike] = ()) -> Path:
    """Write a headerless N x 128-byte packed collection (dx7pytorch's ``collection.bin`` format)."""
    vced = as_vced_array(voices)
    if len(vced) == 0:
        raise ValueError(f"{path}: no voices to write")
    target = Path(path)
    _check_target(target, overwrite, inputs)
    _io.atomic_write(target, pack_vced(vced).tobytes())
    return target
