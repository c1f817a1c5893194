"""The DX7 voice: 155 parameters, named access, packed/unpacked conversions, vectors, hashes.

A :class:`Voice` holds the 155 voice parameters in VCED order (fact sheet §1.5) plus the operator
on/off byte (parameter 155, not part of a dump; default: all six operators on).

API decisions (read these once):

- **Operators are 1-based as on the panel**: ``v.op[1]`` is OP1 even though the data stores OP6
  first. ``v.op[0]`` raises ``IndexError``.
- **Algorithm is 1..32 as displayed on the panel** (``v.algorithm``); the VCED byte stores 0..31.
  Every other parameter uses the stored value and range (e.g. ``detune`` 0..14 with 7 = centre,
  ``transpose`` 0..48 with 24 = C3 = no shift, ``breakpoint`` 0..99 with 39 = C3).
- **Oscillator mode** reads as ``'ratio'`` or ``'fixed'``; it accepts those strings or 0/1.
- Switches (``osc_key_sync``, ``lfo_key_sync``, ``op[n].enabled``) read as ``bool``.
- **Voices are mutable**: every setter validates its range and raises ``ValueError`` otherwise.
  Because they are mutable they are *unhashable*; two voices are equal when their 155 VCED bytes
  and operator on/off switches are equal. Use :meth:`Voice.content_hash` as a stable key
  (dictionaries, de-duplication); :meth:`Voice.copy` for an independent copy.
- ``name`` is the 10-character name for display (codes below 32 shown as spaces, trailing
  spaces removed); ``name_bytes`` gives the exact stored bytes.

The vectorised converters :func:`unpack_packed`, :func:`pack_vced` and :func:`clamp_vced` work on
whole collections (``uint8[N, 128]`` / ``uint8[N, 155]``) without Python loops and are bit-exact
with the per-voice methods.
"""
from __future__ import annotations

import hashlib
from typing import Iterable, Iterator, Sequence, Union

import numpy as np

VCED_SIZE = 155          # unpacked voice parameters 0..154 (§1.5)
PACKED_SIZE = 128        # one voice inside a 32-voice bulk dump (§1.4)
NAME_OFFSET = 145        # VCED parameters 145..154 are the name
NAME_LENGTH = 10
N_VECTOR = NAME_OFFSET   # the 145 non-name parameters form the ML vector
ALL_OPS_ON = 0x3F        # parameter 155: bit 5 = OP1 ... bit 0 = OP6

# Per-operator block (§1.5): name and maximum of each of the 21 parameters.
OP_PARAMS = [
    ("r1", 99), ("r2", 99), ("r3", 99), ("r4", 99),
    ("l1", 99), ("l2", 99), ("l3", 99), ("l4", 99),
    ("breakpoint", 99), ("left_depth", 99), ("right_depth", 99),
    ("left_curve", 3), ("right_curve", 3), ("rate_scaling", 7),
    ("amp_mod_sensitivity", 3), ("velocity_sensitivity", 7), ("output_level", 99),
    ("mode", 1), ("coarse", 31), ("fine", 99), ("detune", 14),
]
OP_INDEX = {name: k for k, (name, _) in enumerate(OP_PARAMS)}

# Voice-global parameters 126..144 (§1.5).
GLOBAL_PARAMS = [
    ("pitch_eg_r1", 99), ("pitch_eg_r2", 99), ("pitch_eg_r3", 99), ("pitch_eg_r4", 99),
    ("pitch_eg_l1", 99), ("pitch_eg_l2", 99), ("pitch_eg_l3", 99), ("pitch_eg_l4", 99),
    ("algorithm", 31), ("feedback", 7), ("osc_key_sync", 1),
    ("lfo_speed", 99), ("lfo_delay", 99), ("lfo_pitch_mod_depth", 99), ("lfo_amp_mod_depth", 99),
    ("lfo_key_sync", 1), ("lfo_wave", 5), ("pitch_mod_sensitivity", 7), ("transpose", 48),
]
GLOBAL_INDEX = {name: 126 + k for k, (name, _) in enumerate(GLOBAL_PARAMS)}


