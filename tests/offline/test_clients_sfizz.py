"""The sweep's SFZ instruments played in a real SFZ player (sfizz, through pysfizz and sfizz_render)
against the synth rendered directly: pitch, velocity response and release tail."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

pysfizz = pytest.importorskip("pysfizz")

import dx7live  # noqa: E402
from dx7live.patch.builtin import builtin_bank  # noqa: E402

SR = 48000
VOICES = [1, 3, 4, 8]             # TINE EP, REED EP, FM BASS, BRASS SECT
NOTES = [57, 60, 63, 66]
HOLD, RELEASE = 1.0, 1.0
OFF = 0.5                          # the sampler's key is let go before the recorded hold


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sfz")
    dx7live.sweep(None, out, voices=VOICES, notes=NOTES, hold=HOLD, release=RELEASE, sample_rate=SR, sfz=True,
                  progress=False)
    return out


def sfz_of(library: Path, voice: int) -> Path:
    (path,) = (library / "sfz").glob(f"dx7_{voice:03d}_*.sfz")
    return path


def play_sfizz(sfz: Path, note: int, velocity: int) -> np.ndarray:
    synth = pysfizz.Synth(SR, 512)  # a fresh player per note: nothing left sounding from the last one
    assert synth.load_sfz_file(sfz, quiet=False), sfz
    # sfizz preloads the start of each sample and streams the rest from a background thread,
    # which an offline loop can outrun (the note then goes silent early): play the note until two
    # renders agree, i.e. its sample is in memory
    last = None
    for _ in range(8):
        synth._synth.all_sound_off()
        synth._synth.render_block()
        audio = synth.render_note(note, velocity, OFF, 1.5)[0]
        if last is not None and np.max(np.abs(audio - last)) < 1e-6:
            return audio
        last = audio
        time.sleep(0.05)
    raise AssertionError("sfizz gave a different render every time")


def play_direct(voice: int, note: int, velocity: int) -> np.ndarray:
    return dx7live.render_batch(builtin_bank()[voice - 1], note, velocity, OFF, 1.5, SR)[0]


def level_db(a: np.ndarray, t0: float, t1: float) -> float:
    seg = np.asarray(a[int(t0 * SR):int(t1 * SR)], dtype=np.float64)
    return 20 * np.log10(np.sqrt(np.mean(seg ** 2)) + 1e-12)


def strongest_partial_hz(a: np.ndarray, near: float | None = None) -> float:
    seg = np.asarray(a[int(0.05 * SR):int(0.45 * SR)], dtype=np.float64)
    n = 1 << 21
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size), n))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    if near is not None:
        spec = np.where(np.abs(freqs / near - 1) < 0.04, spec, 0)
    k = int(np.argmax(spec[1:-1])) + 1
    y0, y1, y2 = np.log(spec[k - 1:k + 2] + 1e-30)
    return float((k + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)) * SR / n)


def test_the_sfz_files_are_plain_and_portable(library):
    for voice in VOICES:
        text = sfz_of(library, voice).read_text()
        assert "default_path" not in text and "amp_veltrack=100" in text and "amp_velcurve_" in text
        assert "ampeg_release=0.05\n" not in text
        assert str(library) not in text and "/work/" not in text  # no absolute local paths
        for line in text.splitlines():
            if line.startswith("<region>"):
                sample = line.split("sample=")[1].split()[0]
                assert sample.startswith("../audio/") and (library / "sfz" / sample).resolve().is_file()


@pytest.mark.parametrize("voice", VOICES)
@pytest.mark.parametrize("note", [60, 62])  # a recorded key, and one between recorded keys
def test_pitch_in_sfizz_matches_the_synth(library, voice, note):
    direct = play_direct(voice, note, 100)
    sampled = play_sfizz(sfz_of(library, voice), note, 100)
    f_direct = strongest_partial_hz(direct)
    f_sampled = strongest_partial_hz(sampled, near=f_direct)
    assert abs(1200 * np.log2(f_sampled / f_direct)) < 5.0


@pytest.mark.parametrize("voice", VOICES)
@pytest.mark.parametrize("note", [60, 62])
def test_velocity_span_in_sfizz_matches_the_synth(library, voice, note):
    sfz = sfz_of(library, voice)
    direct = level_db(play_direct(voice, note, 127), 0.05, 0.45) - level_db(play_direct(voice, note, 64), 0.05, 0.45)
    sampled = level_db(play_sfizz(sfz, note, 127), 0.05, 0.45) - level_db(play_sfizz(sfz, note, 64), 0.05, 0.45)
    assert abs(sampled - direct) < 1.5, (sampled, direct)
    # and across the velocity range, relative to velocity 127
    for vel in (20, 40, 90):
        d = level_db(play_direct(voice, note, vel), 0.05, 0.45) - level_db(play_direct(voice, note, 127), 0.05, 0.45)
        s = level_db(play_sfizz(sfz, note, vel), 0.05, 0.45) - level_db(play_sfizz(sfz, note, 127), 0.05, 0.45)
        assert abs(s - d) < 1.5, (vel, s, d)


@pytest.mark.parametrize("voice", VOICES)
def test_release_tail_rings_out_in_sfizz(library, voice):
    sampled = play_sfizz(sfz_of(library, voice), 60, 100)
    direct = play_direct(voice, 60, 100)
    held_s, held_d = level_db(sampled, 0.3, 0.5), level_db(direct, 0.3, 0.5)
    tail_s, tail_d = level_db(sampled, OFF + 0.05, OFF + 0.15) - held_s, level_db(direct, OFF + 0.05, OFF + 0.15) - held_d
    assert tail_s > -60.0, tail_s  # a tail, not a 50 ms cut
    assert abs(tail_s - tail_d) < 12.0, (tail_s, tail_d)


def sfizz_render_tool() -> str | None:
    found = shutil.which("sfizz_render")
    if found:
        return found
    beside = Path(pysfizz.__file__).resolve().parents[1] / "bin" / "sfizz_render"
    return str(beside) if beside.is_file() else None


def test_sfizz_render_plays_the_library_from_a_midi_file(library, tmp_path):
    import mido
    import soundfile

    tool = sfizz_render_tool()
    if tool is None:
        pytest.skip("sfizz_render is not installed (pysfizz ships it beside its package)")
    mid = mido.MidiFile(ticks_per_beat=480)  # 120 bpm: 480 ticks = 0.5 s
    track = mido.MidiTrack()
    for _ in range(4):  # pairs at 0 / 1.5 s, 3 / 4.5 s, ...: velocity 127, then 64
        track += [mido.Message("note_on", note=60, velocity=127, time=0), mido.Message("note_off", note=60, time=480),
                  mido.Message("note_on", note=60, velocity=64, time=960), mido.Message("note_off", note=60, time=480),
                  mido.Message("note_on", note=61, velocity=1, time=960), mido.Message("note_off", note=61, time=0)]
    mid.tracks.append(track)
    mid.save(tmp_path / "pairs.mid")
    sfz = sfz_of(library, 1)
    wav = tmp_path / "pairs.wav"
    subprocess.run([tool, "--sfz", str(sfz), "--midi", str(tmp_path / "pairs.mid"), "--wav", str(wav), "-s", str(SR)],
                   check=True, capture_output=True, timeout=120)
    audio, sr = soundfile.read(wav, dtype="float64", always_2d=True)
    assert sr == SR
    left = audio[:, 0]
    direct = level_db(play_direct(1, 60, 127), 0.05, 0.45) - level_db(play_direct(1, 60, 64), 0.05, 0.45)
    # sfizz_render streams samples from a background thread and does not wait for it, so a note
    # played before its sample is in memory can go silent early: the later pairs are played from memory
    spans = [level_db(left, t + 0.05, t + 0.45) - level_db(left, t + 1.55, t + 1.95) for t in (0.0, 3.0, 6.0, 9.0)]
    assert min(abs(x - direct) for x in spans) < 1.5, (spans, direct)
    assert max(level_db(left, t + 0.55, t + 0.65) - level_db(left, t + 0.3, t + 0.5) for t in (3.0, 6.0, 9.0)) > -60
