"""Expected values for the engine tests, computed from the fact sheet (/work/shared/DX7-FACTS.md).

Nothing here comes from the engine: every table is the sheet's (section cited next to it) and every
function is the sheet's formula. Units follow the sheet: pitch in 4096 units per octave, EG levels in
"µsteps" (256 per 6.02 dB), operator level registers in 0.375 dB units.
"""
from __future__ import annotations

import math

# §0.3 / §6.3: the EGS model is clocked at the DX7's own sample rate
DX7_RATE = 49096.0
# §0.3, §8.2: the CPU tick the LFO really runs at (Dexed's measured LFO table implies it)
TICK_HZ = 372.27
USTEP_DB = 20 * math.log10(2) / 256          # one EG µstep in dB (§0.3)

# A1 TABLE_LOG: output/EG level -> attenuation in 0.75 dB units
TABLE_LOG = [127, 122, 118, 114, 110, 107, 104, 102, 100, 98, 96, 94, 92, 90, 88, 86, 85, 84, 82, 81] + \
    [99 - x for x in range(20, 100)]
# A2 keyboard level scaling curves (36 entries each)
KLS_EXP = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 14, 16, 19, 23, 28, 33, 39, 47, 57, 67, 80, 95, 113, 134,
           160, 190, 224, 255, 255, 255, 255, 255, 255, 255, 255]
KLS_LIN = [0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 136, 144, 152, 160, 168,
           178, 184, 192, 200, 208, 216, 224, 232, 240, 248, 255, 255, 255, 255]
# A3 coarse frequency (4096 per octave)
COARSE = [-4096, 0, 4096, 6492, 8192, 9512, 10588, 11500, 12288, 12984, 13608, 14170, 14684, 15156,
          15596, 16004, 16384, 16744, 17080, 17400, 17704, 17992, 18266, 18528, 18780, 19020, 19252,
          19476, 19692, 19898, 20100, 20292]
# A4 fine frequency, ratio mode
FINE = [0, 58, 117, 174, 231, 288, 344, 399, 454, 509, 563, 616, 669, 722, 774, 825, 877, 927, 978, 1027,
        1077, 1126, 1175, 1223, 1271, 1318, 1365, 1412, 1458, 1504, 1550, 1595, 1640, 1685, 1729, 1773,
        1817, 1860, 1903, 1945, 1988, 2030, 2072, 2113, 2154, 2195, 2236, 2276, 2316, 2356, 2396, 2435,
        2474, 2513, 2551, 2589, 2627, 2665, 2703, 2740, 2777, 2814, 2850, 2887, 2923, 2959, 2994, 3030,
        3065, 3100, 3135, 3170, 3204, 3239, 3273, 3306, 3340, 3374, 3407, 3440, 3473, 3506, 3538, 3571,
        3603, 3635, 3667, 3698, 3730, 3761, 3792, 3823, 3854, 3885, 3916, 3946, 3976, 4006, 4036, 4066]
FIXED = [0, 13606, 27212, 40820]              # §4.3
# A5 pitch EG rate, A6 pitch EG level
PEG_RATE = [1, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15,
            16, 16, 17, 18, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 30, 31, 33, 34, 36, 37, 38, 39,
            41, 42, 44, 46, 47, 49, 51, 53, 54, 56, 58, 60, 62, 64, 66, 68, 70, 72, 74, 76, 79, 82, 85,
            88, 91, 94, 98, 102, 106, 110, 115, 120, 125, 130, 135, 141, 147, 153, 159, 165, 171, 178,
            185, 193, 202, 211, 232, 243, 254, 255]
PEG_LEVEL = [0, 12, 24, 33, 43, 52, 60, 67, 72, 76, 79, 82, 85, 87, 89, 91, 93, 95, 96, 97] + \
    list(range(98, 164)) + [166, 168, 171, 174, 177, 181, 186, 193, 201, 210, 220, 231, 243, 255]
