"""Reading DX7 voice files, however messy: :func:`load`, :func:`load_many`, :class:`Bank`.

What is recognised (by content, never by file name):

- 32-voice bulk dumps (VMEM) and single-voice dumps (VCED) anywhere in a file, any number of
  them, on any MIDI channel, after or between other messages (DX7II files), with the byte count
  ``20 00`` or the common wrong ``10 00``;
- Standard MIDI Files carrying those dumps as sysex events;
- headerless data: N x 128 packed voices (4096-byte banks, dx7pytorch ``collection.bin``, ...)
  and N x 155 unpacked voices, accepted only when the content looks like DX7 voices.

Damaged data is repaired and reported, never silently: bad checksums are reported and the voices
loaded anyway; data bytes above 127 lose their high bit; fields out of range are clamped to their
range (fact sheet §1.7); a truncated dump yields its complete voices. Each repair is one warning
naming the file and the voice, e.g. ``"BANK.SYX: voice 7 'BRASS 1': output level of OP3 was
127, clamped to 99"``. With ``strict=True`` the first such repair raises :class:`PatchError`.

Anything that is not DX7 voice data (other synths' sysex such as TX81Z banks, parameter changes
only, random binary) raises :class:`PatchError` naming the file and the reason.
"""
from __future__ import annotations

import io
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple, Optional, Sequence, Union, overload

import numpy as np

from dx7live.patch import sysex
from dx7live.patch.voice import (NAME_OFFSET, PACKED_SIZE, PARAM_LABELS, VCED_MAX, VCED_SIZE, Voice, clamp_vced,
                           unpack_packed)

PathLike = Union[str, "os.PathLike[str]"]
MAX_FILE_BYTES = 256 * 1024 * 1024   # nothing DX7 is this big; refuse instead of filling memory
# Headerless data is accepted when, per non-empty voice, fewer than this many fields are out of
# range, unused bits set or name characters are control codes (see _row_scores). In the corpus,
# real banks score at most 6.8; other data (another synth's bank, librarian files read at the
# wrong offset) 12.9 and more, random bytes about 25.
PLAUSIBLE_SCORE = 9.0
# Unpacked (155-byte) voices have no bitfields: every byte is one parameter, so real files score
# 0 and a looser limit would accept other layouts (a junk 4960-byte file in the corpus scores 2.1).
PLAUSIBLE_SCORE_VCED = 1.0
MAX_FIELDS_LISTED = 4


