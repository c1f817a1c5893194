"""A PyTorch Dataset of DX7 notes rendered on the fly: patches x velocities x notes.

A few megabytes of patches stand in for gigabytes of WAVs. Every item is rendered from a freshly
reset engine with a seed derived from the item's content, so the same index gives bit-identical
audio in any process, worker, batch or order (fork and spawn DataLoader workers alike). The
annotations come from the parameters and from the engine's own state, not from estimation:

    >>> from torch.utils.data import DataLoader
    >>> ds = DX7Dataset("rom1a.syx", notes=range(36, 85), velocities=[64, 100], sample_rate=16000)
    >>> train, valid, test = split_by_patch(ds, (0.8, 0.1, 0.1), seed=0)
    >>> loader = DataLoader(train, batch_size=32, shuffle=True, num_workers=2)

Index order (as dx7pytorch): the note varies fastest, then the velocity, then the patch:
``index = (patch * len(velocities) + velocity_index) * len(notes) + note_index``.
For maximum throughput use :class:`DX7BatchDataset` (``ds.batches(256)``), which renders whole
batches with the native multi-threaded batch renderer.
"""
from __future__ import annotations

import math
import os
from typing import Any, Callable, Iterator, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, Subset, get_worker_info

from dx7live.patch.analysis import Fundamental, amplitude_db, f0_curve, fundamental
from dx7live.offline.sources import content_groups, filter_mask, load_patches, patch_vectors, voice_name
from dx7live.offline.render import check_sample_rate, render_checked, seconds_to_frames

NSYNTH_NOTES = range(21, 109)          # the piano range, as NSynth
NSYNTH_VELOCITIES = (25, 50, 75, 100, 127)
NORMALIZE = (None, "peak", "loudness")
LOUDNESS_TARGET_DB = -20.0             # RMS target of normalize="loudness"

IntList = Union[int, range, Sequence[int], np.ndarray]


def _int_list(name: str, values: IntList, lo: int, hi: int) -> np.ndarray:
    """Validate notes/velocities: a range, a list or one integer, each in lo..hi, no repeats."""
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        values = [int(values)]
    try:
        arr = np.asarray(list(values))
    except TypeError:
        raise ValueError(f"{name} must be an integer, a range or a list of integers, got {values!r}") from None
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if arr.ndim != 1 or arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        if arr.ndim == 1 and np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name} must be whole numbers, got {values!r}")
    bad = arr[(arr < lo) | (arr > hi)]
    if bad.size:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {int(bad[0])}")
    if np.unique(arr).size != arr.size:
        raise ValueError(f"{name} has repeated values: {values!r}")
    return arr.astype(np.int64)