def _op_base(n: int) -> int:
    """First VCED index of OPn (1..6); the data stores OP6 first (§1.5)."""
    return 21 * (6 - n)


def _build_tables() -> tuple[list[str], np.ndarray]:
    names: list[str] = []
    maxima: list[int] = []
    for n in range(6, 0, -1):
        for pname, mx in OP_PARAMS:
            names.append(f"op{n}_{pname}")
            maxima.append(mx)
    for pname, mx in GLOBAL_PARAMS:
        names.append(pname)
        maxima.append(mx)
    for i in range(NAME_LENGTH):
        names.append(f"name_{i + 1}")
        maxima.append(127)
    return names, np.array(maxima, dtype=np.uint8)


#: Name of each of the 155 VCED parameters, in VCED order (``op6_r1`` ... ``transpose``, ``name_1``..).
PARAM_NAMES, VCED_MAX = _build_tables()
_VCED_LIMIT = np.r_[VCED_MAX[:145], [127] * 10].astype(np.uint8)  # name bytes: 7-bit ASCII
#: Names of the 145 entries of :meth:`Voice.to_vector` (VCED order, name excluded).
VECTOR_NAMES = PARAM_NAMES[:N_VECTOR]

LFO_WAVES = ("triangle", "saw down", "saw up", "square", "sine", "sample & hold")
CURVES = ("-LIN", "-EXP", "+EXP", "+LIN")
# Carrier operators of each algorithm (§3), index = algorithm - 1.
CARRIERS = (
    (1, 3), (1, 3), (1, 4), (1, 4), (1, 3, 5), (1, 3, 5), (1, 3), (1, 3), (1, 3), (1, 4), (1, 4),
    (1, 3), (1, 3), (1, 3), (1, 3), (1,), (1,), (1,), (1, 4, 5), (1, 2, 4), (1, 2, 4, 5),
    (1, 3, 4, 5), (1, 2, 4, 5), (1, 2, 3, 4, 5), (1, 2, 3, 4, 5), (1, 2, 4), (1, 2, 4), (1, 3, 6),
    (1, 2, 3, 5), (1, 2, 3, 6), (1, 2, 3, 4, 5), (1, 2, 3, 4, 5, 6),
)

BytesLike = Union[bytes, bytearray, memoryview, Sequence[int], np.ndarray]


# --------------------------------------------------------------------------------------------
# Vectorised converters
# --------------------------------------------------------------------------------------------

def _as_2d(a: np.ndarray, width: int, what: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f"{what} must have shape (N, {width}), got {np.shape(a)}")
    return arr