class PatchError(ValueError):
    """A file (or bytes) that holds no usable DX7 voice data; the message names it and says why."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class Source(NamedTuple):
    """Where a voice came from: the file, its format there, and its place in the file.

    ``position`` is the voice's 1-based number in the file (across all dumps in it); ``offset``
    the byte offset of its data in the file (in a MIDI file: in the file's sysex stream).
    """

    file: str
    format: str
    position: int
    offset: int


@dataclass
class FileReport:
    """What the reader did with one file: its format, voice count, warnings, or why it was rejected."""

    path: str
    format: Optional[str] = None        # None when rejected
    n_voices: int = 0
    warnings: list[str] = field(default_factory=list)
    error: Optional[str] = None         # the rejection reason

    @property
    def rejected(self) -> bool:
        return self.error is not None


class _Sources(Sequence[Source]):
    """Per-voice provenance stored as arrays; :class:`Source` tuples are made on access."""

    def __init__(self, files: list[str], formats: list[str], file_idx: np.ndarray, fmt_idx: np.ndarray,
                 position: np.ndarray, offset: np.ndarray) -> None:
        self.files, self.formats = files, formats
        self.file_idx, self.fmt_idx, self.position, self.offset = file_idx, fmt_idx, position, offset

    def __len__(self) -> int:
        return len(self.file_idx)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        return Source(self.files[self.file_idx[i]], self.formats[self.fmt_idx[i]],
                      int(self.position[i]), int(self.offset[i]))

    def take(self, idx: np.ndarray) -> "_Sources":
        return _Sources(self.files, self.formats, self.file_idx[idx], self.fmt_idx[idx],
                        self.position[idx], self.offset[idx])

    @staticmethod
    def concat(parts: Sequence["_Sources"]) -> "_Sources":
        files: list[str] = []
        formats: list[str] = []
        fi, ff, pos, off = [], [], [], []
        for p in parts:
            fmap = np.array([_index(files, f) for f in p.files] or [0], dtype=np.int32)
            kmap = np.array([_index(formats, f) for f in p.formats] or [0], dtype=np.int16)
            fi.append(fmap[p.file_idx])
            ff.append(kmap[p.fmt_idx])
            pos.append(p.position)
            off.append(p.offset)
        if not parts:
            return _Sources([], [], np.zeros(0, np.int32), np.zeros(0, np.int16), np.zeros(0, np.int32),
                            np.zeros(0, np.int64))
        return _Sources(files, formats, np.concatenate(fi), np.concatenate(ff), np.concatenate(pos),
                        np.concatenate(off))


def _index(items: list[str], item: str) -> int:
    # small lists (formats) or append-only (files): linear search is fine for formats;
    # files are unique per part, so appending is what happens.
    if items and items[-1] == item:
        return len(items) - 1
    if len(items) < 32 and item in items:
        return items.index(item)
    items.append(item)
    return len(items) - 1


class Bank(Sequence[Voice]):
    """Voices read from one or more files, with their provenance and every warning.

    A read-only sequence of :class:`~dx7live.patch.voice.Voice`: ``len(bank)``, ``bank[i]`` (a new,
    independent ``Voice`` each time: editing it does not change the bank), iteration, and
    slices (a ``Bank``). Fast paths for big collections:

    - ``vced``: ``uint8[N, 155]`` array of all voices (clamped, valid);
    - ``names``: the display names; ``sources``: a :class:`Source` per voice;
    - ``warnings``: every file-level and per-voice warning, as readable strings;
    - ``files``: a :class:`FileReport` per file read (``rejected`` ones included in ``load_many``).
    """

    def __init__(self, vced: np.ndarray, sources: Optional[_Sources] = None, warnings: Sequence[str] = (),
                 files: Sequence[FileReport] = ()) -> None:
        vced = np.ascontiguousarray(vced, dtype=np.uint8).reshape(-1, VCED_SIZE)
        self.vced = vced
        if sources is None:
            n = len(vced)
            sources = _Sources(["<memory>"], ["vced"], np.zeros(n, np.int32), np.zeros(n, np.int16),
                               np.arange(1, n + 1, dtype=np.int32), np.full(n, -1, np.int64))
        if len(sources) != len(vced):
            raise ValueError("one source per voice is needed")
        self._sources = sources
        self.warnings: list[str] = list(warnings)
        self.files: list[FileReport] = list(files)
        self._names: Optional[list[str]] = None

    @classmethod
    def from_voices(cls, voices: Iterable[Voice], source: str = "<memory>") -> "Bank":
        """A bank of the given voices (their VCED bytes; the on/off switches are not kept)."""
        rows = [v.to_vced() for v in voices]
        vced = np.frombuffer(b"".join(rows), np.uint8).reshape(-1, VCED_SIZE).copy()
        n = len(vced)
        src = _Sources([source], ["vced"], np.zeros(n, np.int32), np.zeros(n, np.int16),
                       np.arange(1, n + 1, dtype=np.int32), np.full(n, -1, np.int64))
        return cls(vced, src)

    @property
    def sources(self) -> _Sources:
        """Per voice: a :class:`Source` (file, format, position, offset)."""
        return self._sources

    @property
    def names(self) -> list[str]:
        """Display names of all voices (codes below 32 shown as spaces, trailing spaces removed)."""
        if self._names is None:
            raw = self.vced[:, NAME_OFFSET:].copy()
            raw[raw < 32] = 32
            blob = raw.tobytes().decode("latin-1")
            self._names = [blob[i:i + 10].rstrip() for i in range(0, len(blob), 10)]
        return self._names

    @property
    def rejected(self) -> list[FileReport]:
        """The files that were rejected (only :func:`load_many` keeps going after one)."""
        return [f for f in self.files if f.rejected]

    def __len__(self) -> int:
        return len(self.vced)

    @overload
    def __getitem__(self, i: int) -> Voice: ...
    @overload
    def __getitem__(self, i: slice) -> "Bank": ...

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.take(np.arange(len(self))[i])
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"bank indices must be integers or slices, not {type(i).__name__}")
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"voice index {i} out of range for a bank of {n} voices")
        return Voice(self.vced[i].tobytes())

    def __iter__(self) -> Iterator[Voice]:
        for row in self.vced:
            yield Voice(row.tobytes())

    def take(self, idx: Union[Sequence[int], np.ndarray]) -> "Bank":
        """A bank of the voices at ``idx`` (provenance kept; warnings and file reports kept whole)."""
        idx = np.asarray(idx, dtype=np.int64)
        return Bank(self.vced[idx], self._sources.take(idx), self.warnings, self.files)

    def __repr__(self) -> str:
        files = {s for s in self._sources.files}
        where = next(iter(files)) if len(files) == 1 else f"{len(self.files) or len(files)} files"
        return f"<Bank of {len(self)} voices from {where}, {len(self.warnings)} warnings>"


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

@dataclass
class _Part:
    """Voices from one dump or one headerless block, before clamping."""

    kind: str            # voice format: 'vmem', 'vced', 'raw-packed', 'raw-vced'
    raw: np.ndarray      # uint8[n,128] or uint8[n,155] as found
    offsets: np.ndarray  # byte offset of each voice
    label: str           # "bulk dump 2" ... for messages


class _Result:
    def __init__(self, label: str) -> None:
        self.label = label
        self.problems: list[str] = []   # repairs (strict mode raises on these)
        self.notes: list[str] = []      # informational (ignored messages, empty voices)


def _read_input(path_or_bytes: Union[PathLike, bytes, bytearray, memoryview]) -> tuple[bytes, str]:
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes), "<bytes>"
    if not isinstance(path_or_bytes, (str, os.PathLike)):
        raise TypeError(f"load() needs a path or bytes, got {type(path_or_bytes).__name__}")
    path = Path(path_or_bytes)
    label = str(path)
    if path.is_dir():
        raise PatchError(label, "is a directory (use dx7live.patch.reader.load_many for folders)")
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise PatchError(label, "not a regular file")
        size = st.st_size
        if size > MAX_FILE_BYTES:
            raise PatchError(label, f"{size / 1e6:.0f} MB is far too big for DX7 voice data")
        with open(path, "rb") as f:
            return f.read(MAX_FILE_BYTES + 1), label
    except OSError as exc:
        raise PatchError(label, f"cannot read: {exc.strerror or exc}") from None


def load(path_or_bytes: Union[PathLike, bytes, bytearray, memoryview], strict: bool = False) -> Bank:
    """Read every DX7 voice in a file (or in ``bytes``): see the module docstring for what is accepted.

    Returns a :class:`Bank` (never empty). Raises :class:`PatchError` (a ``ValueError``) naming
    the file and the reason when it holds no DX7 voice data, or with ``strict=True`` when any
    voice had to be repaired.
    """
    buf, label = _read_input(path_or_bytes)
    return _load_buffer(buf, label, strict)


def load_many(paths_or_dir: Union[PathLike, Iterable[PathLike]], strict: bool = False,
              progress: bool = False) -> Bank:
    """Read many files (folders are walked recursively, in sorted order) into one :class:`Bank`.

    Rejected files do not stop the run: each is listed in ``bank.files`` / ``bank.rejected`` with
    its reason and in ``bank.warnings``. With ``strict=True`` the first problem raises instead.
    """
    files = list_files(paths_or_dir)
    banks: list[Bank] = []
    reports: list[FileReport] = []
    warnings: list[str] = []
    it: Iterable[Path] = files
    if progress:
        from tqdm import tqdm
        it = tqdm(files, unit="file", desc="reading", leave=False)
    for f in it:
        try:
            b = load(f, strict=strict)
        except PatchError as exc:
            if strict:
                raise
            reports.append(FileReport(str(f), error=exc.reason))
            warnings.append(str(exc))
            continue
        banks.append(b)
        reports.extend(b.files)
        warnings.extend(b.warnings)
    if banks:
        vced = np.concatenate([b.vced for b in banks])
    else:
        vced = np.zeros((0, VCED_SIZE), np.uint8)
    return Bank(vced, _Sources.concat([b.sources for b in banks]), warnings, reports)


def list_files(paths_or_dir: Union[PathLike, Iterable[PathLike]]) -> list[Path]:
    """Every file under the given files and folders, recursively, in a deterministic order.

    Hidden files and folders are included (the reader rejects what is not voice data); the
    order is sorted by path within each argument, so it does not depend on the file system.
    """
    if isinstance(paths_or_dir, (str, os.PathLike)):
        paths_or_dir = [paths_or_dir]
    out: list[Path] = []
    seen: set[Path] = set()
    for p in paths_or_dir:
        p = Path(p)
        if p.is_dir():
            found = []
            for root, dirs, names in os.walk(p):
                dirs.sort()
                found.extend(Path(root) / n for n in names)
            found.sort(key=lambda q: q.as_posix())
        elif p.exists():
            found = [p]
        else:
            raise PatchError(str(p), "no such file or folder")
        for q in found:
            if q in seen or not q.is_file():
                continue
            seen.add(q)
            out.append(q)
    return out


def _load_buffer(buf: bytes, label: str, strict: bool) -> Bank:
    res = _Result(label)
    parts, fmt = _find_parts(buf, res)
    if strict and res.problems:
        raise PatchError(label, res.problems[0])
    vced, src_kind, offsets, positions = _decode(parts, res)
    if strict and res.problems:
        raise PatchError(label, res.problems[0])
    if len(vced) == 0:
        raise PatchError(label, "no complete voice: " + "; ".join(res.problems or ["no voice data"]))
    warnings = [f"{label}: {w}" for w in res.problems + res.notes]
    kinds = sorted(set(src_kind))
    kind_idx = np.array([kinds.index(k) for k in src_kind], dtype=np.int16)
    sources = _Sources([label], kinds, np.zeros(len(vced), np.int32), kind_idx,
                       positions.astype(np.int32), offsets.astype(np.int64))
    report = FileReport(label, fmt, len(vced), warnings)
    return Bank(vced, sources, warnings, [report])


def _find_parts(buf: bytes, res: _Result) -> tuple[list[_Part], str]:
    """Locate the voice data in ``buf``; returns the parts and the file's format name."""
    label = res.label
    if not buf:
        raise PatchError(label, "empty file")
    if buf[:4] == b"\x00\x05\x16\x07":
        raise PatchError(label, "macOS metadata file (AppleDouble '._' file), not voice data")
    if buf[:4] == b"MThd":
        return _find_in_smf(buf, res)
    scan = sysex.scan(buf)
    if scan.dumps:
        return _parts_from_dumps(scan, res), _dump_format(scan)
    starts_sysex = buf[:1] == b"\xF0"
    if not starts_sysex:
        part = _headerless(buf, res)
        if part is not None:
            return [part], part.kind if part.kind == "raw-vced" else (
                "raw-bank" if len(buf) == 4096 else "raw-packed")
    # Which reason fits best: sysex of another kind, or headerless data that is not voices?
    headerless_size = len(buf) % PACKED_SIZE == 0 or len(buf) % VCED_SIZE == 0
    share = _sysex_share(buf) if scan.kinds and not starts_sysex else 0.0
    if scan.kinds and (starts_sysex or share > 0.9 or (not headerless_size and share > 0.5)):
        only = " only (no voice dump)" if set(scan.kinds) - {sysex.UNCOUNTED} == {"Yamaha parameter change"} else ""
        raise PatchError(label, "not DX7 voice data: " + _kinds_text(scan.kinds) + only)
    raise PatchError(label, _unrecognised_reason(buf))


def _sysex_share(buf: bytes) -> float:
    """Rough share of the buffer covered by F0..F7 messages (to tell sysex files from binaries)."""
    covered, pos, seen = 0, buf.find(b"\xF0"), 0
    while pos != -1 and seen < sysex.MAX_LISTED_MESSAGES:
        end = buf.find(b"\xF7", pos + 1)
        if end == -1:
            break
        covered += end + 1 - pos
        seen += 1
        pos = buf.find(b"\xF0", end + 1)
    return covered / (pos if seen == sysex.MAX_LISTED_MESSAGES and pos > 0 else len(buf))


def _kinds_text(kinds: dict[str, int]) -> str:
    items = sorted(((k, n) for k, n in kinds.items() if k != sysex.UNCOUNTED), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{n} {k} message{'s' if n > 1 else ''}" for k, n in items[:4])
    if len(items) > 4:
        text += f" and {sum(n for _, n in items[4:])} others"
    if sysex.UNCOUNTED in kinds:
        text += " (and more, not counted)"
    return text


def _unrecognised_reason(buf: bytes) -> str:
    n = len(buf)
    sizes = []
    if n % PACKED_SIZE == 0:
        sizes.append(f"{n // PACKED_SIZE} x 128-byte packed voices")
    if n % VCED_SIZE == 0:
        sizes.append(f"{n // VCED_SIZE} x 155-byte voices")
    if sizes:
        return (f"{n} bytes without sysex framing whose content does not look like DX7 voices "
                f"(tried as {' and as '.join(sizes)})")
    head = buf[:4]
    if head in (b"FORM", b"MROF", b"RIFF"):
        return f"a {head.decode()} container holding no DX7 voice dump"
    return (f"unrecognised content: {n} bytes, no DX7 sysex dump, and not a headerless bank "
            f"(a multiple of 128 or 155 bytes)")


def _dump_format(scan: sysex.ScanResult) -> str:
    kinds = [d.kind for d in scan.dumps]
    n_vmem, n_vced = kinds.count("vmem"), kinds.count("vced")
    if n_vmem and n_vced:
        return "mixed-dumps"
    if n_vmem:
        return "vmem" if n_vmem == 1 else "multi-vmem"
    return "vced" if n_vced == 1 else "multi-vced"


def _parts_from_dumps(scan: sysex.ScanResult, res: _Result, prefix: str = "") -> list[_Part]:
    parts: list[_Part] = []
    many = len(scan.dumps) > 1
    for i, d in enumerate(scan.dumps):
        what = ("bulk dump" if d.kind == "vmem" else "single-voice dump") + (f" {i + 1}" if many else "")
        for p in d.problems:
            (res.notes if p.startswith("byte count") else res.problems).append(f"{what}: {p}")
        width = PACKED_SIZE if d.kind == "vmem" else VCED_SIZE
        n = len(d.data) // width
        if d.kind == "vmem" and len(d.data) < sysex.VMEM_DATA:
            lost = 32 - n
            if lost:
                res.problems.append(f"{what}: {lost} of 32 voices missing (truncated)"
                                    + (f", partial voice {n + 1} dropped" if len(d.data) % width else ""))
        elif d.kind == "vced" and n == 0:
            res.problems.append(f"{what}: incomplete voice dropped")
        if n == 0:
            continue
        raw = np.frombuffer(d.data[:n * width], np.uint8).reshape(n, width)
        offsets = d.offset + 6 + np.arange(n, dtype=np.int64) * width
        if d.checksum_ok is False:
            # a failed checksum plus data that does not look like a voice: not a voice at all
            # (e.g. a librarian's scratch buffer framed as a dump); drop it, say so
            nonempty = raw.any(axis=1)
            bad = (_row_scores(raw, d.kind) > PLAUSIBLE_SCORE) & nonempty
            if bad.sum() > nonempty.sum() // 2:
                res.problems.append(f"{what}: dropped, its data does not look like DX7 voice data "
                                    f"(bad checksum and many fields out of range)")
                continue
        parts.append(_Part(d.kind, raw, offsets, what))
    if scan.kinds:
        res.notes.append("ignored " + _kinds_text(scan.kinds))
    return parts


def _find_in_smf(buf: bytes, res: _Result) -> tuple[list[_Part], str]:
    import mido

    try:
        mid = mido.MidiFile(file=io.BytesIO(buf), clip=True)
        stream = b"".join(b"\xF0" + bytes(msg.data) + b"\xF7"
                          for track in mid.tracks for msg in track if msg.type == "sysex")
    except Exception as exc:  # mido raises many kinds of errors on damaged files
        res.problems.append(f"damaged MIDI file ({type(exc).__name__}: {exc}); searched its raw bytes")
        # a sysex event is F0 <variable-length size> <data>: drop the size before each Yamaha
        # dump header so the ordinary scanner finds the dumps in the raw bytes
        stream = re.sub(rb"\xF0[\x80-\xFF]{0,3}[\x00-\x7F](?=\x43[\x00-\x0F][\x00\x09])", b"\xF0", buf)
    scan = sysex.scan(stream)
    if not scan.dumps:
        what = _kinds_text(scan.kinds) if scan.kinds else "no sysex messages"
        raise PatchError(res.label, f"a MIDI file without DX7 voice dumps ({what})")
    return _parts_from_dumps(scan, res), "smf"


def _headerless(buf: bytes, res: _Result) -> Optional[_Part]:
    """Try ``buf`` as N x 128 packed or N x 155 unpacked voices; keep the plausible reading.

    Readings tried: the whole file; if none fits, the layouts some editors write: a 4096-byte
    bank followed by other data (Dr.T/Steinberg 8192-byte files), a voice every 256 bytes
    (Transform XSyn 8192-byte .BNK, §1.7), and N voices followed by a few stray bytes (a DOS
    end-of-file mark). Whatever was skipped is reported.
    """
    n = len(buf)
    data = np.frombuffer(buf, np.uint8)

    def plain(width: int, count: int, note: str = "") -> tuple[str, np.ndarray, np.ndarray, str]:
        kind = "raw-packed" if width == PACKED_SIZE else "raw-vced"
        return kind, data[:count * width].reshape(count, width), np.arange(count, dtype=np.int64) * width, note

    exact = [plain(w, n // w) for w in (PACKED_SIZE, VCED_SIZE) if n and n % w == 0]
    # (on equal scores the first reading listed wins)
    alternates = [plain(w, n // w, f"ignored the last {n % w} bytes") for w in (PACKED_SIZE, VCED_SIZE)
                  if n >= w and 0 < n % w < 16]
    if n > 4096:
        alternates.append(plain(PACKED_SIZE, 32, f"read the first 4096 bytes as a bank, ignored the other {n - 4096}"))
    if n == 8192:
        alternates.append(("raw-packed", data.reshape(32, 256)[:, :PACKED_SIZE], np.arange(32, dtype=np.int64) * 256,
                           "one voice every 256 bytes (Transform XSyn layout), the other bytes ignored"))
    for group in (exact, alternates):
        scored = [(_implausibility(raw, kind), kind, raw, offsets, note) for kind, raw, offsets, note in group]
        plausible = [c for c in scored
                     if c[0] <= (PLAUSIBLE_SCORE if c[1] == "raw-packed" else PLAUSIBLE_SCORE_VCED)]
        if plausible:
            _, kind, raw, offsets, note = min(plausible, key=lambda c: c[0])
            if note:
                res.notes.append(f"headerless data: {len(raw)} voices; {note}")
            return _Part(kind, np.ascontiguousarray(raw), offsets, "headerless data")
    return None


_UNUSED_BITS = np.zeros(PACKED_SIZE, np.uint8)   # bits §1.4 leaves unused, per packed byte
for _b in range(6):
    _UNUSED_BITS[17 * _b + 11] = 0x70
    _UNUSED_BITS[17 * _b + 13] = 0x60
    _UNUSED_BITS[17 * _b + 15] = 0x40
_UNUSED_BITS[110] = 0x60
_UNUSED_BITS[111] = 0x70


def _row_scores(raw: np.ndarray, kind: str) -> np.ndarray:
    """Per voice: fields out of range + unused bits set + control characters in the name + a
    tenth of the bytes above 127 (some real banks have many of those; random binary has half
    its bytes so). All-zero voices (padding) should be left out by the caller."""
    hi = (raw > 127).sum(axis=1)
    seven = raw & 0x7F
    if raw.shape[1] == PACKED_SIZE:
        vced = unpack_packed(seven, clamp=False)
        unused = np.count_nonzero(seven & _UNUSED_BITS, axis=1)
    else:
        vced, unused = seven, 0
    out_of_range = np.count_nonzero(vced[:, :NAME_OFFSET] > VCED_MAX[:NAME_OFFSET], axis=1)
    control_chars = np.count_nonzero(vced[:, NAME_OFFSET:] < 32, axis=1)   # real names: ~never
    return 0.1 * hi + unused + out_of_range + control_chars


def _implausibility(raw: np.ndarray, kind: str) -> float:
    """Mean :func:`_row_scores` over the non-empty voices (inf if all are empty)."""
    nonempty = raw[raw.any(axis=1)]
    if len(nonempty) == 0:
        return float("inf")
    return float(_row_scores(nonempty, kind).mean())


def _decode(parts: list[_Part], res: _Result) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Turn the parts into clamped VCED rows, recording every repair per voice."""
    if not parts:
        return np.zeros((0, VCED_SIZE), np.uint8), [], np.zeros(0, np.int64), np.zeros(0, np.int32)
    blocks, kinds, offsets = [], [], []
    for p in parts:
        hi_count = (p.raw > 127).sum(axis=1)
        seven = p.raw & 0x7F
        raw_vced = unpack_packed(seven, clamp=False) if p.raw.shape[1] == PACKED_SIZE else seven
        blocks.append((raw_vced, hi_count))
        kinds.extend([p.kind] * len(p.raw))
        offsets.append(p.offsets)
    raw_all = np.concatenate([b[0] for b in blocks])
    hi_all = np.concatenate([b[1] for b in blocks])
    vced, changed = clamp_vced(raw_all)
    positions = np.arange(1, len(vced) + 1, dtype=np.int32)
    names = Bank(vced).names
    for r in np.flatnonzero(hi_all):
        res.problems.append(f"voice {r + 1} '{names[r]}': {hi_all[r]} data byte{'s' if hi_all[r] > 1 else ''} "
                            f"above 127 (high bit dropped)")
    rows, cols = np.nonzero(changed)
    if len(rows):
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        ends = np.r_[starts[1:], len(rows)]
        for s, e in zip(starts, ends):
            r = rows[s]
            fields = [f"{PARAM_LABELS[c]} was {raw_all[r, c]}, clamped to {vced[r, c]}" for c in cols[s:e]]
            extra = len(fields) - MAX_FIELDS_LISTED
            text = "; ".join(fields[:MAX_FIELDS_LISTED]) + (f"; and {extra} more fields clamped" if extra > 0 else "")
            res.problems.append(f"voice {r + 1} '{names[r]}': {text}")
    empty = np.flatnonzero(~raw_all.any(axis=1))
    if len(empty):
        res.notes.append(f"voice{'s' if len(empty) > 1 else ''} {_ranges(empty + 1)} "
                         f"{'are' if len(empty) > 1 else 'is'} empty (all bytes zero)")
    return vced, kinds, np.concatenate(offsets), positions


def _ranges(numbers: np.ndarray) -> str:
    """[2,3,4,7] -> '2-4, 7' (at most a few groups, then a count)."""
    groups = []
    start = prev = int(numbers[0])
    for x in map(int, numbers[1:]):
        if x != prev + 1:
            groups.append((start, prev))
            start = x
        prev = x
    groups.append((start, prev))
    text = ", ".join(f"{a}-{b}" if b > a else f"{a}" for a, b in groups[:6])
    if len(groups) > 6:
        text += f" and {sum(b - a + 1 for a, b in groups[6:])} more"
    return text