# A7 TABLE_AMP_MOD (index = 255 - linear AM amount)
AMP_MOD = [
    255, 255, 224, 205, 192, 181, 173, 166, 160, 154, 149, 145, 141, 137, 134, 130,
    128, 125, 122, 120, 117, 115, 113, 111, 109, 107, 105, 103, 102, 100, 98, 97,
    96, 94, 93, 91, 90, 89, 88, 86, 85, 84, 83, 82, 81, 80, 79, 78,
    77, 76, 75, 74, 73, 72, 71, 70, 70, 69, 68, 67, 66, 66, 65, 64,
    64, 63, 62, 61, 61, 60, 59, 59, 58, 57, 57, 56, 56, 55, 54, 54,
    53, 53, 52, 51, 51, 50, 50, 49, 49, 48, 48, 47, 47, 46, 46, 45,
    45, 44, 44, 43, 43, 42, 42, 42, 41, 41, 40, 40, 39, 39, 38, 38,
    38, 37, 37, 36, 36, 36, 35, 35, 34, 34, 34, 33, 33, 33, 32, 32,
    32, 31, 31, 30, 30, 30, 29, 29, 29, 28, 28, 28, 27, 27, 27, 26,
    26, 26, 25, 25, 25, 24, 24, 24, 24, 23, 23, 23, 22, 22, 22, 21,
    21, 21, 21, 20, 20, 20, 19, 19, 19, 19, 18, 18, 18, 18, 17, 17,
    17, 17, 16, 16, 16, 16, 15, 15, 15, 15, 14, 14, 14, 14, 13, 13,
    13, 13, 12, 12, 12, 12, 11, 11, 11, 11, 10, 10, 10, 10, 9, 9,
    9, 9, 8, 8, 8, 8, 8, 7, 7, 7, 7, 6, 6, 6, 6, 6,
    5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 2,
    2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
# A12 velocity tables
MIDI_VEL = [110, 100, 90, 85, 80, 75, 70, 65, 58, 54, 50, 46, 42, 38, 34, 30, 28, 26, 24, 22, 20, 18, 16,
            14, 12, 10, 8, 6, 4, 2, 1, 0]
VEL_SCALE = [0, 4, 12, 21, 30, 40, 46, 52, 58, 64, 70, 76, 82, 88, 94, 100, 103, 106, 109, 112, 114, 116,
             118, 120, 122, 124, 126, 128, 130, 131, 132, 133]
PMS_T = [0, 10, 20, 33, 55, 92, 153, 255]     # §8.5
AMS_FACTOR = [0, 66, 109, 255]                # §8.6 recommendation (msfa ampmodsenstab), out of 255
# A13 pitch-bend input table
PITCH_BEND = list(range(0, 41)) + list(range(42, 65)) + [64, 64] + list(range(65, 87)) + \
    list(range(88, 128))
BEND_CENTS = [0, 22, 43, 65, 86, 107, 129, 151, 172, 194, 215, 236, 255]  # §8.7
BEND_STEP = {1: (25, 1365), 2: (13, 2730), 3: (9, 4096), 4: (7, 5461), 5: (5, 6826), 6: (5, 8192),
             7: (3, 9557), 8: (3, 10922), 9: (3, 12288), 10: (3, 13653), 11: (3, 15018), 12: (3, 16383)}
# §3: carriers of each algorithm (index = algorithm 1..32)
CARRIERS = {
    1: {1, 3}, 2: {1, 3}, 3: {1, 4}, 4: {1, 4}, 5: {1, 3, 5}, 6: {1, 3, 5}, 7: {1, 3}, 8: {1, 3},
    9: {1, 3}, 10: {1, 4}, 11: {1, 4}, 12: {1, 3}, 13: {1, 3}, 14: {1, 3}, 15: {1, 3}, 16: {1},
    17: {1}, 18: {1}, 19: {1, 4, 5}, 20: {1, 2, 4}, 21: {1, 2, 4, 5}, 22: {1, 3, 4, 5},
    23: {1, 2, 4, 5}, 24: {1, 2, 3, 4, 5}, 25: {1, 2, 3, 4, 5}, 26: {1, 2, 4}, 27: {1, 2, 4},
    28: {1, 3, 6}, 29: {1, 2, 3, 5}, 30: {1, 2, 3, 6}, 31: {1, 2, 3, 4, 5}, 32: {1, 2, 3, 4, 5, 6},
}
# §3: modulation edges (a, b) = "OPa's output is added to OPb's phase" (feedback loops excluded)
_E = {
    "6543_21": [(6, 5), (5, 4), (4, 3), (2, 1)],
    "654_321": [(6, 5), (5, 4), (3, 2), (2, 1)],
    "65_43_21": [(6, 5), (4, 3), (2, 1)],
    "65_(54)3_21": [(6, 5), (5, 3), (4, 3), (2, 1)],
    "321_(65)4": [(3, 2), (2, 1), (6, 4), (5, 4)],
    "21_(654)3": [(2, 1), (6, 3), (5, 3), (4, 3)],
    "21_(65)43": [(2, 1), (6, 4), (5, 4), (4, 3)],
    "65_43_(532)1": [(6, 5), (4, 3), (5, 1), (3, 1), (2, 1)],
}
EDGES = {
    1: _E["6543_21"], 2: _E["6543_21"], 3: _E["654_321"], 4: _E["654_321"],
    5: _E["65_43_21"], 6: _E["65_43_21"], 7: _E["65_(54)3_21"], 8: _E["65_(54)3_21"],
    9: _E["65_(54)3_21"], 10: _E["321_(65)4"], 11: _E["321_(65)4"], 12: _E["21_(654)3"],
    13: _E["21_(654)3"], 14: _E["21_(65)43"], 15: _E["21_(65)43"], 16: _E["65_43_(532)1"],
    17: _E["65_43_(532)1"], 18: [(6, 5), (5, 4), (4, 1), (3, 1), (2, 1)],
    19: [(3, 2), (2, 1), (6, 4), (6, 5)], 20: [(3, 1), (3, 2), (6, 4), (5, 4)],
    21: [(3, 1), (3, 2), (6, 4), (6, 5)], 22: [(2, 1), (6, 3), (6, 4), (6, 5)],
    23: [(3, 2), (6, 4), (6, 5)], 24: [(6, 3), (6, 4), (6, 5)], 25: [(6, 4), (6, 5)],
    26: [(3, 2), (6, 4), (5, 4)], 27: [(3, 2), (6, 4), (5, 4)], 28: [(2, 1), (5, 4), (4, 3)],
    29: [(4, 3), (6, 5)], 30: [(5, 4), (4, 3)], 31: [(6, 5)], 32: [],
}
# §3: the operator with self-feedback; algorithms 4 and 6 feed OP4 / OP5 back into OP6 instead
FEEDBACK_OP = {1: 6, 2: 2, 3: 6, 4: 6, 5: 6, 6: 6, 7: 6, 8: 4, 9: 2, 10: 3, 11: 6, 12: 2, 13: 6, 14: 6,
               15: 2, 16: 6, 17: 2, 18: 3, 19: 6, 20: 3, 21: 3, 22: 6, 23: 6, 24: 6, 25: 6, 26: 6,
               27: 3, 28: 5, 29: 6, 30: 5, 31: 6, 32: 6}
FEEDBACK_LOOP = {4: 4, 6: 5}                  # algorithm -> operator whose output feeds OP6


def downstream(alg: int, op: int) -> set[int]:
    """Operators that op's output reaches (directly or through others) in algorithm alg."""
    out: set[int] = set()
    todo = [op]
    while todo:
        a = todo.pop()
        for x, y in EDGES[alg]:
            if x == a and y not in out:
                out.add(y)
                todo.append(y)
    return out


# ---- pitch (§4) ---------------------------------------------------------------------------------

def key_code(k: int) -> int:
    """§4.1 step 2: TABLE_MIDI_KEY_TO_LOG_F[k] by its closed form."""
    s = max(k - 1, 0)
    o, n = divmod(s, 12)
    return 16 * o + n + n // 3


def transposed_key(note: int, transpose: int = 24) -> int:
    """§4.1 step 1, including the 8-bit wrap of keys transposed below 0 to the top key."""
    k = (note + transpose - 24) & 0xFF
    return 127 if k > 127 else k


def voice_pitch(note: int, transpose: int = 24, peg: int = 0x4000, tune: int = 0) -> int:
    """§4.1 steps 3-4 (+ §4.5): the 16-bit voice pitch word; ``tune`` in -256..255 units."""
    kc = key_code(transposed_key(note, transpose))
    p = 256 * kc + 84 * (kc & 3)
    return max(p + peg - 0x1BA8, 0) + 0x100 + tune


def ratio_op_word(coarse: int, fine: int) -> int:
    """§4.2: operator pitch word, ratio mode (bit 0 cleared)."""
    return (0x232C + COARSE[coarse] + FINE[fine]) & ~1


def fixed_op_word(coarse: int, fine: int) -> int:
    """§4.3: operator pitch word, fixed mode (value part; the flag bit is not pitch)."""
    return 0x16AC + FIXED[coarse & 3] + 136 * fine


def pitch_hz(x: float) -> float:
    """§4.2: frequency of the EGS pitch sum x (4096 units per octave)."""
    return 2.0 ** ((x - 5804) / 4096.0)


def egs_quantise(word: int) -> int:
    """§4.2 / §10.1: the EGS keeps 14 bits (bits 15..2): anything below 4 units is dropped."""
    return word & ~3


def ratio_hz(note: int, coarse: int = 1, fine: int = 0, transpose: int = 24, tune: int = 0,
             peg: int = 0x4000) -> float:
    """Expected frequency of a ratio-mode operator at detune centre."""
    return pitch_hz(egs_quantise(voice_pitch(note, transpose, peg, tune)) +
                    egs_quantise(ratio_op_word(coarse, fine)))


def fixed_hz(coarse: int, fine: int) -> float:
    """Expected frequency of a fixed-mode operator: 10^(c mod 4) * 10^(f/100) Hz (§4.3)."""
    return pitch_hz(egs_quantise(fixed_op_word(coarse, fine)))


def detune_cents_dexed(note_hz: float, detune: int) -> float:
    """§4.4 Dexed's measured curve: cents of detune for a note of frequency note_hz."""
    L = math.log2(note_hz)
    return 1200.0 * 0.0209 * math.exp(-0.396 * L) / 7.0 * L * (detune - 7)


def cents(f: float, ref: float) -> float:
    return 1200.0 * math.log2(f / ref)


# ---- amplitude (§5) -----------------------------------------------------------------------------

def vel_att(kvs: int, velocity: int) -> int:
    """§5.2: velocity attenuation in 0.375 dB units (MIDI input path)."""
    iv = MIDI_VEL[velocity >> 2]
    scale = VEL_SCALE[iv >> 2]
    return min(255, ((32 * kvs * scale) >> 8) + 15 - 2 * kvs)


def kls_value(op: dict, key_code_j: int) -> int:
    """§5.3: stored KLS value (0..254, 0.375 dB units) for key group j, operator fields op
    (keys ol, bp, ld, rd, lc, rc). Index overflow past 35 continues into the next ROM table."""
    exp_ext = KLS_EXP + KLS_LIN          # EXP is followed by LIN in ROM
    lin_ext = KLS_LIN + TABLE_LOG        # LIN is followed by TABLE_LOG
    b = key_code(op["bp"] + 20) >> 2
    i = key_code_j + 1
    if i > b:
        curve, depth, idx = op["rc"], op["rd"], i - b
    else:
        curve, depth, idx = op["lc"], op["ld"], b - i
    table = lin_ext if curve in (0, 3) else exp_ext
    v = (table[idx] * ((depth * 660) >> 8)) >> 8
    v = min(v, 127)
    a = TABLE_LOG[op["ol"]]
    a = min(a + v, 127) if curve in (0, 1) else max(a - v, 0)
    return 2 * a


def operator_level(op: dict, note: int, velocity: int, transpose: int = 24, eg_level: int = 99) -> int:
    """§5.4: EG level in µsteps (3840 = full scale) that a held operator settles at."""
    j = key_code(transposed_key(note, transpose)) >> 2
    oplvl = max(4, min(255, kls_value(op, j) + vel_att(op.get("kvs", 0), velocity)))
    return max(16, 4080 - 64 * (TABLE_LOG[eg_level] >> 1) - 16 * oplvl)


def level_db(ustep_level: float) -> float:
    """dB of an EG level relative to full scale (3840)."""
    return (ustep_level - 3840) * USTEP_DB


def default_op(**kw) -> dict:
    op = {"ol": 99, "bp": 39, "ld": 0, "rd": 0, "lc": 0, "rc": 0, "kvs": 0}
    op.update(kw)
    return op


# ---- envelope (§6) ------------------------------------------------------------------------------

def qrate(rate: int) -> int:
    return (rate * 41) >> 6


def decay_db_per_s(q: int) -> float:
    """§6.3: falling segment slope in dB/s (independent of the output sample rate)."""
    return (4 + (q & 3)) / 8 * 2 ** (q >> 2) / 2048 * DX7_RATE * USTEP_DB


def rate_scaling_delta(rs: int, note: int) -> int:
    """§6.4: rate added by keyboard rate scaling (note = transposed MIDI note)."""
    x = min(max(note // 3 - 7, 0), 31)
    return (rs * x) >> 3


def attack_time(q: int, start: float, target: float) -> float:
    """§6.3: seconds for a rising segment from µstep level start to target (average-speed model,
    including the instant jump to 1716)."""
    per_sample = (4 + (q & 3)) / 8 * 2 ** min((q >> 2) - 11, 0)   # active fraction of samples
    shift = max((q >> 2) - 11, 0)
    lev = max(start, 1716.0)
    n = 0.0
    while lev < target:
        lev += (2 + ((3840 - int(lev)) >> 8)) * (1 << shift)
        n += 1.0 / per_sample
    return n / DX7_RATE


def attack_level_at(q: int, t: float, start: float = 0.0, target: float = 3840.0) -> float:
    """µstep level a rising segment reaches after t seconds (same model as attack_time)."""
    per_sample = (4 + (q & 3)) / 8 * 2 ** min((q >> 2) - 11, 0)
    shift = max((q >> 2) - 11, 0)
    lev = max(start, 1716.0)
    steps = int(t * DX7_RATE * per_sample)
    for _ in range(steps):
        if lev >= target:
            return target
        lev += (2 + ((3840 - int(lev)) >> 8)) * (1 << shift)
    return min(lev, target)


# ---- pitch EG (§7) ------------------------------------------------------------------------------

def peg_offset_octaves(level: int) -> float:
    """§7: pitch offset of a pitch-EG level (1/32 octave per table step)."""
    return (PEG_LEVEL[level] - 128) / 32.0


def peg_speed_oct_per_s(rate: int, tick_hz: float = TICK_HZ) -> float:
    """§7: pitch EG speed, updated every second tick."""
    return PEG_RATE[rate] * (tick_hz / 2) / 4096.0


# ---- LFO and modulation (§8) --------------------------------------------------------------------

def lfo_increment(speed: int) -> int:
    if speed == 0:
        return 11
    a = (speed * 660) >> 8
    return a * 11 if a < 160 else a * (11 + ((a - 160) >> 2))


def lfo_hz(speed: int, tick_hz: float = TICK_HZ) -> float:
    return lfo_increment(speed) * tick_hz / 65536.0


def lfo_delay_ticks(delay: int) -> tuple[int, int]:
    """§8.3: (ticks until the delay counter overflows, ticks of fade-in to 255)."""
    a = 99 - delay
    d = (16 + (a & 15)) << (2 + (a >> 4))
    acc, wait = 0, 0
    while acc <= 0xFFFF:
        acc += d
        wait += 1
    fade, ramp = 0, 0
    while fade < 255:
        fade = min(255, fade + max(1, d >> 8))
        ramp += 1
    return wait, ramp


def pitch_mod_units(s: int, pmd: int, pms: int, fade: int = 255, controller_p: int = 0) -> int:
    """§8.5: pitch-mod register value (16384 per octave) for LFO output s (-128..127)."""
    pmd8 = (pmd * 660) >> 8
    p = min(255, ((fade * pmd8) >> 8) + controller_p)
    q = (abs(s) * PMS_T[pms]) >> 8
    mag = (q * p) >> 1
    return mag if s >= 0 else -mag


def am_attenuation_db(s: int, amd: int, ams: int, fade: int = 255, controller_a: int = 0) -> float:
    """§8.6 (no EG bias): attenuation in dB an operator with sensitivity ams gets at LFO output s."""
    amd8 = (amd * 660) >> 8
    a1 = min(255, ((fade * amd8) >> 8) + controller_a)
    u = 127 - s
    a3 = min(255, (a1 * u) >> 8)
    amreg = AMP_MOD[255 - a3]
    return 8 * amreg * AMS_FACTOR[ams] / 255 * USTEP_DB


def controller_scaled(range_: int, value7: int) -> int:
    """§8.8: a controller's scaled input for function range 0..99 and MIDI data 0..127."""
    return (((range_ * 660) >> 8) * (value7 * 2)) >> 8


def pitch_bend_units(value14: int, range_: int, step: int = 0) -> int:
    """§8.7: pitch-bend part of the pitch-mod register (16384 per octave)."""
    x = PITCH_BEND[(value14 >> 7) & 0x7F]
    b = ((x << 1) ^ 0x80) & 0xFF
    b = b - 256 if b >= 128 else b
    if step:
        mult, size = BEND_STEP[step]
        n = (abs(b) * mult) >> 8
        return n * size if b >= 0 else -n * size
    if range_ == 12:
        return 0x3FFF if b == 126 else b * 128
    if b >= 0:
        return ((2 * b) * BEND_CENTS[range_]) >> 2
    nb = ~b & 0xFF
    return ~(((2 * nb) * BEND_CENTS[range_]) >> 2)


def pitch_mod_cents(units: float) -> float:
    return units / 16384.0 * 1200.0


# §6.5 / A14: Dexed's measured hold for a segment whose start and target levels are equal, in
# samples at 44.1 kHz, index min(99, R + rate-scaling delta); rates >= 77 hold 20 * (99 - R).
STATICS_44K = [1764000, 1764000, 1411200, 1411200, 1190700, 1014300, 992250, 882000, 705600, 705600,
               584325, 507150, 502740, 441000, 418950, 352800, 308700, 286650, 253575, 220500, 220500,
               176400, 145530, 145530, 125685, 110250, 110250, 88200, 88200, 74970, 61740, 61740,
               55125, 48510, 44100, 37485, 31311, 30870, 27562, 27562, 22050, 18522, 17640, 15435,
               14112, 13230, 11025, 9261, 9261, 7717, 6615, 6615, 5512, 5512, 4410, 3969, 3969, 3439,
               2866, 2690, 2249, 1984, 1896, 1808, 1411, 1367, 1234, 1146, 926, 837, 837, 705, 573,
               573, 529, 441, 441]


def static_hold_seconds(rate: int) -> float:
    r = min(99, rate)
    samples = 20 * (99 - r) if r >= 77 else STATICS_44K[r]
    return samples / 44100.0


# ---- portamento (§11.4) -------------------------------------------------------------------------

def key_pitch(note: int, transpose: int = 24) -> int:
    """§4.1 step 3: the 16-bit key pitch P of a (transposed) note."""
    kc = key_code(transposed_key(note, transpose))
    return 256 * kc + 84 * (kc & 3)


def portamento_track(time: int, start: int, target: int, updates: int) -> list[int]:
    """§11.4: key pitch after each portamento update (every second tick), from start to target."""
    r = PEG_RATE[99 - time]
    cur, out = start, []
    for _ in range(updates):
        d = target - cur
        step = r * (1 + abs(d) // 1024)
        cur = target if abs(d) <= step else cur + (step if d > 0 else -step)
        out.append(cur)
    return out


def peg_segment_updates(start: int, target: int, pr: int) -> int:
    """§7: pitch-EG updates (every second tick) until a segment from the 16-bit level start reaches
    target: the level moves by pr per update and the segment ends - snapping to the target - as soon
    as the level's high byte equals the target's (or it has passed the target)."""
    level, n = start, 0
    while True:
        n += 1
        level = level + pr if target > level else level - pr
        passed = (target > start and level >= target) or (target < start and level <= target)
        if (level >> 8) == (target >> 8) or passed:
            return n
