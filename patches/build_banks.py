#!/usr/bin/env python3
"""Build dx7live's built-in banks: ``patches/<bank>.toml`` (readable source) -> ``dx7live/patch/banks/<bank>.syx``.

Each source file describes up to 32 voices in DX7 vocabulary (see the header of
``patches/dx7live-1.toml`` for the format); anything a voice does not list keeps its INIT VOICE
value. Every value is range-checked, with an error naming the file, the voice and the parameter.
The output is a standard 32-voice bulk dump (VMEM, 4104 bytes, fact sheet §1.2/§1.4), written
deterministically: re-running the script produces byte-identical files. Unused slots are filled
with INIT VOICE.

    python patches/build_banks.py            # rebuild every patches/*.toml
    python patches/build_banks.py --check    # exit 1 if a committed .syx differs from a fresh build

This script is standalone (standard library only) so it runs before dx7live is built.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BANK_DIR = HERE.parent / "dx7live" / "patch" / "banks"   # the package data dx7live.builtin_bank() reads

VOICES_PER_BANK = 32
FAMILIES = ("epiano", "piano", "bass", "brass", "bell", "organ", "strings", "pad", "pluck", "lead", "wind",
            "percussion", "effect")
PITCH_EXPECT = ("fundamental", "partial", "none")
ENVELOPE_EXPECT = ("decaying", "percussive", "sustaining", "swelling")
LFO_WAVES = ("triangle", "saw down", "saw up", "square", "sine", "sample hold")   # §1.5 param 142
CURVES = ("-LIN", "-EXP", "+EXP", "+LIN")                                          # §1.5 +11/+12
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

# Operator block offsets inside the 21-value VCED operator block (§1.5).
OP_R1, OP_L1, OP_BP, OP_LD, OP_RD, OP_LC, OP_RC = 0, 4, 8, 9, 10, 11, 12
OP_RS, OP_AMS, OP_KVS, OP_OL, OP_MODE, OP_COARSE, OP_FINE, OP_DETUNE = 13, 14, 15, 16, 17, 18, 19, 20
# Voice parameter numbers (§1.5).
P_PEG_R1, P_PEG_L1, P_ALG, P_FB, P_OKS = 126, 130, 134, 135, 136
P_LFO_SPEED, P_LFO_DELAY, P_LFO_PMD, P_LFO_AMD, P_LFO_SYNC, P_LFO_WAVE, P_PMS = 137, 138, 139, 140, 141, 142, 143
P_TRANSPOSE, P_NAME = 144, 145

OP_KEYS = {"rates", "levels", "output", "mode", "coarse", "fine", "detune", "velocity", "rate_scaling",
           "amp_mod", "breakpoint", "left_depth", "right_depth", "left_curve", "right_curve"}
LFO_KEYS = {"speed", "delay", "pmd", "amd", "key_sync", "wave", "pms"}
VOICE_KEYS = {"name", "family", "intent", "algorithm", "feedback", "osc_key_sync", "transpose", "lfo",
              "pitch_eg", "expect"} | {f"op{n}" for n in range(1, 7)}
EXPECT_KEYS = {"pitch", "f0", "partial", "envelope", "decay_db", "window"}


class SourceError(ValueError):
    """A bank source has a bad value; the message names file, voice and parameter."""


@dataclass
class VoiceSource:
    """One voice of a bank source: its 155 VCED values plus what the render test expects of it."""

    name: str
    family: str
    intent: str
    vced: bytes
    expect: dict[str, Any] = field(default_factory=dict)


def init_voice() -> list[int]:
    """The DX7 INIT VOICE as 155 VCED values (OP1 at output 99, everything else neutral)."""
    v = [0] * 155
    for n in range(1, 7):
        b = 21 * (6 - n)
        v[b + OP_R1:b + OP_R1 + 4] = [99, 99, 99, 99]
        v[b + OP_L1:b + OP_L1 + 4] = [99, 99, 99, 0]
        v[b + OP_BP] = 39                       # C3
        v[b + OP_OL] = 99 if n == 1 else 0
        v[b + OP_COARSE] = 1
        v[b + OP_DETUNE] = 7                    # centre
    v[P_PEG_R1:P_PEG_R1 + 4] = [99, 99, 99, 99]
    v[P_PEG_L1:P_PEG_L1 + 4] = [50, 50, 50, 50]
    v[P_OKS] = 1
    v[P_LFO_SPEED] = 35
    v[P_LFO_SYNC] = 1
    v[P_PMS] = 3
    v[P_TRANSPOSE] = 24
    v[P_NAME:P_NAME + 10] = list(b"INIT VOICE")
    return v


def note_to_breakpoint(text: str) -> int:
    """Panel note name (C3 = middle C = MIDI 60, A-1 = breakpoint 0) -> breakpoint value."""
    t = text.strip().upper()
    for pc in sorted(range(12), key=lambda i: -len(NOTE_NAMES[i])):   # match "C#" before "C"
        if t.startswith(NOTE_NAMES[pc]):
            octave = int(t[len(NOTE_NAMES[pc]):])
            return 12 * (octave + 2) + pc - 21
    raise ValueError(f"not a note name: {text!r}")


def valid_name_char(c: str) -> bool:
    """DX7 display characters: printable 7-bit ASCII except the ones the LCD shows as symbols."""
    return 32 <= ord(c) <= 125 and c not in "\\"


class _Ctx:
    """Where we are, for error messages."""

    def __init__(self, path: Path, voice: str) -> None:
        self.path, self.voice = path, voice

    def fail(self, param: str, msg: str) -> SourceError:
        return SourceError(f"{self.path.name}: voice {self.voice!r}: {param}: {msg}")

    def int_in(self, param: str, value: Any, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(param, f"expected an integer {lo}..{hi}, got {value!r}")
        if not lo <= value <= hi:
            raise self.fail(param, f"{value} is out of range {lo}..{hi}")
        return value

    def four(self, param: str, value: Any) -> list[int]:
        if not isinstance(value, list) or len(value) != 4:
            raise self.fail(param, f"expected a list of 4 values 0..99, got {value!r}")
        return [self.int_in(f"{param}[{i + 1}]", x, 0, 99) for i, x in enumerate(value)]

    def choice(self, param: str, value: Any, options: tuple[str, ...]) -> int:
        if value not in options:
            raise self.fail(param, f"{value!r} is not one of {', '.join(options)}")
        return options.index(value)

    def flag(self, param: str, value: Any) -> int:
        if not isinstance(value, bool):
            raise self.fail(param, f"expected true or false, got {value!r}")
        return int(value)

    def unknown(self, where: str, keys: set[str], allowed: set[str]) -> None:
        extra = sorted(keys - allowed)
        if extra:
            raise self.fail(where, f"unknown parameter(s) {', '.join(extra)} (allowed: {', '.join(sorted(allowed))})")


def _operator(ctx: _Ctx, n: int, spec: Any, v: list[int]) -> None:
    if not isinstance(spec, dict):
        raise ctx.fail(f"op{n}", "expected a table of operator parameters")
    ctx.unknown(f"op{n}", set(spec), OP_KEYS)
    b = 21 * (6 - n)   # OP6 is stored first (§1.5)
    p = f"op{n}."
    if "rates" in spec:
        v[b + OP_R1:b + OP_R1 + 4] = ctx.four(p + "rates", spec["rates"])
    if "levels" in spec:
        v[b + OP_L1:b + OP_L1 + 4] = ctx.four(p + "levels", spec["levels"])
    simple = {"output": (OP_OL, 0, 99), "coarse": (OP_COARSE, 0, 31), "fine": (OP_FINE, 0, 99),
              "velocity": (OP_KVS, 0, 7), "rate_scaling": (OP_RS, 0, 7), "amp_mod": (OP_AMS, 0, 3),
              "left_depth": (OP_LD, 0, 99), "right_depth": (OP_RD, 0, 99)}
    for key, (off, lo, hi) in simple.items():
        if key in spec:
            v[b + off] = ctx.int_in(p + key, spec[key], lo, hi)
    if "detune" in spec:
        v[b + OP_DETUNE] = ctx.int_in(p + "detune", spec["detune"], -7, 7) + 7
    if "mode" in spec:
        v[b + OP_MODE] = ctx.choice(p + "mode", spec["mode"], ("ratio", "fixed"))
    if "breakpoint" in spec:
        bp = spec["breakpoint"]
        if isinstance(bp, str):
            try:
                bp = note_to_breakpoint(bp)
            except ValueError as e:
                raise ctx.fail(p + "breakpoint", str(e)) from None
        v[b + OP_BP] = ctx.int_in(p + "breakpoint", bp, 0, 99)
    for key, off in (("left_curve", OP_LC), ("right_curve", OP_RC)):
        if key in spec:
            v[b + off] = ctx.choice(p + key, spec[key], CURVES)


def _expect(ctx: _Ctx, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise ctx.fail("expect", "expected a table, e.g. { pitch = \"fundamental\", envelope = \"decaying\" }")
    ctx.unknown("expect", set(spec), EXPECT_KEYS)
    out = dict(spec)
    if out.get("pitch") not in PITCH_EXPECT:
        raise ctx.fail("expect.pitch", f"must be one of {', '.join(PITCH_EXPECT)}")
    if out.get("envelope") not in ENVELOPE_EXPECT:
        raise ctx.fail("expect.envelope", f"must be one of {', '.join(ENVELOPE_EXPECT)}")
    if out["pitch"] == "partial" and not isinstance(out.get("partial"), (int, float)):
        raise ctx.fail("expect.partial", "pitch = \"partial\" needs partial = <ratio to the key frequency>")
    for key in ("f0", "partial", "decay_db"):
        if key in out and (not isinstance(out[key], (int, float)) or out[key] <= 0):
            raise ctx.fail(f"expect.{key}", f"expected a positive number, got {out[key]!r}")
    if "window" in out:
        w = out["window"]
        if (not isinstance(w, list) or len(w) != 2 or not all(isinstance(x, (int, float)) for x in w)
                or not 0 <= w[0] < w[1] <= 1.0):
            raise ctx.fail("expect.window", f"expected [start, end] seconds within the held second, got {w!r}")
    return out


def parse_voice(path: Path, index: int, spec: dict[str, Any]) -> VoiceSource:
    """One ``[[voice]]`` table -> VoiceSource (155 VCED values), validating every value."""
    ctx = _Ctx(path, str(spec.get("name", f"#{index + 1}")))
    ctx.unknown("voice", set(spec), VOICE_KEYS)
    v = init_voice()
    name = spec.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 10:
        raise ctx.fail("name", f"expected 1..10 characters, got {name!r}")
    bad = [c for c in name if not valid_name_char(c)]
    if bad:
        raise ctx.fail("name", f"characters {bad!r} are outside the DX7 character set")
    v[P_NAME:P_NAME + 10] = list(name.ljust(10).encode("ascii"))
    family = spec.get("family")
    if family not in FAMILIES:
        raise ctx.fail("family", f"{family!r} is not one of {', '.join(FAMILIES)}")
    intent = spec.get("intent")
    if not isinstance(intent, str) or not intent.strip():
        raise ctx.fail("intent", "a one-line description of the voice's intent is required")
    if "algorithm" in spec:
        v[P_ALG] = ctx.int_in("algorithm", spec["algorithm"], 1, 32) - 1
    if "feedback" in spec:
        v[P_FB] = ctx.int_in("feedback", spec["feedback"], 0, 7)
    if "osc_key_sync" in spec:
        v[P_OKS] = ctx.flag("osc_key_sync", spec["osc_key_sync"])
    if "transpose" in spec:
        v[P_TRANSPOSE] = ctx.int_in("transpose", spec["transpose"], -24, 24) + 24
    if "lfo" in spec:
        lfo = spec["lfo"]
        if not isinstance(lfo, dict):
            raise ctx.fail("lfo", "expected a table")
        ctx.unknown("lfo", set(lfo), LFO_KEYS)
        for key, num in (("speed", P_LFO_SPEED), ("delay", P_LFO_DELAY), ("pmd", P_LFO_PMD), ("amd", P_LFO_AMD)):
            if key in lfo:
                v[num] = ctx.int_in(f"lfo.{key}", lfo[key], 0, 99)
        if "pms" in lfo:
            v[P_PMS] = ctx.int_in("lfo.pms", lfo["pms"], 0, 7)
        if "wave" in lfo:
            v[P_LFO_WAVE] = ctx.choice("lfo.wave", lfo["wave"], LFO_WAVES)
        if "key_sync" in lfo:
            v[P_LFO_SYNC] = ctx.flag("lfo.key_sync", lfo["key_sync"])
    if "pitch_eg" in spec:
        peg = spec["pitch_eg"]
        if not isinstance(peg, dict):
            raise ctx.fail("pitch_eg", "expected a table { rates = [...], levels = [...] }")
        ctx.unknown("pitch_eg", set(peg), {"rates", "levels"})
        if "rates" in peg:
            v[P_PEG_R1:P_PEG_R1 + 4] = ctx.four("pitch_eg.rates", peg["rates"])
        if "levels" in peg:
            v[P_PEG_L1:P_PEG_L1 + 4] = ctx.four("pitch_eg.levels", peg["levels"])
    for n in range(1, 7):
        if f"op{n}" in spec:
            _operator(ctx, n, spec[f"op{n}"], v)
    if "expect" not in spec:
        raise ctx.fail("expect", "every voice states what the render test should find (pitch, envelope)")
    expect = _expect(ctx, spec["expect"])
    return VoiceSource(name=name, family=family, intent=intent.strip(), vced=bytes(v), expect=expect)


def read_source(path: Path) -> list[VoiceSource]:
    """Parse and validate one bank source file."""
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise SourceError(f"{path.name}: not valid TOML: {e}") from None
    voices = doc.get("voice")
    if not isinstance(voices, list) or not voices:
        raise SourceError(f"{path.name}: no [[voice]] tables")
    if len(voices) > VOICES_PER_BANK:
        raise SourceError(f"{path.name}: {len(voices)} voices; a bank holds at most {VOICES_PER_BANK}")
    out = [parse_voice(path, i, spec) for i, spec in enumerate(voices)]
    seen: dict[str, int] = {}
    for i, vs in enumerate(out):
        if vs.name in seen:
            raise SourceError(f"{path.name}: voice name {vs.name!r} used twice (voices {seen[vs.name] + 1} and {i + 1})")
        seen[vs.name] = i
    return out


def pack_voice(v: bytes) -> bytes:
    """155 VCED values -> the 128-byte packed form used inside a VMEM dump (fact sheet §1.4)."""
    out = bytearray(128)
    for k in range(6):              # k = 0 is OP6, stored first in both forms
        s, d = 21 * k, 17 * k
        out[d:d + 11] = v[s:s + 11]
        out[d + 11] = (v[s + OP_RC] << 2) | v[s + OP_LC]
        out[d + 12] = (v[s + OP_DETUNE] << 3) | v[s + OP_RS]
        out[d + 13] = (v[s + OP_KVS] << 2) | v[s + OP_AMS]
        out[d + 14] = v[s + OP_OL]
        out[d + 15] = (v[s + OP_COARSE] << 1) | v[s + OP_MODE]
        out[d + 16] = v[s + OP_FINE]
    out[102:110] = v[126:134]
    out[110] = v[P_ALG]
    out[111] = (v[P_OKS] << 3) | v[P_FB]
    out[112:116] = v[P_LFO_SPEED:P_LFO_AMD + 1]
    out[116] = (v[P_PMS] << 4) | (v[P_LFO_WAVE] << 1) | v[P_LFO_SYNC]
    out[117] = v[P_TRANSPOSE]
    out[118:128] = v[P_NAME:P_NAME + 10]
    return bytes(out)


def vmem(voices: list[bytes]) -> bytes:
    """32 VCED voices (fewer are padded with INIT VOICE) -> a 4104-byte VMEM bulk dump (§1.2)."""
    padded = list(voices) + [bytes(init_voice())] * (VOICES_PER_BANK - len(voices))
    data = b"".join(pack_voice(v) for v in padded)
    checksum = (-sum(data)) & 0x7F
    return bytes([0xF0, 0x43, 0x00, 0x09, 0x20, 0x00]) + data + bytes([checksum, 0xF7])


def build(path: Path) -> bytes:
    """Source file -> VMEM bytes."""
    return vmem([vs.vced for vs in read_source(path)])


def sources(directory: Path = HERE) -> list[Path]:
    return sorted(directory.glob("*.toml"))


def _write_atomic(path: Path, data: bytes) -> None:
    # Standalone script: a minimal temp-file-and-rename (dx7live._io is not importable before a build).
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)   # mkstemp creates 0600; a bank is an ordinary readable file
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only compare the committed .syx with a fresh build")
    ap.add_argument("files", nargs="*", type=Path, help="source files (default: patches/*.toml)")
    ap.add_argument("--out-dir", type=Path, default=BANK_DIR,
                    help="where the .syx files go (default: dx7live/patch/banks, the package data)")
    args = ap.parse_args(argv)
    status = 0
    for src in args.files or sources():
        try:
            data = build(src)
        except SourceError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        out = args.out_dir / f"{src.stem}.syx"
        if args.check:
            same = out.exists() and out.read_bytes() == data
            print(f"{out.name}: {'up to date' if same else 'DIFFERS from its source'}")
            status |= 0 if same else 1
        else:
            _write_atomic(out, data)
            print(f"{src.name} -> {out.name} ({len(data)} bytes)")
    return status


if __name__ == "__main__":
    sys.exit(main())