def unpack_packed(packed: np.ndarray, clamp: bool = True) -> np.ndarray:
    """Unpack 128-byte packed voices (§1.4) into 155-byte VCED rows: ``uint8[N,128] -> uint8[N,155]``.

    Bit 7 of every byte is dropped (MIDI data is 7-bit) and the bitfields are masked to their
    width as the firmware does. Whole-byte fields are copied; with ``clamp`` (default) every
    value is then clamped to its §1.5 range (see :func:`clamp_vced`), without it values such as
    output level 120 or LFO wave 7 are returned as found.
    """
    p = _as_2d(packed, PACKED_SIZE, "packed voices").astype(np.uint8, copy=False) & 0x7F
    n = p.shape[0]
    out = np.empty((n, VCED_SIZE), dtype=np.uint8)
    ops = p[:, :102].reshape(n, 6, 17)          # OP6 first in both layouts
    vo = out[:, :126].reshape(n, 6, 21)
    vo[:, :, 0:11] = ops[:, :, 0:11]             # rates, levels, breakpoint, depths
    vo[:, :, 11] = ops[:, :, 11] & 3             # left curve
    vo[:, :, 12] = (ops[:, :, 11] >> 2) & 3      # right curve
    vo[:, :, 13] = ops[:, :, 12] & 7             # rate scaling
    vo[:, :, 20] = (ops[:, :, 12] >> 3) & 15     # detune
    vo[:, :, 14] = ops[:, :, 13] & 3             # amp-mod sensitivity
    vo[:, :, 15] = (ops[:, :, 13] >> 2) & 7      # key-velocity sensitivity
    vo[:, :, 16] = ops[:, :, 14]                 # output level
    vo[:, :, 17] = ops[:, :, 15] & 1             # oscillator mode
    vo[:, :, 18] = (ops[:, :, 15] >> 1) & 31     # coarse
    vo[:, :, 19] = ops[:, :, 16]                 # fine
    out[:, 126:134] = p[:, 102:110]              # pitch EG rates and levels
    out[:, 134] = p[:, 110] & 31                 # algorithm
    out[:, 135] = p[:, 111] & 7                  # feedback
    out[:, 136] = (p[:, 111] >> 3) & 1           # oscillator key sync
    out[:, 137:141] = p[:, 112:116]              # LFO speed, delay, PMD, AMD
    out[:, 141] = p[:, 116] & 1                  # LFO key sync
    out[:, 142] = (p[:, 116] >> 1) & 7           # LFO wave
    out[:, 143] = (p[:, 116] >> 4) & 7           # pitch-mod sensitivity
    out[:, 144] = p[:, 117]                      # transpose
    out[:, 145:155] = p[:, 118:128]              # name
    if clamp:
        out = clamp_vced(out)[0]
    return out


def pack_vced(vced: np.ndarray) -> np.ndarray:
    """Pack 155-byte VCED rows into 128-byte voices (§1.4): ``uint8[N,155] -> uint8[N,128]``.

    Values are clamped to their ranges first, so the result is always valid packed data.
    """
    v = clamp_vced(_as_2d(vced, VCED_SIZE, "VCED voices"))[0]
    n = v.shape[0]
    out = np.zeros((n, PACKED_SIZE), dtype=np.uint8)
    ops = out[:, :102].reshape(n, 6, 17)
    vo = v[:, :126].reshape(n, 6, 21)
    ops[:, :, 0:11] = vo[:, :, 0:11]
    ops[:, :, 11] = vo[:, :, 11] | (vo[:, :, 12] << 2)
    ops[:, :, 12] = vo[:, :, 13] | (vo[:, :, 20] << 3)
    ops[:, :, 13] = vo[:, :, 14] | (vo[:, :, 15] << 2)
    ops[:, :, 14] = vo[:, :, 16]
    ops[:, :, 15] = vo[:, :, 17] | (vo[:, :, 18] << 1)
    ops[:, :, 16] = vo[:, :, 19]
    out[:, 102:110] = v[:, 126:134]
    out[:, 110] = v[:, 134]
    out[:, 111] = v[:, 135] | (v[:, 136] << 3)
    out[:, 112:116] = v[:, 137:141]
    out[:, 116] = v[:, 141] | (v[:, 142] << 1) | (v[:, 143] << 4)
    out[:, 117] = v[:, 144]
    out[:, 118:128] = v[:, 145:155]
    return out