class DX7Dataset(Dataset):
    """Notes of DX7 voices, rendered on demand. See the module docstring for the index order.

    Args:
        patches: None (the built-in bank), a .syx/collection file, a directory, a list of files,
            a ``Bank``, a list of ``Voice``, or a uint8[N, 155] array.
        notes: MIDI notes (0..127), a range or a list. Default: 21..108 (NSynth).
        velocities: MIDI velocities (1..127). Default: 25, 50, 75, 100, 127 (NSynth).
        sample_rate: output rate in Hz, honoured exactly (any rate from 8 kHz to 192 kHz).
        duration: item length in seconds; note_duration: seconds until note-off.
        patch_filter: None, "all_ratio", "all_fixed", "audible", a callable(Voice) -> bool, or a
            list of these (all must accept).
        normalize: None, "peak" (peak to 1.0) or "loudness" (RMS to -20 dBFS); the loudness
            curve follows the same gain. Silent items stay silent.
        dedupe: drop voices whose 145 sound parameters repeat an earlier voice (same sound under
            another name), so a sound cannot appear twice or leak across splits.
        frame_rate: rate of the ``f0_curve``/``loudness_curve`` annotations (250 Hz as NSynth/DDSP).
        threads: native threads for a batch fetched through ``__getitems__`` (what a DataLoader
            with ``batch_size`` calls): default all cores, shared among DataLoader workers.

    Each item is a dict: ``audio`` float32[T]; ``note``, ``velocity``, ``patch_index`` int64;
    ``patch`` float32[145] (parameters / their maxima); ``patch_raw`` int64[155]; ``name`` str;
    ``f0_hz``, ``f0_confidence`` float32 (see :func:`dx7live.voice_f0`); ``f0_kind`` str;
    ``f0_curve`` float32[F] in Hz and ``loudness_curve`` float32[F] in dB re full scale (carrier
    amplitude from the engine's envelopes), F = ceil(duration * frame_rate).
    """

    def __init__(
        self,
        patches: Any = None,
        notes: IntList = NSYNTH_NOTES,
        velocities: IntList = NSYNTH_VELOCITIES,
        sample_rate: float = 16000,
        duration: float = 4.0,
        note_duration: float = 3.0,
        patch_filter: Union[None, str, Callable[..., bool], Sequence[Any]] = None,
        normalize: Optional[str] = None,
        dedupe: bool = True,
        frame_rate: float = 250.0,
        threads: Optional[int] = None,
    ) -> None:
        self.sample_rate = check_sample_rate(sample_rate)
        self.notes = _int_list("notes", notes, 0, 127)
        self.velocities = _int_list("velocities", velocities, 1, 127)
        self.duration = float(duration)
        self.note_duration = float(note_duration)
        self.n_frames = int(seconds_to_frames("duration", duration, self.sample_rate, allow_zero=False)[0])
        self.hold_frames = int(seconds_to_frames("note_duration", note_duration, self.sample_rate)[0])
        if self.n_frames < 1:
            raise ValueError(f"duration {duration} s is shorter than one sample")
        if normalize not in NORMALIZE:
            raise ValueError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
        self.normalize = normalize
        fr = float(frame_rate)
        if not math.isfinite(fr) or not 0 < fr <= self.sample_rate:
            raise ValueError(f"frame_rate must be in (0, sample_rate], got {frame_rate}")
        self.frame_rate = fr
        if threads is not None and (not isinstance(threads, int) or threads < 0):
            raise ValueError(f"threads must be None or an integer >= 0 (0 = all cores), got {threads!r}")
        self.threads = threads

        vced, sources = load_patches(patches)
        idx = np.flatnonzero(filter_mask(vced, patch_filter))
        if dedupe and idx.size:  # among the voices the filter kept, the first of each sound
            _, first = content_groups(vced[idx])
            idx = idx[np.sort(first)]
        self.vced = np.ascontiguousarray(vced[idx])          # uint8[P, 155]
        self.source_index = idx                               # position in the original patches
        self._all_sources = sources
        self._fundamentals: dict[int, Fundamental] = {}
        if self.vced.shape[0] == 0:
            raise ValueError("no patches left (empty input, or the filter rejected every voice)")

    def source(self, patch: int) -> str:
        """Where patch ``patch`` (a dataset patch index) came from: "file#position"."""
        return self._all_sources[int(self.source_index[patch])]

    # ------------------------------------------------------------------ sizes and indices
    @property
    def n_patches(self) -> int:
        return int(self.vced.shape[0])

    def __len__(self) -> int:
        return self.n_patches * len(self.velocities) * len(self.notes)

    def locate(self, index: Union[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(patch, velocity position, note position) of dataset indices (vectorised)."""
        idx = np.asarray(index)
        if idx.dtype == bool or not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"dataset indices must be integers, got {index!r}")
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            bad = int(idx[(idx < 0) | (idx >= len(self))].ravel()[0])
            raise IndexError(f"index {bad} is out of range for a dataset of {len(self)} items")
        n_notes, n_vel = len(self.notes), len(self.velocities)
        return idx // (n_notes * n_vel), (idx // n_notes) % n_vel, idx % n_notes

    def index_of(self, patch: int, velocity_index: int, note_index: int) -> int:
        """Inverse of :meth:`locate`."""
        return (int(patch) * len(self.velocities) + int(velocity_index)) * len(self.notes) + int(note_index)

    def patch_items(self, patches: Sequence[int]) -> np.ndarray:
        """All dataset indices of the given patches (sorted)."""
        per = len(self.velocities) * len(self.notes)
        p = np.asarray(sorted(set(int(x) for x in patches)), dtype=np.int64)
        return (p[:, None] * per + np.arange(per, dtype=np.int64)[None, :]).ravel()

    def fundamental(self, patch: int) -> Fundamental:
        f = self._fundamentals.get(patch)
        if f is None:
            f = self._fundamentals[patch] = fundamental(self.vced[patch])
        return f

    # ------------------------------------------------------------------ rendering
    def render_items(self, indices: Sequence[int], threads: Optional[int] = None,
                     shared_memory: bool = False) -> dict[str, Any]:
        """Render several items in one native batch; returns the batched dict (as a DataLoader would
        collate it). Each row equals ``self[i]`` bit for bit.

        ``shared_memory=True`` renders the audio straight into a tensor in shared memory, which a
        DataLoader worker hands to the main process without copying it (the batched path does).
        """
        idx = np.asarray(indices, dtype=np.int64).ravel()
        p, vi, ni = self.locate(idx)
        notes, vels = self.notes[ni], self.velocities[vi]
        audio_t = torch.empty((idx.size, self.n_frames), dtype=torch.float32)
        if shared_memory:
            audio_t.share_memory_()
        out = render_checked(
            self.vced[p], notes, vels, np.full(idx.size, self.hold_frames, np.int64), self.n_frames,
            self.sample_rate, threads=_threads(self.threads if threads is None else threads), annotate=True,
            frame_rate=self.frame_rate, out=audio_t.numpy(),
        )
        audio = out.audio
        loud = amplitude_db(out.carrier_amp)
        if self.normalize is not None and audio.shape[0]:
            if self.normalize == "peak":
                level = np.max(np.abs(audio), axis=1)
                target = 1.0
            else:
                level = np.sqrt(np.mean(np.square(audio, dtype=np.float64), axis=1))
                target = 10.0 ** (LOUDNESS_TARGET_DB / 20.0)
            gain = np.where(level > 0, target / np.maximum(level, 1e-30), 1.0)
            audio *= gain[:, None].astype(np.float32)  # in place: the tensor keeps its memory
            loud = np.where(loud > -120.0, loud + (20.0 * np.log10(gain))[:, None].astype(np.float32), loud)
        f0_hz = np.empty(idx.size, np.float32)
        conf = np.empty(idx.size, np.float32)
        kinds: list[str] = []
        curves = np.empty_like(out.pitch_hz)
        for j in range(idx.size):
            f = self.fundamental(int(p[j])).at(int(notes[j]))
            f0_hz[j], conf[j] = f.f0_hz, f.confidence
            kinds.append(f.kind)
            curves[j] = f0_curve(out.pitch_hz[j], f)
        return {
            "audio": audio_t,
            "note": torch.from_numpy(notes.astype(np.int64)),
            "velocity": torch.from_numpy(vels.astype(np.int64)),
            "patch_index": torch.from_numpy(p.astype(np.int64)),
            "patch": torch.from_numpy(patch_vectors(self.vced[p])),
            "patch_raw": torch.from_numpy(self.vced[p].astype(np.int64)),
            "name": [voice_name(self.vced[k]) for k in p],
            "f0_hz": torch.from_numpy(f0_hz),
            "f0_confidence": torch.from_numpy(conf),
            "f0_kind": kinds,
            "f0_curve": torch.from_numpy(curves.astype(np.float32)),
            "loudness_curve": torch.from_numpy(np.ascontiguousarray(loud, dtype=np.float32)),
            "index": torch.from_numpy(idx),
        }

    def __getitem__(self, index: int) -> dict[str, Any]:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"dataset indices must be integers, got {type(index).__name__}")
        batch = self.render_items([int(index)], threads=1)
        return {k: v[0] for k, v in batch.items()}

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """Several items in one native multi-threaded batch (a DataLoader with ``batch_size``
        fetches through this); each equals ``self[i]`` bit for bit."""
        batch = self.render_items(list(indices))
        return [{k: v[j] for k, v in batch.items()} for j in range(len(batch["name"]))]

    def batches(self, batch_size: int = 256, **kwargs: Any) -> "DX7BatchDataset":
        """An iterable of whole batches rendered natively (see :class:`DX7BatchDataset`)."""
        return DX7BatchDataset(self, batch_size=batch_size, **kwargs)

    def __repr__(self) -> str:
        return (f"DX7Dataset({self.n_patches} patches x {len(self.velocities)} velocities x "
                f"{len(self.notes)} notes = {len(self)} items, {self.sample_rate:g} Hz, {self.duration:g} s)")


def _threads(threads: Optional[int]) -> int:
    """None = all cores, shared among the DataLoader workers when inside one."""
    if threads is not None:
        return threads
    info = get_worker_info()
    return 0 if info is None else max(1, (os.cpu_count() or 1) // info.num_workers)


def _dataset_and_indices(data: Union[DX7Dataset, Subset]) -> tuple[DX7Dataset, np.ndarray]:
    if isinstance(data, DX7Dataset):
        return data, np.arange(len(data), dtype=np.int64)
    if isinstance(data, Subset):
        base, idx = _dataset_and_indices(data.dataset)
        return base, idx[np.asarray(data.indices, dtype=np.int64)]
    raise TypeError(f"expected a DX7Dataset or a Subset of one, got {type(data).__name__}")


_EPOCH_SLOTS = 1024  # epoch counters: one for the main process, one per DataLoader worker id


class DX7BatchDataset(IterableDataset):
    """Whole batches rendered by the native multi-threaded renderer: the fast path.

    Yields the same dicts a ``DataLoader(dataset, batch_size)`` would collate, each row
    bit-identical to ``dataset[i]``. Use it with ``DataLoader(batches, batch_size=None,
    num_workers=k)``: batches are dealt round-robin to the workers.

    Args:
        data: a DX7Dataset, or a Subset of one (e.g. a split from :func:`split_by_patch`).
        batch_size: items per batch. shuffle: a new order every epoch, from ``(seed, epoch)``.
        drop_last: drop a final short batch. threads: native threads per batch (0 = all cores;
            default: all cores shared among the DataLoader workers).

    Epochs: each iteration shuffles with the epoch of the next iteration, then advances it by
    one, so successive epochs differ even if :meth:`set_epoch` is never called. ``set_epoch(e)``
    makes the next iteration use epoch ``e`` (and the one after ``e + 1``). The counters live in
    shared memory (one per reader: the main process and each DataLoader worker id), so this holds
    in DataLoader workers too, persistent (``persistent_workers=True``) or not, fork or spawn:
    the order of epoch ``e`` depends only on ``(seed, e)``.
    """

    def __init__(self, data: Union[DX7Dataset, Subset], batch_size: int = 256, shuffle: bool = False,
                 seed: int = 0, drop_last: bool = False, threads: Optional[int] = None) -> None:
        super().__init__()
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.dataset, self.indices = _dataset_and_indices(data)
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.threads = threads
        # the epoch of the next iteration, per reader; shared with (persistent) DataLoader workers
        self._epochs = torch.zeros(_EPOCH_SLOTS + 1, dtype=torch.int64).share_memory_()

    @staticmethod
    def _slot() -> int:
        info = get_worker_info()
        if info is None:
            return 0
        if info.id >= _EPOCH_SLOTS:
            raise RuntimeError(f"DX7BatchDataset supports at most {_EPOCH_SLOTS} DataLoader workers")
        return 1 + info.id

    def set_epoch(self, epoch: int) -> None:
        """Choose the shuffle of the next iteration (in this process and in every DataLoader
        worker, persistent or not). Call it at the start of every epoch, or rely on the epoch
        advancing by one per iteration."""
        self._epochs.fill_(int(epoch))

    @property
    def epoch(self) -> int:
        """The epoch the next iteration (in this process or worker) shuffles with."""
        return int(self._epochs[self._slot()])

    @epoch.setter
    def epoch(self, value: int) -> None:
        self.set_epoch(value)

    def __len__(self) -> int:
        n = self.indices.size
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def batch_indices(self, epoch: Optional[int] = None) -> list[np.ndarray]:
        """The batches of one epoch (default: the next iteration's), before dealing to workers."""
        order = self.indices
        if self.shuffle:
            rng = np.random.default_rng([self.seed, self.epoch if epoch is None else int(epoch)])
            order = order[rng.permutation(order.size)]
        out = [order[i:i + self.batch_size] for i in range(0, order.size, self.batch_size)]
        if self.drop_last and out and out[-1].size < self.batch_size:
            out.pop()
        return out

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        slot = self._slot()
        epoch = int(self._epochs[slot])
        self._epochs[slot] = epoch + 1  # the next iteration is the next epoch
        batches = self.batch_indices(epoch)
        if info is not None:
            batches = batches[info.id::info.num_workers]
        return self._render(batches, info is not None)

    def _render(self, batches: list[np.ndarray], shared: bool) -> Iterator[dict[str, Any]]:
        for b in batches:
            yield self.dataset.render_items(b, threads=self.threads, shared_memory=shared)


def split_by_patch(dataset: Union[DX7Dataset, Subset], fractions: Sequence[float] = (0.8, 0.1, 0.1),
                   seed: int = 0) -> list[Subset]:
    """Split by patch, never by index: no sound appears in two subsets.

    Patches are grouped by their 145 sound parameters (identical sounds under different names go
    together), the groups shuffled with ``seed`` and cut by ``fractions`` (which must sum to 1).
    Returns one ``torch.utils.data.Subset`` per fraction, each holding every note x velocity of
    its patches.
    """
    base, indices = _dataset_and_indices(dataset)
    fr = np.asarray(list(fractions), dtype=np.float64)
    if fr.ndim != 1 or fr.size == 0 or not np.all(np.isfinite(fr)) or np.any(fr < 0):
        raise ValueError(f"fractions must be non-negative numbers, got {fractions!r}")
    if abs(fr.sum() - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {fractions!r} (sum {fr.sum():g})")
    patch_of_item = base.locate(indices)[0]
    present = np.unique(patch_of_item)
    group, _ = content_groups(base.vced)
    groups = np.unique(group[present])
    rng = np.random.default_rng(seed)
    groups = groups[rng.permutation(groups.size)]
    cuts = np.round(np.cumsum(fr) * groups.size).astype(np.int64)
    cuts[-1] = groups.size
    starts = np.concatenate([[0], cuts[:-1]])
    item_group = group[patch_of_item]
    out = []
    for a, b in zip(starts, cuts):
        chosen = np.isin(item_group, groups[a:b])
        out.append(Subset(dataset if isinstance(dataset, DX7Dataset) else base, indices[chosen].tolist()))
    return out
