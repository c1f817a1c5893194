"""Turn whatever the user calls "patches" into one uint8[N, 155] VCED array, fast.

Shared by the Dataset and the sweeps: ``None`` (the built-in bank), a file, a directory, a list of
files, a ``Bank``, a list of ``Voice`` objects, or an array. Filtering and de-duplication are
vectorised (numpy over the whole array), so 30,000 patches take milliseconds.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence, Union

import numpy as np

from dx7live.patch.analysis import all_fixed_mask, all_ratio_mask, audible_mask
from dx7live.offline.render import voices_array

N_VECTOR = 145  # the non-name parameters (VCED 0..144)
PATCH_FILE_SUFFIXES = {".syx", ".mid", ".midi", ".bin", ".snd", ".tx7", ".bnk", ".dx7"}

NAMED_FILTERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "all": lambda v: np.ones(v.shape[0], dtype=bool),
    "all_ratio": all_ratio_mask,   # every operator in ratio mode (as dx7pytorch)
    "all_fixed": all_fixed_mask,   # every operator in fixed-frequency mode (as dx7pytorch)
    "audible": audible_mask,       # at least one carrier above -60 dBFS (drops silent voices)
}


class Patches(NamedTuple):
    vced: np.ndarray          # uint8[N, 155]
    sources: Sequence[str]    # where each voice came from ("file.syx#3")


class _Labels(Sequence[str]):
    """Source labels ("file#position") made on access, so 30,000 voices cost no Python loop."""

    def __init__(self, bank_sources: Any, label: str, n: int) -> None:
        self._src, self._label, self._n = bank_sources, label, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        i = int(i)
        if not -self._n <= i < self._n:
            raise IndexError(i)
        i %= self._n
        if self._src is None:
            return f"{self._label}#{i + 1}"
        s = self._src[i]
        return f"{s.file}#{s.position}" if hasattr(s, "file") else str(s)


def _bank_sources(bank: Any, n: int, label: str) -> Sequence[str]:
    src = getattr(bank, "sources", None)
    return _Labels(src if src is not None and len(src) == n else None, label, n)


def load_patches(patches: Any = None) -> Patches:
    """Resolve a patch argument (see module docstring) into VCED rows and source labels."""
    if patches is None:
        from dx7live.patch.builtin import builtin_bank

        bank = builtin_bank()
        vced = voices_array(bank)
        return Patches(vced, _bank_sources(bank, vced.shape[0], "builtin"))
    if isinstance(patches, (str, os.PathLike)):
        path = Path(patches)
        if path.is_dir():
            return _load_dir(path)
        if not path.exists():
            raise FileNotFoundError(f"patches: {path} does not exist")
        from dx7live.patch.reader import load

        bank = load(path)
        vced = voices_array(bank) if len(bank) else np.zeros((0, 155), np.uint8)
        return Patches(vced, _bank_sources(bank, vced.shape[0], path.name))
    if hasattr(patches, "vced") or hasattr(patches, "to_vced") or isinstance(patches, (np.ndarray, bytes, bytearray)):
        vced = voices_array(patches)
        return Patches(vced, _bank_sources(patches, vced.shape[0], "voices"))
    items = list(patches)
    if items and all(isinstance(p, (str, os.PathLike)) for p in items):
        parts = [load_patches(p) for p in items]
        return Patches(np.concatenate([p.vced for p in parts]), [s for p in parts for s in p.sources])
    vced = voices_array(items)
    return Patches(vced, _Labels(None, "voices", vced.shape[0]))


def _load_dir(path: Path) -> Patches:
    from dx7live.patch import reader as patchfile

    load_many = getattr(patchfile, "load_many", None)
    if load_many is not None:
        bank = load_many(path)
        vced = voices_array(bank) if len(bank) else np.zeros((0, 155), np.uint8)
        return Patches(vced, _bank_sources(bank, vced.shape[0], path.name))
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in PATCH_FILE_SUFFIXES)
    rows, sources = [], []
    for f in files:
        try:
            bank = patchfile.load(f)
        except ValueError:
            continue  # not a patch file; the reader's own tools report these
        if len(bank):
            rows.append(voices_array(bank))
            sources += list(_bank_sources(bank, len(bank), str(f.relative_to(path))))
    if not rows:
        raise ValueError(f"patches: no DX7 voices found under {path}")
    return Patches(np.concatenate(rows), sources)


def filter_mask(vced: np.ndarray, patch_filter: Union[None, str, Callable[..., bool], Sequence[Any]]) -> np.ndarray:
    """Boolean mask of the voices kept by ``patch_filter``.

    ``patch_filter``: None (keep all); a name ("all", "all_ratio", "all_fixed", "audible"); a
    callable taking a ``Voice`` and returning True to keep it (called once per voice); or a list
    of these, all of which must accept the voice.
    """
    n = vced.shape[0]
    if patch_filter is None:
        return np.ones(n, dtype=bool)
    if isinstance(patch_filter, str):
        try:
            return np.asarray(NAMED_FILTERS[patch_filter](vced), dtype=bool)
        except KeyError:
            raise ValueError(f"unknown patch filter {patch_filter!r}; named filters: "
                             f"{', '.join(sorted(NAMED_FILTERS))}") from None
    if callable(patch_filter):
        from dx7live.patch.voice import Voice

        keep = np.zeros(n, dtype=bool)
        for i in range(n):
            keep[i] = bool(patch_filter(Voice(vced[i].tobytes())))
        return keep
    if isinstance(patch_filter, (list, tuple)):
        mask = np.ones(n, dtype=bool)
        for f in patch_filter:
            mask &= filter_mask(vced, f)
        return mask
    raise ValueError(f"patch_filter must be None, a name, a callable or a list of these, got {patch_filter!r}")


def content_groups(vced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group id per voice, index of each group's first voice) by the 145 non-name parameters.

    Two voices that differ only in their name are the same sound, so they share a group.
    """
    if vced.shape[0] == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    body = np.ascontiguousarray(vced[:, :N_VECTOR])
    rows = body.view(np.dtype((np.void, N_VECTOR))).ravel()
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    return inverse.astype(np.int64).ravel(), first.astype(np.int64)


def patch_vectors(vced: np.ndarray) -> np.ndarray:
    """The normalised parameter vectors (as ``Voice.to_vector``): float32[N, 145] in [0, 1]."""
    from dx7live.patch.voice import VCED_MAX

    mx = VCED_MAX[:N_VECTOR].astype(np.float32)
    return np.minimum(vced[:, :N_VECTOR].astype(np.float32), mx) / mx


def voice_name(row: np.ndarray) -> str:
    """Display name of one VCED row (codes below 32 as spaces, trailing spaces removed)."""
    return "".join(chr(c) if 32 <= c < 128 else " " for c in row[145:155].tolist()).rstrip()