def clamp_vced(vced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clamp VCED rows to the §1.5 ranges: ``uint8[N,155] -> (clamped uint8[N,155], changed bool[N,155])``.

    Values above a parameter's maximum become the maximum (the §1.7 recommendation); name
    characters above 127 lose their high bit. Negative or non-integer input is rejected.
    """
    arr = _as_2d(vced, VCED_SIZE, "VCED voices")
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"VCED values must be integers, got {arr.dtype}")
        if arr.size and (np.min(arr) < 0 or np.max(arr) > 255):
            raise ValueError("VCED values must be in 0..255")
        arr = arr.astype(np.uint8)
    clamped = np.minimum(arr, VCED_MAX)
    clamped[:, NAME_OFFSET:] = arr[:, NAME_OFFSET:] & 0x7F
    return clamped, clamped != arr


def vced_hashes(vced: np.ndarray, include_name: bool = True) -> list[str]:
    """:meth:`Voice.content_hash` of every row of a (clamped) ``uint8[N,155]`` array."""
    arr = np.ascontiguousarray(_as_2d(vced, VCED_SIZE, "VCED voices"), dtype=np.uint8)
    width = VCED_SIZE if include_name else NAME_OFFSET
    flat = np.ascontiguousarray(arr[:, :width]).tobytes()
    return [_digest(flat[i:i + width]) for i in range(0, len(flat), width)]


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


# --------------------------------------------------------------------------------------------
# Named access
# --------------------------------------------------------------------------------------------

def _check(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, (np.integer,)):
        value = int(value)
    if not isinstance(value, int):
        raise ValueError(f"{name} must be an integer {lo}..{hi}, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be {lo}..{hi}, got {value}")
    return value


def _op_property(pname: str) -> property:
    k = OP_INDEX[pname]
    mx = OP_PARAMS[k][1]

    def fget(self: "Operator") -> int:
        return self._voice._data[self._base + k]

    def fset(self: "Operator", value: int) -> None:
        self._voice._data[self._base + k] = _check(f"OP{self.number} {pname}", value, 0, mx)

    return property(fget, fset, doc=f"{pname.replace('_', ' ')} (0..{mx})")


class Operator:
    """A live view of one operator of a :class:`Voice` (``voice.op[1]`` .. ``voice.op[6]``).

    Attributes read and write the voice's data; setters check the range (fact sheet §1.5).
    """

    __slots__ = ("_voice", "number", "_base")

    def __init__(self, voice: "Voice", number: int) -> None:
        self._voice = voice
        self.number = number
        self._base = _op_base(number)

    @property
    def mode(self) -> str:
        """Oscillator mode: ``'ratio'`` or ``'fixed'`` (set with those strings or 0/1)."""
        return "fixed" if self._voice._data[self._base + 17] else "ratio"

    @mode.setter
    def mode(self, value: Union[str, int]) -> None:
        if isinstance(value, str):
            if value not in ("ratio", "fixed"):
                raise ValueError(f"OP{self.number} mode must be 'ratio' or 'fixed', got {value!r}")
            value = int(value == "fixed")
        self._voice._data[self._base + 17] = _check(f"OP{self.number} mode", value, 0, 1)

    @property
    def eg_rates(self) -> tuple[int, int, int, int]:
        """EG rates R1..R4 (0..99 each)."""
        b = self._base
        return tuple(self._voice._data[b:b + 4])  # type: ignore[return-value]

    @eg_rates.setter
    def eg_rates(self, values: Iterable[int]) -> None:
        self._set4(0, "EG rate", values)

    @property
    def eg_levels(self) -> tuple[int, int, int, int]:
        """EG levels L1..L4 (0..99 each)."""
        b = self._base + 4
        return tuple(self._voice._data[b:b + 4])  # type: ignore[return-value]

    @eg_levels.setter
    def eg_levels(self, values: Iterable[int]) -> None:
        self._set4(4, "EG level", values)

    def _set4(self, k: int, what: str, values: Iterable[int]) -> None:
        vals = list(values)
        if len(vals) != 4:
            raise ValueError(f"OP{self.number} {what}s need 4 values, got {len(vals)}")
        checked = [_check(f"OP{self.number} {what} {i + 1}", v, 0, 99) for i, v in enumerate(vals)]
        self._voice._data[self._base + k:self._base + k + 4] = bytes(checked)

    @property
    def enabled(self) -> bool:
        """Operator switched on (parameter 155; not stored in dumps)."""
        return bool(self._voice._op_on & (1 << (6 - self.number)))

    @enabled.setter
    def enabled(self, on: bool) -> None:
        bit = 1 << (6 - self.number)
        self._voice._op_on = (self._voice._op_on | bit) if on else (self._voice._op_on & ~bit)

    def __repr__(self) -> str:
        return (f"<OP{self.number} {self.mode} coarse={self.coarse} fine={self.fine} "
                f"detune={self.detune - 7:+d} level={self.output_level}>")


# One property per numeric operator parameter (op.r1, op.output_level, op.detune, ...).
for _p, _ in OP_PARAMS:
    if _p != "mode":
        setattr(Operator, _p, _op_property(_p))
del _p, _


def _global_property(pname: str, offset: int = 0, as_bool: bool = False) -> property:
    i = GLOBAL_INDEX[pname]
    mx = dict(GLOBAL_PARAMS)[pname]

    def fget(self: "Voice") -> int:
        v = self._data[i] + offset
        return bool(v) if as_bool else v

    def fset(self: "Voice", value: int) -> None:
        self._data[i] = _check(pname, value, offset, mx + offset) - offset

    lo, hi = offset, mx + offset
    return property(fget, fset, doc=f"{pname.replace('_', ' ')} ({lo}..{hi})")


class _Operators(Sequence[Operator]):
    """``voice.op[n]`` with n = 1..6 as on the panel; iterating yields OP1..OP6."""

    __slots__ = ("_ops",)

    def __init__(self, voice: "Voice") -> None:
        self._ops = tuple(Operator(voice, n) for n in range(1, 7))

    def __getitem__(self, n):  # type: ignore[override]
        if isinstance(n, slice):
            raise TypeError("use voice.op[n] with n = 1..6")
        if not isinstance(n, (int, np.integer)) or not 1 <= n <= 6:
            raise IndexError(f"operators are numbered 1..6 as on the DX7 panel, got {n!r}")
        return self._ops[n - 1]

    def __len__(self) -> int:
        return 6

    def __iter__(self) -> Iterator[Operator]:
        return iter(self._ops)


class Voice:
    """One DX7 voice: the 155 VCED parameters (§1.5) plus the operator on/off switches.

    ``Voice(vced)`` takes 155 (or 156) valid VCED bytes and raises ``ValueError`` for a value out
    of range, so a ``Voice`` is always valid; ``Voice()`` is INIT VOICE.

    Build one with :meth:`init` (the DX7's INIT VOICE), :meth:`from_vced`, :meth:`from_packed`
    or :meth:`from_vector`; read and edit it by name::

        v = Voice.init()
        v.algorithm = 5              # 1..32 as on the panel
        v.op[2].output_level = 80    # OP2 as printed on the panel
        v.name = "MY PIANO"
    """

    __slots__ = ("_data", "_op_on", "_ops")

    def __init__(self, vced: BytesLike | None = None, op_on: int = ALL_OPS_ON) -> None:
        if vced is None:
            self._data = bytearray(_INIT_VCED)
            self._op_on = ALL_OPS_ON
        else:
            data = _vced_bytes(vced)
            bad = np.flatnonzero(np.frombuffer(data[:VCED_SIZE], np.uint8) > _VCED_LIMIT)
            if len(bad):  # a Voice is always valid; from_vced(strict=False) clamps instead
                i = int(bad[0])
                raise ValueError(f"VCED parameter {i} ({PARAM_NAMES[i]}) is {data[i]}, above its maximum "
                                 f"{_VCED_LIMIT[i]}")
            self._data = bytearray(data[:VCED_SIZE])
            self._op_on = data[VCED_SIZE] & ALL_OPS_ON if len(data) == 156 else op_on & ALL_OPS_ON
        self._ops = _Operators(self)

    # ---- construction -----------------------------------------------------------------
    @classmethod
    def init(cls) -> "Voice":
        """The DX7's INIT VOICE (a new copy each call)."""
        return cls()

    @classmethod
    def from_vced(cls, data: BytesLike, strict: bool = True) -> "Voice":
        """A voice from 155 VCED bytes (or 156: the last is the operator on/off byte).

        Values outside their §1.5 range raise ``ValueError`` with ``strict`` (default);
        with ``strict=False`` they are clamped (see :func:`clamp_vced`).
        """
        raw = _vced_bytes(data)
        if not strict:
            raw = clamp_vced(np.frombuffer(raw[:VCED_SIZE], np.uint8))[0].tobytes() + raw[VCED_SIZE:]
        return cls(raw)  # the constructor rejects out-of-range values

    @classmethod
    def from_packed(cls, data: BytesLike) -> "Voice":
        """A voice from one 128-byte packed voice (§1.4); fields are masked and clamped."""
        raw = _flat_bytes(data)
        if len(raw) != PACKED_SIZE:
            raise ValueError(f"a packed voice is {PACKED_SIZE} bytes, got {len(raw)}")
        return cls(unpack_packed(np.frombuffer(raw, dtype=np.uint8))[0].tobytes())

    @classmethod
    def from_vector(cls, vector: Sequence[float], name: str = "") -> "Voice":
        """Inverse of :meth:`to_vector`: 145 floats in [0, 1] (clipped), rounded to the nearest step."""
        vec = np.asarray(vector, dtype=np.float64).ravel()
        if vec.shape[0] != N_VECTOR:
            raise ValueError(f"a voice vector has {N_VECTOR} values, got {vec.shape[0]}")
        if not np.all(np.isfinite(vec)):
            raise ValueError("a voice vector must be finite")
        vals = np.rint(np.clip(vec, 0.0, 1.0) * VCED_MAX[:N_VECTOR]).astype(np.uint8)
        v = cls(vals.tobytes() + b" " * NAME_LENGTH)
        v.name = name
        return v

    # ---- conversion ---------------------------------------------------------------------
    def to_vced(self) -> bytes:
        """The 155 VCED bytes (parameters 0..154, as in a single-voice dump)."""
        return bytes(self._data)

    def to_vced156(self) -> bytes:
        """The 155 VCED bytes plus the operator on/off byte (parameter 155)."""
        return bytes(self._data) + bytes([self._op_on])

    def to_packed(self) -> bytes:
        """The 128-byte packed form used inside a 32-voice bulk dump (§1.4)."""
        return pack_vced(np.frombuffer(bytes(self._data), dtype=np.uint8))[0].tobytes()

    def to_vector(self) -> np.ndarray:
        """The 145 non-name parameters in VCED order (:data:`VECTOR_NAMES`), each divided by its
        maximum: ``float32[145]`` in [0, 1]. The name and the operator on/off switches are not
        included (pass the name to :meth:`from_vector`; it sets all operators on)."""
        return (np.frombuffer(bytes(self._data[:N_VECTOR]), dtype=np.uint8).astype(np.float32)
                / VCED_MAX[:N_VECTOR].astype(np.float32))

    def content_hash(self, include_name: bool = True) -> str:
        """A stable hex digest (BLAKE2b-128) of the VCED bytes: all 155, or the first 145 without
        the name. The operator on/off switches are not included (they are not voice data)."""
        return _digest(bytes(self._data if include_name else self._data[:NAME_OFFSET]))

    def copy(self) -> "Voice":
        """An independent copy."""
        return Voice(self.to_vced156())

    # ---- named access ---------------------------------------------------------------------
    @property
    def op(self) -> _Operators:
        """Operators by panel number: ``v.op[1]`` .. ``v.op[6]``."""
        return self._ops

    @property
    def name(self) -> str:
        """The name for display: codes below 32 shown as spaces, trailing spaces removed."""
        return "".join(chr(c) if c >= 32 else " " for c in self._data[NAME_OFFSET:]).rstrip()

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str):
            raise ValueError(f"name must be a str, got {type(value).__name__}")
        if len(value) > NAME_LENGTH:
            raise ValueError(f"name {value!r} is longer than {NAME_LENGTH} characters")
        if any(not 32 <= ord(c) <= 127 for c in value):
            raise ValueError(f"name {value!r} must be ASCII characters 32..127")
        self._data[NAME_OFFSET:] = value.ljust(NAME_LENGTH).encode("ascii")

    @property
    def name_bytes(self) -> bytes:
        """The 10 stored name bytes, exactly."""
        return bytes(self._data[NAME_OFFSET:])

    @property
    def op_enabled(self) -> int:
        """Operator on/off byte (parameter 155): bit 5 = OP1 ... bit 0 = OP6."""
        return self._op_on

    algorithm = _global_property("algorithm", offset=1)
    feedback = _global_property("feedback")
    osc_key_sync = _global_property("osc_key_sync", as_bool=True)
    lfo_speed = _global_property("lfo_speed")
    lfo_delay = _global_property("lfo_delay")
    lfo_pitch_mod_depth = _global_property("lfo_pitch_mod_depth")
    lfo_amp_mod_depth = _global_property("lfo_amp_mod_depth")
    lfo_key_sync = _global_property("lfo_key_sync", as_bool=True)
    lfo_wave = _global_property("lfo_wave")
    pitch_mod_sensitivity = _global_property("pitch_mod_sensitivity")
    transpose = _global_property("transpose")
    pitch_eg_r1 = _global_property("pitch_eg_r1")
    pitch_eg_r2 = _global_property("pitch_eg_r2")
    pitch_eg_r3 = _global_property("pitch_eg_r3")
    pitch_eg_r4 = _global_property("pitch_eg_r4")
    pitch_eg_l1 = _global_property("pitch_eg_l1")
    pitch_eg_l2 = _global_property("pitch_eg_l2")
    pitch_eg_l3 = _global_property("pitch_eg_l3")
    pitch_eg_l4 = _global_property("pitch_eg_l4")

    @property
    def pitch_eg_rates(self) -> tuple[int, int, int, int]:
        """Pitch EG rates R1..R4 (0..99)."""
        return tuple(self._data[126:130])  # type: ignore[return-value]

    @pitch_eg_rates.setter
    def pitch_eg_rates(self, values: Iterable[int]) -> None:
        self._set_block(126, 4, 99, "pitch EG rate", values)

    @property
    def pitch_eg_levels(self) -> tuple[int, int, int, int]:
        """Pitch EG levels L1..L4 (0..99, 50 = no pitch offset)."""
        return tuple(self._data[130:134])  # type: ignore[return-value]

    @pitch_eg_levels.setter
    def pitch_eg_levels(self, values: Iterable[int]) -> None:
        self._set_block(130, 4, 99, "pitch EG level", values)

    def _set_block(self, start: int, n: int, mx: int, what: str, values: Iterable[int]) -> None:
        vals = list(values)
        if len(vals) != n:
            raise ValueError(f"{what}s need {n} values, got {len(vals)}")
        self._data[start:start + n] = bytes(_check(f"{what} {i + 1}", v, 0, mx) for i, v in enumerate(vals))

    @property
    def carriers(self) -> tuple[int, ...]:
        """The carrier operators of the current algorithm (§3)."""
        return CARRIERS[self.algorithm - 1]

    def summary(self) -> str:
        """A short character description: carriers, brightness, envelope, LFO."""
        d = self._data
        # Describe what sounds: carriers switched off or at output level 0 say nothing about it.
        carriers = tuple(n for n in self.carriers
                         if self.op[n].output_level > 0 and self.op[n].enabled) or self.carriers
        mods = [n for n in range(1, 7) if n not in self.carriers]
        mod_level = max((self.op[n].output_level for n in mods), default=0)
        bright = "pure" if mod_level < 50 else "mellow" if mod_level < 75 else "bright" if mod_level < 88 else "harsh"
        c1 = self.op[carriers[0]]
        attack = "slow attack" if c1.r1 < 50 else "fast attack"
        sustained = "sustained" if max(self.op[n].l3 for n in carriers) >= 70 else "decaying"
        fixed = sum(1 for o in self.op if o.mode == "fixed")
        parts = [f"{len(carriers)} carrier{'s' if len(carriers) > 1 else ''}", bright, attack, sustained]
        if fixed:
            parts.append(f"{fixed} fixed-freq op{'s' if fixed > 1 else ''}")
        if d[139] and d[143]:
            parts.append("vibrato")
        if self.transpose != 24:
            parts.append(f"transpose {self.transpose - 24:+d}")
        return ", ".join(parts)

    # ---- dunder ------------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Voice):
            return NotImplemented
        return self._data == other._data and self._op_on == other._op_on

    __hash__ = None  # type: ignore[assignment]  # mutable: use content_hash() as a key

    def __repr__(self) -> str:
        return f"Voice({self.name!r}, algorithm={self.algorithm}, feedback={self.feedback}, hash={self.content_hash()[:8]})"

    def __getitem__(self, param: Union[int, str]) -> int:
        """Raw VCED value by parameter number (0..154) or :data:`PARAM_NAMES` entry."""
        i = PARAM_NAMES.index(param) if isinstance(param, str) else int(param)
        if not 0 <= i < VCED_SIZE:
            raise IndexError(f"VCED parameter number must be 0..154, got {param}")
        return self._data[i]

    def __reduce__(self):
        return (Voice, (self.to_vced156(),))


def _flat_bytes(data: BytesLike) -> bytes:
    """bytes, or a flat sequence / array of integers 0..255, as bytes."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    arr = np.asarray(data)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer) or arr.size and (arr.min() < 0 or arr.max() > 255):
        raise ValueError("voice data must be bytes or a flat sequence of integers 0..255")
    return arr.astype(np.uint8).tobytes()


def _vced_bytes(data: BytesLike) -> bytes:
    raw = _flat_bytes(data)
    if len(raw) not in (VCED_SIZE, VCED_SIZE + 1):
        raise ValueError(f"VCED data is {VCED_SIZE} bytes (or 156 with the operator on/off byte), got {len(raw)}")
    return raw


def _make_init() -> bytes:
    """INIT VOICE as in the DX7 manual."""
    d = bytearray(VCED_SIZE)
    for n in range(1, 7):
        b = _op_base(n)
        d[b:b + 8] = bytes([99, 99, 99, 99, 99, 99, 99, 0])
        d[b + 8] = 39                  # breakpoint C3
        d[b + 16] = 99 if n == 1 else 0
        d[b + 18] = 1                  # coarse 1
        d[b + 20] = 7                  # detune centre
    d[126:134] = bytes([99, 99, 99, 99, 50, 50, 50, 50])
    d[134] = 0                          # algorithm 1
    d[136] = 1                          # oscillator key sync on
    d[137] = 35                         # LFO speed
    d[141] = 1                          # LFO key sync on
    d[142] = 0                          # triangle
    d[143] = 3                          # PMS
    d[144] = 24                         # transpose C3
    d[NAME_OFFSET:] = b"INIT VOICE"
    return bytes(d)


_INIT_VCED = _make_init()
#: The DX7's INIT VOICE as 155 VCED bytes (use ``Voice.init()`` for an editable voice).
INIT_VOICE_VCED = _INIT_VCED


def __getattr__(name: str) -> object:
    if name == "INIT_VOICE":  # a fresh copy each time: voices are mutable
        return Voice.init()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _build_labels() -> list[str]:
    """Readable label of each VCED parameter for messages ("output level of OP3")."""
    op_words = {"r1": "EG rate R1", "r2": "EG rate R2", "r3": "EG rate R3", "r4": "EG rate R4",
                "l1": "EG level L1", "l2": "EG level L2", "l3": "EG level L3", "l4": "EG level L4",
                "mode": "oscillator mode", "coarse": "frequency coarse", "fine": "frequency fine"}
    labels = []
    for n in range(6, 0, -1):
        for pname, _ in OP_PARAMS:
            labels.append(f"{op_words.get(pname, pname.replace('_', ' '))} of OP{n}")
    for pname, _ in GLOBAL_PARAMS:
        labels.append(pname.replace("pitch_eg_r", "pitch EG rate R").replace("pitch_eg_l", "pitch EG level L")
                      .replace("lfo_", "LFO ").replace("osc_", "oscillator ").replace("_", " "))
    labels += [f"name character {i + 1}" for i in range(NAME_LENGTH)]
    return labels


#: Readable label of each of the 155 VCED parameters, for warnings.
PARAM_LABELS = _build_labels()
