"""DX7 system-exclusive framing: checksums, building dumps, finding messages in a byte buffer.

Formats (fact sheet §1.1-§1.3):
    VMEM (32 voices): F0 43 0n 09 20 00 <4096 packed bytes> cs F7   (4104 bytes)
    VCED (1 voice):   F0 43 0n 00 01 1B <155 bytes> cs F7           (163 bytes)
The checksum is the 7-bit two's complement of the sum of the data bytes.

The scanner works on the whole buffer with ``bytes.find`` (no per-byte Python loop), so a 36 MB
corpus is scanned in well under a second.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

import numpy as np

SYSEX_START = 0xF0
SYSEX_END = 0xF7
YAMAHA = 0x43
FORMAT_VCED = 0
FORMAT_VMEM = 9
VMEM_SIZE = 4104
VMEM_DATA = 4096
VCED_MSG_SIZE = 163
VCED_DATA = 155
MAX_LISTED_MESSAGES = 10_000
UNCOUNTED = "uncounted"   # key in ScanResult.kinds: more messages followed, not counted
# a Yamaha message start (F0 43, then sub-status 0-2 and channel): inside a dump's payload it
# means the dump stopped early (a corrupted data byte F0 is rarely followed by this)
_YAMAHA_START = re.compile(rb"\xF0\x43[\x00-\x2F]")
MAX_STRAY_BYTES = 4
_SHIFTED_HEADER = re.compile(rb"\x43[\x00-\x0F](?:\x09[\x10\x20]\x00|\x00\x01\x1B)")
_DUMP_HEADER = re.compile(rb"\xF0\x43[\x00-\x0F][\x00\x09]")


def checksum(data: bytes | np.ndarray) -> int:
    """The DX7 checksum of a dump's data bytes: ``(-sum) & 0x7F`` (§1.2)."""
    total = int(np.frombuffer(bytes(data), dtype=np.uint8).sum(dtype=np.int64)) if not isinstance(
        data, np.ndarray) else int(data.astype(np.int64).sum())
    return (-total) & 0x7F


def vmem_message(packed: bytes, channel: int = 0) -> bytes:
    """A 32-voice bulk dump (4104 bytes) around 4096 packed bytes."""
    if len(packed) != VMEM_DATA:
        raise ValueError(f"a bank holds {VMEM_DATA} packed bytes, got {len(packed)}")
    if not 0 <= channel <= 15:
        raise ValueError(f"MIDI channel must be 0..15, got {channel}")
    return bytes([SYSEX_START, YAMAHA, channel, FORMAT_VMEM, 0x20, 0x00]) + packed + bytes(
        [checksum(packed), SYSEX_END])


def vced_message(vced: bytes, channel: int = 0) -> bytes:
    """A single-voice dump (163 bytes) around 155 VCED bytes."""
    if len(vced) != VCED_DATA:
        raise ValueError(f"a single-voice dump holds {VCED_DATA} bytes, got {len(vced)}")
    if not 0 <= channel <= 15:
        raise ValueError(f"MIDI channel must be 0..15, got {channel}")
    return bytes([SYSEX_START, YAMAHA, channel, FORMAT_VCED, 0x01, 0x1B]) + vced + bytes(
        [checksum(vced), SYSEX_END])


@dataclass
class Dump:
    """One DX7 voice dump found in a buffer.

    ``kind`` is ``'vmem'`` or ``'vced'``; ``data`` the payload as found (may be short if the dump
    is truncated); ``problems`` lists what was wrong with the framing, in words.
    """

    kind: str
    offset: int
    channel: int
    data: bytes
    problems: list[str]
    checksum_ok: Optional[bool]


@dataclass
class ScanResult:
    dumps: list[Dump]
    n_messages: int          # every F0 ... message seen (any manufacturer)
    kinds: dict[str, int]    # what the other messages were, for the rejection reason


def _describe(buf: bytes, pos: int) -> str:
    """A short label for a non-voice sysex message starting at ``pos``."""
    maker = buf[pos + 1] if pos + 1 < len(buf) else None
    if maker is None:
        return "empty sysex"
    if maker == YAMAHA and pos + 3 < len(buf):
        sub = buf[pos + 2] >> 4
        if sub == 1:
            return "Yamaha parameter change"
        if sub == 2:
            return "Yamaha dump request"
        if sub == 0:
            fmt = buf[pos + 3]
            names = {3: "Yamaha 4-op single voice (TX81Z/DX21)", 4: "Yamaha 4-op voice bank (TX81Z/DX21)",
                     1: "Yamaha TX7 performance", 2: "Yamaha TX7 performance bank",
                     5: "Yamaha DX7II supplement", 6: "Yamaha DX7II supplement bank",
                     0x7E: "Yamaha universal bulk (DX7II/TX802/TX81Z)"}
            return names.get(fmt, f"Yamaha format {fmt}")
        return "Yamaha sysex"
    if maker == 0x41:
        return "Roland sysex"
    if maker == 0x42:
        return "Korg sysex"
    if maker in (0x7E, 0x7F):
        return "universal sysex"
    if maker >= 0x80:
        return f"malformed sysex (manufacturer byte 0x{maker:02X})"
    return f"sysex of manufacturer 0x{maker:02X}"


