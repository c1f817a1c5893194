"""MIDI renders keep headroom: a multi-part file (written with mido) read back with soundfile."""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile

import dx7live
from dx7live.offline.render import ClippingWarning

from support.paths import REPO  # noqa: E402


def multipart_midi(path: Path) -> Path:
    """Eight channels, each a loud four-note chord on its own program, then a second chord."""
    mid = mido.MidiFile(ticks_per_beat=480)
    for ch in range(8):
        track = mido.MidiTrack()
        track.append(mido.Message("program_change", channel=ch, program=ch, time=0))
        for chord in ([48, 55, 60, 64], [50, 57, 62, 65]):
            for k, n in enumerate(chord):
                track.append(mido.Message("note_on", channel=ch, note=n + (ch % 3) * 12, velocity=127, time=0))
            track.append(mido.Message("note_off", channel=ch, note=chord[0] + (ch % 3) * 12, time=480))
            for n in chord[1:]:
                track.append(mido.Message("note_off", channel=ch, note=n + (ch % 3) * 12, time=0))
        mid.tracks.append(track)
    mid.save(path)
    return path


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "dx7live", "render", *args], cwd=cwd, capture_output=True, text=True,
                          env=env)


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    return multipart_midi(tmp_path_factory.mktemp("midi") / "parts.mid")


def test_render_midi_normalises_by_default(song):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClippingWarning)
        audio, gain = dx7live.render_midi(song, sample_rate=16000, tail=0.3, return_gain=True)
    peak = float(np.max(np.abs(audio)))
    assert peak == pytest.approx(10 ** (-1 / 20), rel=1e-4)
    with pytest.warns(ClippingWarning, match="dBFS"):
        raw = dx7live.render_midi(song, sample_rate=16000, tail=0.3, normalize=False)
    raw_peak = float(np.max(np.abs(raw)))
    assert raw_peak > 1.5  # the raw sum of 8 parts is far past full scale
    assert gain == pytest.approx(-1 - 20 * np.log10(raw_peak), abs=1e-3)
    np.testing.assert_allclose(audio, raw * np.float32(10 ** (gain / 20)), atol=1e-6)
    fixed, g = dx7live.render_midi(song, sample_rate=16000, tail=0.3, gain=-30, return_gain=True)
    assert g == -30 and np.max(np.abs(fixed)) == pytest.approx(raw_peak * 10 ** (-1.5), rel=1e-4)
    with pytest.raises(ValueError, match="not both"):
        dx7live.render_midi(song, normalize=True, gain=-6)


def test_cli_writes_no_sample_at_full_scale(song, tmp_path):
    r = cli(str(song), "-o", "song.wav", "--sample-rate", "16000", "--tail", "0.3", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "gain" in r.stderr
    audio, sr = soundfile.read(tmp_path / "song.wav", dtype="float64")
    assert sr == 16000 and audio.size > 16000
    full_scale = 32767 / 32768
    assert np.max(np.abs(audio)) < full_scale
    assert np.count_nonzero(np.abs(audio) >= full_scale - 1e-9) == 0
    assert np.max(np.abs(audio)) == pytest.approx(10 ** (-1 / 20), abs=2e-3)
    # --gain: a fixed master gain, no normalisation; FLAC too
    r = cli(str(song), "-o", "g.flac", "--sample-rate", "16000", "--tail", "0.3", "--gain", "-30", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    g, _ = soundfile.read(tmp_path / "g.flac", dtype="float64")
    assert 0.01 < np.max(np.abs(g)) < full_scale


def test_cli_refuses_to_write_a_clipped_file(song, tmp_path):
    r = cli(str(song), "-o", "raw.wav", "--sample-rate", "16000", "--tail", "0.3", "--no-normalize", cwd=tmp_path)
    assert r.returncode != 0 and "clip" in r.stderr and not (tmp_path / "raw.wav").exists()
    r = cli(str(song), "-o", "raw.wav", "--sample-rate", "16000", "--tail", "0.3", "--no-normalize",
            "--allow-clipping", cwd=tmp_path)
    assert r.returncode == 0 and "CLIPPED" in r.stderr
    audio, _ = soundfile.read(tmp_path / "raw.wav", dtype="float64")
    assert np.max(np.abs(audio)) >= 32767 / 32768
    r = cli(str(song), "-o", "x.wav", "--normalize", "--gain", "-3", cwd=tmp_path)
    assert r.returncode == 2 and "not both" in r.stderr
