"""The built-in bank: its source builds to the committed .syx, it loads, and every voice sounds as
its name says (rendered with the engine: level, pitch, envelope as stated in the source file)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.paths import REPO  # noqa: E402
sys.path.insert(0, str(REPO / "patches"))

import audition  # noqa: E402  (patches/audition.py: the measurements)
import build_banks  # noqa: E402  (patches/build_banks.py)

import dx7live  # noqa: E402
from dx7live.patch import builtin  # noqa: E402
from dx7live.patch.reader import load  # noqa: E402

SOURCE = REPO / "patches" / "dx7live-1.toml"
SYX = REPO / "dx7live" / "patch" / "banks" / "dx7live-1.syx"
VOICES = build_banks.read_source(SOURCE)
BANKS = {src.stem: build_banks.read_source(src) for src in build_banks.sources()}
ALL = [(bank, i, vs) for bank, voices in BANKS.items() for i, vs in enumerate(voices)]


# ---------------------------------------------------------------- source and build
def test_committed_syx_equals_a_fresh_build():
    assert SYX.read_bytes() == build_banks.build(SOURCE), "run: python patches/build_banks.py"


def test_build_is_deterministic_and_a_valid_vmem():
    a, b = build_banks.build(SOURCE), build_banks.build(SOURCE)
    assert a == b
    assert len(a) == 4104 and a[:6] == bytes([0xF0, 0x43, 0x00, 0x09, 0x20, 0x00]) and a[-1] == 0xF7
    assert (sum(a[6:4102]) + a[4102]) & 0x7F == 0


def test_every_bank_source_has_its_syx():
    for src in build_banks.sources():
        assert (build_banks.BANK_DIR / f"{src.stem}.syx").read_bytes() == build_banks.build(src), src.name


@pytest.mark.parametrize("name", sorted(BANKS))
def test_reader_sees_exactly_the_source_values(name):
    bank = load(REPO / "dx7live" / "patch" / "banks" / f"{name}.syx", strict=True)
    assert len(bank) == 32 and len(BANKS[name]) == 32
    for i, vs in enumerate(BANKS[name]):
        assert bank.vced[i].tobytes() == vs.vced, vs.name
        assert bank.names[i] == vs.name


@pytest.mark.parametrize("name", sorted(BANKS))
def test_bank_covers_the_classic_families_with_distinct_dx7_names(name):
    voices = BANKS[name]
    assert len(voices) == 32
    # the default bank alone covers every classic family; any other bank at least six of them
    families = {vs.family for vs in voices}
    assert len(families) >= 6
    for family in ("epiano", "bass", "brass", "bell", "organ", "pluck", "lead", "percussion", "effect"):
        assert family in families or name != "dx7live-1", family
    assert families & {"strings", "pad"}
    names = [vs.name for vs in voices]
    assert len(set(names)) == len(names)
    for name in names:
        assert 1 <= len(name) <= 10 and all(32 <= ord(c) <= 125 and c != "\\" for c in name), name
        assert name == name.upper(), f"{name}: DX7-style names are upper case"
    assert all(len(vs.intent) > 20 for vs in voices)


def test_no_voice_appears_twice_across_banks():
    names = [vs.name for _, _, vs in ALL]
    assert len(set(names)) == len(names)
    assert len({vs.vced[:145] for _, _, vs in ALL}) == len(ALL)


# ---------------------------------------------------------------- validation errors
def _write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "bad.toml"
    p.write_text('bank = "bad"\n[[voice]]\nname = "X"\nfamily = "bass"\nintent = "a test voice"\n'
                 'expect = { pitch = "fundamental", envelope = "decaying" }\n' + body)
    return p


@pytest.mark.parametrize("body, where", [
    ("algorithm = 33\n", "algorithm"),
    ("feedback = 8\n", "feedback"),
    ("transpose = 25\n", "transpose"),
    ("op3 = { output = 100 }\n", "op3.output"),
    ("op2 = { rates = [99, 99, 99] }\n", "op2.rates"),
    ("op4 = { levels = [99, 99, 99, -1] }\n", "op4.levels[4]"),
    ("op1 = { detune = 8 }\n", "op1.detune"),
    ("op1 = { coarse = 1.5 }\n", "op1.coarse"),
    ("op6 = { left_curve = \"LIN\" }\n", "op6.left_curve"),
    ("op5 = { breakpoint = \"H3\" }\n", "op5.breakpoint"),
    ("op5 = { ratio = 2 }\n", "op5"),
    ("lfo = { wave = \"noise\" }\n", "lfo.wave"),
    ("pitch_eg = { levels = [50, 50, 50, 100] }\n", "pitch_eg.levels[4]"),
    ("op7 = { output = 1 }\n", "voice"),
])
def test_bad_values_name_file_voice_and_parameter(tmp_path, body, where):
    with pytest.raises(build_banks.SourceError) as e:
        build_banks.read_source(_write(tmp_path, body))
    msg = str(e.value)
    assert msg.startswith("bad.toml: voice 'X': " + where), msg


def test_bad_name_and_missing_expectation_are_reported(tmp_path):
    p = tmp_path / "n.toml"
    p.write_text('[[voice]]\nname = "WAY TOO LONG"\nfamily = "bass"\nintent = "x"\n'
                 'expect = { pitch = "none", envelope = "decaying" }\n')
    with pytest.raises(build_banks.SourceError, match="name: expected 1..10 characters"):
        build_banks.read_source(p)
    p.write_text('[[voice]]\nname = "OK"\nfamily = "bass"\nintent = "x"\n')
    with pytest.raises(build_banks.SourceError, match="expect"):
        build_banks.read_source(p)
    p.write_text('[[voice]]\nname = "OK"\nfamily = "kazoo"\nintent = "x"\n')
    with pytest.raises(build_banks.SourceError, match="family"):
        build_banks.read_source(p)
    p.write_text("[[voice]\n")
    with pytest.raises(build_banks.SourceError, match="not valid TOML"):
        build_banks.read_source(p)


def test_check_mode_reports_a_stale_syx(tmp_path, capsys):
    src = tmp_path / "b.toml"
    shutil.copy(SOURCE, src)
    out = ["--out-dir", str(tmp_path)]
    assert build_banks.main([str(src), *out]) == 0
    assert (tmp_path / "b.syx").read_bytes() == SYX.read_bytes()
    assert build_banks.main(["--check", str(src), *out]) == 0
    (tmp_path / "b.syx").write_bytes(b"\xf0")
    assert build_banks.main(["--check", str(src), *out]) == 1
    assert "DIFFERS" in capsys.readouterr().out


@settings(max_examples=60, deadline=None)
@given(rates=st.lists(st.integers(0, 99), min_size=4, max_size=4),
       out=st.integers(0, 99), coarse=st.integers(0, 31), fine=st.integers(0, 99),
       detune=st.integers(-7, 7), kvs=st.integers(0, 7), curve=st.sampled_from(build_banks.CURVES),
       bp=st.integers(0, 99), alg=st.integers(1, 32), fb=st.integers(0, 7), transpose=st.integers(-24, 24),
       wave=st.sampled_from(build_banks.LFO_WAVES), n=st.integers(1, 6))
def test_any_valid_source_value_reaches_the_reader_unchanged(tmp_path_factory, rates, out, coarse, fine, detune,
                                                             kvs, curve, bp, alg, fb, transpose, wave, n):
    p = tmp_path_factory.mktemp("h") / "h.toml"
    p.write_text(
        '[[voice]]\nname = "H"\nfamily = "lead"\nintent = "hypothesis"\n'
        'expect = { pitch = "none", envelope = "sustaining" }\n'
        f"algorithm = {alg}\nfeedback = {fb}\ntranspose = {transpose}\nlfo = {{ wave = \"{wave}\" }}\n"
        f"op{n} = {{ rates = {rates}, output = {out}, coarse = {coarse}, fine = {fine}, detune = {detune}, "
        f"velocity = {kvs}, right_curve = \"{curve}\", breakpoint = {bp} }}\n")
    v = load(build_banks.build(p), strict=True)[0]
    op = v.op[n]
    assert list(op.eg_rates) == rates
    assert (op.output_level, op.coarse, op.fine, op.detune, op.velocity_sensitivity) == (out, coarse, fine, detune + 7, kvs)
    assert op.right_curve == build_banks.CURVES.index(curve) and op.breakpoint == bp
    assert (v.algorithm, v.feedback, v.transpose) == (alg, fb, transpose + 24)
    assert v["lfo_wave"] == build_banks.LFO_WAVES.index(wave)


def test_note_names_follow_the_panel():
    assert build_banks.note_to_breakpoint("C3") == 39      # middle C, as in the fact sheet
    assert build_banks.note_to_breakpoint("A-1") == 0
    assert build_banks.note_to_breakpoint("C8") == 99
    assert build_banks.note_to_breakpoint("c#3") == 40


# ---------------------------------------------------------------- dx7live.patch.builtin
def test_builtin_bank_is_the_default_and_cached():
    assert builtin.builtin_bank_names() == sorted(BANKS)
    assert builtin.builtin_bank("dx7live-2").names == [vs.name for vs in BANKS["dx7live-2"]]
    bank = dx7live.builtin_bank()
    assert bank is builtin.builtin_bank("dx7live-1")
    assert bank.names == [vs.name for vs in VOICES]
    v = bank[0]
    v.name = "CHANGED"
    assert bank[0].name == VOICES[0].name   # indexing gives copies


def test_unknown_bank_names_the_available_ones():
    with pytest.raises(ValueError, match="dx7live-1"):
        builtin.builtin_bank("no-such-bank")
    with pytest.raises(TypeError):
        builtin.builtin_bank(3)


def test_banks_are_package_data_and_missing_banks_are_explained(tmp_path, monkeypatch):
    pkg = tmp_path / "banks"
    pkg.mkdir()
    shutil.copy(SYX, pkg / "other.syx")
    monkeypatch.setattr(builtin, "BANK_DIR", pkg)
    builtin._load.cache_clear()
    try:
        assert builtin.builtin_bank_names() == ["other"]
        assert builtin.builtin_bank("other").names[0] == VOICES[0].name
        monkeypatch.setattr(builtin, "BANK_DIR", tmp_path / "nothing")
        with pytest.raises(FileNotFoundError, match="build_banks.py"):
            builtin.builtin_bank_names()
    finally:
        builtin._load.cache_clear()


# ---------------------------------------------------------------- renders
@pytest.fixture(scope="module")
def renders():
    """Every voice of every bank at C3, velocity 100, held 1 s, rendered with the engine (48 kHz)."""
    pytest.importorskip("dx7live._engine", reason="the native engine is not built (setup.py build_ext --inplace)")
    return {(bank, i): audition.render(vs.vced) for bank, i, vs in ALL}


@pytest.mark.parametrize("bank, i, vs", ALL, ids=[f"{b}:{vs.name}" for b, _, vs in ALL])
def test_voice_sounds_as_its_source_says(renders, bank, i, vs):
    m = audition.measure(renders[bank, i], audition.SAMPLE_RATE, vs.expect, vs.vced[build_banks.P_TRANSPOSE])
    assert audition.problems(vs, m) == [], f"{vs.name} ({vs.intent})"


def test_families_differ_as_expected(renders):
    """Across the bank: decaying voices lose far more level in a second than sustaining ones."""
    dec, sus = [], []
    for bank, i, vs in ALL:
        m = audition.measure(renders[bank, i], audition.SAMPLE_RATE, vs.expect, vs.vced[build_banks.P_TRANSPOSE])
        (dec if vs.expect["envelope"] in ("decaying", "percussive") else sus).append(m.decay_db)
    assert min(dec) > 3.0 and max(sus) < 10.0 and np.median(dec) > np.median(sus) + 8.0


def test_measurements_are_not_fooled():
    """The audition measures on synthetic signals: they find a pitch, a decay, a sustain."""
    sr = audition.SAMPLE_RATE
    t = np.arange(2 * sr) / sr
    gate = t < 1.0
    tone = 0.3 * np.sin(2 * np.pi * 261.63 * t) * gate
    m = audition.measure(tone, sr, {"envelope": "sustaining"})
    assert abs(audition.cents(m.f0, 261.63)) < 2 and abs(m.sustain_db) < 0.5 and m.decay_db < 0.5
    decaying = tone * np.exp(-t * 3.0)              # 26 dB per second
    m = audition.measure(decaying, sr, {"envelope": "decaying"})
    assert 20 < m.decay_db < 30
    octave_low = 0.3 * (np.sin(2 * np.pi * 130.81 * t) + np.sin(2 * np.pi * 261.63 * t)) * gate
    m = audition.measure(octave_low, sr, {})
    assert abs(audition.cents(m.f0, 130.81)) < 2
    noise = np.random.default_rng(0).standard_normal(2 * sr) * 0.1 * gate
    assert np.isnan(audition.measure(noise, sr, {}).f0)


def _batch(notes: list[int], hold_s: float, total_s: float) -> tuple[list, np.ndarray]:
    """Every voice of every bank at each of ``notes`` (velocity 100), one batch render."""
    engine = pytest.importorskip("dx7live._engine", reason="the native engine is not built")
    sr = audition.SAMPLE_RATE
    items = [(vs, note) for _, _, vs in ALL for note in notes]
    vced = np.array([np.frombuffer(vs.vced, np.uint8) for vs, _ in items])
    n = len(items)
    audio = engine.render_batch(vced, np.array([nt for _, nt in items], np.int32), np.full(n, 100, np.int32),
                                np.full(n, int(hold_s * sr), np.int64), int(total_s * sr), float(sr))
    return items, np.asarray(audio, np.float64)


def test_every_voice_plays_across_the_keyboard():
    """Notes C1..C7: audible and not overloaded (keyboard level/rate scaling cannot silence a voice)."""
    items, audio = _batch([36, 48, 72, 84, 96], 1.0, 1.0)
    assert np.all(np.isfinite(audio))
    peaks = np.abs(audio).max(axis=1)
    bad = [(vs.name, note, round(float(p), 3)) for (vs, note), p in zip(items, peaks) if not 0.05 <= p <= 1.0]
    assert bad == []


def test_every_voice_releases():
    """After note-off every voice dies away: 2.5-3 s after it, at least 20 dB below the held level."""
    items, audio = _batch([60], 1.0, 4.0)
    sr = audition.SAMPLE_RATE

    def level(a, t0, t1):
        seg = a[int(t0 * sr):int(t1 * sr)]
        return 10 * np.log10(np.mean(seg * seg) + 1e-20)

    bad = [(vs.name, round(level(a, 0, 1) - level(a, 3.5, 4.0), 1)) for (vs, _), a in zip(items, audio)
           if level(a, 0, 1) - level(a, 3.5, 4.0) < 20.0]
    assert bad == []
