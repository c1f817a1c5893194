"""Build DX7 voices as 155 VCED bytes for the engine tests (layout: DX7-FACTS §1.5).

A voice here is a plain ``list`` of 155 ints in VCED order, so tests can poke any byte (including
out-of-range garbage). Operators are numbered 1..6 as on the panel; the VCED block of OPn starts at
``21 * (6 - n)`` (OP6 first).
"""
from __future__ import annotations

# offsets inside an operator's 21-byte block (§1.5)
OP_FIELDS = {
    "r1": 0, "r2": 1, "r3": 2, "r4": 3, "l1": 4, "l2": 5, "l3": 6, "l4": 7,
    "bp": 8, "ld": 9, "rd": 10, "lc": 11, "rc": 12, "rs": 13, "ams": 14, "kvs": 15,
    "ol": 16, "mode": 17, "coarse": 18, "fine": 19, "detune": 20,
}
# voice-global parameter numbers (§1.5)
VOICE_FIELDS = {
    "pr1": 126, "pr2": 127, "pr3": 128, "pr4": 129, "pl1": 130, "pl2": 131, "pl3": 132, "pl4": 133,
    "algorithm": 134, "feedback": 135, "osc_sync": 136, "lfo_speed": 137, "lfo_delay": 138,
    "pmd": 139, "amd": 140, "lfo_sync": 141, "lfo_wave": 142, "pms": 143, "transpose": 144,
}

# The DX7's INIT VOICE: only OP1 audible, EG 99/99/99/99 - 99/99/99/0, pitch EG flat at 50.
_INIT_OP = [99, 99, 99, 99, 99, 99, 99, 0, 39, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 7]


def op_offset(n: int) -> int:
    """VCED offset of operator n's block (n = 1..6 as on the panel)."""
    if not 1 <= n <= 6:
        raise ValueError(f"operator number must be 1..6, got {n}")
    return 21 * (6 - n)


def init_voice(name: str = "INIT VOICE") -> list[int]:
    """INIT VOICE: algorithm 1, OP1 at output level 99, the others at 0."""
    v: list[int] = []
    for _ in range(6):
        v += _INIT_OP
    v += [99, 99, 99, 99, 50, 50, 50, 50]          # pitch EG
    v += [0, 0, 1]                                  # algorithm 1, feedback 0, osc key sync on
    v += [35, 0, 0, 0, 1, 0, 3]                     # LFO speed, delay, PMD, AMD, sync, wave, PMS
    v += [24]                                       # transpose: none
    v += list(name.ljust(10)[:10].encode("ascii"))
    assert len(v) == 155
    set_op(v, 1, ol=99)
    return v


def set_op(v: list[int], n: int, **fields: int) -> list[int]:
    """Set operator n's fields by name (see OP_FIELDS); EG lists via rates=(..4) / levels=(..4)."""
    base = op_offset(n)
    rates = fields.pop("rates", None)
    levels = fields.pop("levels", None)
    if rates is not None:
        v[base:base + 4] = list(rates)
    if levels is not None:
        v[base + 4:base + 8] = list(levels)
    for key, value in fields.items():
        v[base + OP_FIELDS[key]] = int(value)
    return v


def set_voice(v: list[int], **fields: int) -> list[int]:
    """Set voice-global fields by name (see VOICE_FIELDS); pitch EG via prates= / plevels=.

    ``algorithm`` is given as displayed (1..32) and stored as 0..31.
    """
    prates = fields.pop("prates", None)
    plevels = fields.pop("plevels", None)
    if prates is not None:
        v[126:130] = list(prates)
    if plevels is not None:
        v[130:134] = list(plevels)
    if "algorithm" in fields:
        fields["algorithm"] = int(fields["algorithm"]) - 1
    for key, value in fields.items():
        v[VOICE_FIELDS[key]] = int(value)
    return v


def vced(v: list[int]) -> bytes:
    """The voice as 155 bytes (values must already fit in a byte)."""
    return bytes(v)


def single_carrier(ratio_coarse: int = 1, fine: int = 0, fixed: bool = False, level: int = 99,
                   detune: int = 7, algorithm: int = 32, **op_fields: int) -> list[int]:
    """One audible operator (OP1) and nothing else: algorithm 32 so OP1 is a plain carrier."""
    v = init_voice()
    set_voice(v, algorithm=algorithm)
    set_op(v, 1, coarse=ratio_coarse, fine=fine, mode=1 if fixed else 0, ol=level, detune=detune,
           **op_fields)
    return v


def only_ops(algorithm: int, on: set[int] | frozenset[int], level: int = 99, **voice_fields) -> list[int]:
    """All six operators at output level ``level`` if in ``on``, else 0; the given algorithm."""
    v = init_voice()
    set_voice(v, algorithm=algorithm, **voice_fields)
    for n in range(1, 7):
        set_op(v, n, ol=level if n in on else 0)
    return v


def render(v: list[int] | bytes, note: int = 60, velocity: int = 100, hold: float = 0.5,
           total: float | None = None, sr: int = 48000):
    """Render one note of voice v through the public API (dx7live.render_note)."""
    import dx7live
    data = bytes(v)
    return dx7live.render_note(data, note=note, velocity=velocity, note_duration=hold,
                               duration=hold if total is None else total, sample_rate=sr)


def synth(v: list[int] | bytes, sr: int = 48000, polyphony: int = 16):
    """A dx7live.Synth with voice v loaded."""
    import dx7live
    s = dx7live.Synth(sr, polyphony)
    s.load_voice(bytes(v))
    return s