def scan(buf: bytes) -> ScanResult:
    """Find every DX7 voice dump in ``buf``, wherever it is and however many there are.

    A VMEM is recognised by ``F0 43 0n 09``; its payload is the next 4096 bytes whatever they
    contain (a checksum byte of F0/F7 or data bytes with the high bit set do not end it). A VCED
    by ``F0 43 0n 00 01 1B``. Anything else starting with F0 is counted by kind.
    """
    dumps: list[Dump] = []
    kinds: dict[str, int] = {}
    n_messages = 0
    pos = buf.find(b"\xF0")
    n = len(buf)
    while pos != -1:
        n_messages += 1
        h = buf[pos:pos + 6]
        nxt = None
        if len(h) >= 4 and h[1] == YAMAHA and h[2] >> 4 == 0 and h[3] == FORMAT_VMEM:
            nxt = _take(buf, pos, "vmem", VMEM_DATA, h, dumps)
        elif len(h) >= 4 and h[1] == YAMAHA and h[2] >> 4 == 0 and h[3] == FORMAT_VCED and (
                len(h) < 6 or (h[4], h[5]) == (0x01, 0x1B)):
            nxt = _take(buf, pos, "vced", VCED_DATA, h, dumps)
        elif _take_shifted(buf, pos, dumps):
            nxt = pos + 1                                   # the dump is recorded; scan past it
            nxt = max(nxt, _end_of(dumps[-1], buf))
        else:
            label = _describe(buf, pos)
            kinds[label] = kinds.get(label, 0) + 1
            end = buf.find(b"\xF7", pos + 1)
            nxt = n if end == -1 else end + 1
            if n_messages > MAX_LISTED_MESSAGES:
                # enough to describe the file: jump straight to the next DX7 dump header, so a
                # huge file of other messages costs one regex pass instead of a Python loop
                m = _DUMP_HEADER.search(buf, nxt)
                if m is None:
                    kinds[UNCOUNTED] = 1
                    break
                nxt = m.start()
        pos = buf.find(b"\xF0", nxt)
    return ScanResult(dumps, n_messages, kinds)


def _take_shifted(buf: bytes, pos: int, dumps: list[Dump]) -> bool:
    """A dump whose Yamaha header starts a few bytes after its F0 (some librarians insert bytes,
    e.g. ``F0 81 22 43 00 00 01 1B ...``). Accepted only if its checksum proves the data intact."""
    m = _SHIFTED_HEADER.search(buf, pos + 2, pos + 2 + MAX_STRAY_BYTES + 6)
    if m is None or buf.find(b"\xF7", pos + 1, m.start()) != -1:
        return False
    virtual = m.start() - 1                                 # where the F0 should have been
    kind, size = ("vmem", VMEM_DATA) if buf[m.start() + 2] == FORMAT_VMEM else ("vced", VCED_DATA)
    trial: list[Dump] = []
    _take(buf, virtual, kind, size, buf[virtual:virtual + 6], trial)
    if not trial or trial[0].checksum_ok is not True:
        return False
    stray = virtual - pos
    trial[0].problems.insert(0, f"{stray} stray byte{'s' if stray > 1 else ''} between F0 and the Yamaha header "
                                f"({buf[pos + 1:virtual + 1].hex(' ').upper()}), skipped")
    dumps.append(trial[0])
    return True


def _end_of(dump: Dump, buf: bytes) -> int:
    """Where scanning resumes after a complete dump found by :func:`_take_shifted`."""
    end = dump.offset + 6 + len(dump.data) + 1           # past the checksum
    return end + 1 if buf[end:end + 1] == b"\xF7" else end


def _take(buf: bytes, pos: int, kind: str, size: int, header: bytes, dumps: list[Dump]) -> int:
    """Record the dump starting at ``pos``; return where scanning resumes."""
    problems: list[str] = []
    channel = header[2] & 0x0F
    start = pos + 6
    payload = buf[start:start + size]
    if kind == "vmem" and len(header) >= 6 and (header[4], header[5]) != (0x20, 0x00):
        if (header[4], header[5]) == (0x10, 0x00):
            problems.append("byte count written as 10 00 instead of 20 00")
        else:
            problems.append(f"byte count {header[4]:02X} {header[5]:02X} instead of 20 00")
    # A dump that ends early: another Yamaha message starts inside the expected payload
    # (data bytes are 7-bit, so F0 43 0n there means the sender stopped), or the file ends.
    m = _YAMAHA_START.search(payload)
    early = m.start() if m else -1
    if early != -1:
        payload = payload[:early]
        resume = start + early
    elif len(payload) < size:
        resume = len(buf)
    else:
        resume = -1
    if resume != -1:
        if payload.endswith(b"\xF7"):
            payload = payload[:-1]
        problems.append(f"truncated: {len(payload)} of {size} data bytes")
        dumps.append(Dump(kind, pos, channel, payload, problems, None))
        return resume
    cs_pos = start + size
    want = checksum(payload)
    cs = buf[cs_pos] if cs_pos < len(buf) else None
    after = buf[cs_pos + 1] if cs_pos + 1 < len(buf) else None
    ok: Optional[bool]
    if cs is None or (cs == SYSEX_END and after != SYSEX_END and want != 0x77):
        # 4103-byte files: the F7 sits where the checksum should be
        problems.append("checksum byte missing")
        return _record(dumps, Dump(kind, pos, channel, payload, problems, None), cs_pos + (cs is not None))
    if cs == want:
        ok = True
    elif cs & 0x7F == want:
        ok = True
        problems.append(f"checksum byte 0x{cs:02X} has its high bit set (low 7 bits correct)")
    else:
        ok = False
        problems.append(f"checksum mismatch: file has 0x{cs:02X}, the data sums to 0x{want:02X}")
    resume = cs_pos + 1
    if after == SYSEX_END:
        resume += 1
    elif after is None:
        problems.append("no F7 at the end")
    return _record(dumps, Dump(kind, pos, channel, payload, problems, ok), resume)


def _record(dumps: list[Dump], dump: Dump, resume: int) -> int:
    dumps.append(dump)
    return resume
