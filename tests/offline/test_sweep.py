"""Sweeps: audio files, metadata, NSynth layout, SFZ, WebDataset shards, resume, shards, CLI."""
from __future__ import annotations

import csv
import importlib
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import given
from hypothesis import strategies as st

import dx7live
from dx7live.cli.sweep import parse_int_list
from dx7live.patch.voice import Voice

sweep_module = importlib.import_module("dx7live.offline.sweeps")

from support.paths import REPO  # noqa: E402
NOTES = [48, 60, 72]
VELS = [50, 127]


def voices() -> list[Voice]:
    out = []
    for k, name in enumerate(["BRASS 1", "E.PIANO 1", "ODD/NAME?"]):
        v = Voice.init()
        v.op[1].coarse = 1 + k
        v.op[2].output_level = 60 + 10 * k
        v.name = name
        out.append(v)
    return out


def run_sweep(out: Path, **kw):
    args = dict(notes=NOTES, velocities=VELS, hold=0.2, release=0.1, sample_rate=8000, progress=False)
    args.update(kw)
    return dx7live.sweep(voices(), out, **args)


def test_files_and_metadata(tmp_path):
    res = run_sweep(tmp_path)
    assert res.rendered == 3 * 2 * 3 and res.skipped == 0 and res.complete
    rows = [json.loads(line) for line in (tmp_path / "metadata.jsonl").read_text().splitlines()]
    assert len(rows) == 18
    with open(tmp_path / "metadata.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["file"] for r in table] == [r["file"] for r in rows]
    for r in rows:
        audio, sr = soundfile.read(tmp_path / r["file"])
        assert sr == 8000 and len(audio) == round(0.3 * 8000)
        assert r["peak"] == pytest.approx(np.max(np.abs(audio)), abs=1e-3)
        assert r["sample_rate"] == 8000 and r["hold"] == 0.2 and r["release"] == 0.1
        v = voices()[r["voice_number"] - 1]
        assert r["voice_name"] == v.name
        assert r["voice_hash"] == v.content_hash(include_name=False)
        assert r["f0_hz"] == pytest.approx(dx7live.voice_f0(v, r["note"]).f0_hz, rel=1e-5)
        assert r["engine_version"] and r["rms"] > 0 and r["loudness_db"] > -120
        assert set(sweep_module.exports.METADATA_FIELDS) <= set(r)
    # ordering: voice, then velocity, then note
    assert [(r["voice_number"], r["velocity"], r["note"]) for r in rows][:4] == [(1, 50, 48), (1, 50, 60), (1, 50, 72), (1, 127, 48)]
    # the written audio is the rendered audio (16-bit)
    r = rows[4]
    ref = dx7live.render_batch(voices()[0], r["note"], r["velocity"], 0.2, 0.3, 8000)[0]
    audio, _ = soundfile.read(tmp_path / r["file"])
    assert np.max(np.abs(audio - np.clip(ref, -1, 1))) < 2 / 32767


def test_nsynth_layout_field_by_field(tmp_path):
    run_sweep(tmp_path, nsynth=True, voices=[1, 2])
    examples = json.loads((tmp_path / "examples.json").read_text())
    assert len(examples) == 2 * 2 * 3
    ids = set()
    for key, ex in examples.items():
        assert set(ex) == {"note", "note_str", "instrument", "instrument_str", "pitch", "velocity", "sample_rate",
                           "qualities", "qualities_str", "instrument_family", "instrument_family_str",
                           "instrument_source", "instrument_source_str"}
        assert ex["note_str"] == key
        assert re.fullmatch(r"[a-z0-9_]+-\d{3}-\d{3}", key)
        inst, pitch, vel = key.rsplit("-", 2)
        assert ex["instrument_str"] == inst and ex["pitch"] == int(pitch) and ex["velocity"] == int(vel)
        assert ex["pitch"] in NOTES and ex["velocity"] in VELS
        assert isinstance(ex["note"], int) and ex["note"] not in ids
        ids.add(ex["note"])
        assert ex["instrument"] in (0, 1) and isinstance(ex["instrument"], int)
        assert ex["sample_rate"] == 8000
        assert ex["qualities"] == [0] * 10 and ex["qualities_str"] == []
        fam = ["bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string",
               "synth_lead", "vocal"]
        assert fam[ex["instrument_family"]] == ex["instrument_family_str"]
        assert ex["instrument_source"] == 2 and ex["instrument_source_str"] == "synthetic"
        wav = tmp_path / "audio" / f"{key}.wav"
        info = soundfile.info(wav)
        assert info.subtype == "PCM_16" and info.samplerate == 8000 and info.channels == 1
    fams = {ex["instrument_str"]: ex["instrument_family_str"] for ex in examples.values()}
    assert sorted(fams.values()) == ["brass", "keyboard"]  # guessed from "BRASS 1" and "E.PIANO 1"
    with pytest.raises(ValueError, match="16-bit"):
        run_sweep(tmp_path / "x", nsynth=True, bits=24)


def parse_sfz(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """A small SFZ reader: headers <control>/<global>/<region> with key=value opcodes, // comments."""
    control: dict[str, str] = {}
    regions: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if not line:
            continue
        for token in re.findall(r"<\w+>|[^\s=]+=\S+", line):
            if token.startswith("<"):
                if token == "<region>":
                    current = {}
                    regions.append(current)
                elif token in ("<control>", "<global>", "<group>"):
                    current = control
                else:
                    raise ValueError(f"unknown header {token}")
            else:
                if current is None:
                    raise ValueError(f"opcode outside a header: {token}")
                k, v = token.split("=", 1)
                current[k] = v
        leftover = re.sub(r"<\w+>|[^\s=]+=\S+", "", line).strip()
        if leftover:
            raise ValueError(f"cannot parse {leftover!r}")
    return control, regions


def test_sfz_maps_keys_and_velocities(tmp_path):
    run_sweep(tmp_path, sfz=True)
    files = sorted((tmp_path / "sfz").glob("*.sfz"))
    assert len(files) == 3
    for f in files:
        control, regions = parse_sfz(f.read_text())
        assert len(regions) == 6
        cover = np.zeros((128, 128), int)  # key x velocity
        for r in regions:
            assert "default_path" not in control  # plain relative sample paths
            sample = (f.parent / r["sample"]).resolve()
            assert sample.exists()
            lo, hi, lv, hv = int(r["lokey"]), int(r["hikey"]), int(r["lovel"]), int(r["hivel"])
            assert lo <= int(r["pitch_keycenter"]) <= hi and lv <= hv
            cover[lo:hi + 1, lv:hv + 1] += 1
            # the region plays the sample recorded at its own key and velocity
            m = re.search(r"-(\d{3})-(\d{3})\.wav$", r["sample"])
            assert int(m.group(1)) == int(r["pitch_keycenter"])
            assert lv <= int(m.group(2)) <= hv
        assert np.all(cover[:, 1:] == 1), "every key and velocity is played by exactly one region"


def test_webdataset_shards(tmp_path):
    run_sweep(tmp_path, webdataset=True, shard_samples=1000)
    tars = sorted((tmp_path / "webdataset").glob("*.tar"))
    assert len(tars) == 1
    with tarfile.open(tars[0]) as t:
        names = t.getnames()
        assert len(names) == 36
        keys = {n.split(".", 1)[0] for n in names}
        assert len(keys) == 18
        for k in list(keys)[:3]:
            meta = json.loads(t.extractfile(f"{k}.json").read())
            assert meta["note_str"] == k
            data = t.extractfile(f"{k}.wav").read()
            assert data == (tmp_path / meta["file"]).read_bytes()
    # a rerun finds the shard complete and leaves it alone
    before = tars[0].stat().st_mtime_ns
    assert run_sweep(tmp_path, webdataset=True, shard_samples=1000).rendered == 0
    assert tars[0].stat().st_mtime_ns == before


def test_flac_output(tmp_path):
    run_sweep(tmp_path, format="flac", voices=[1])
    rows = [json.loads(line) for line in (tmp_path / "metadata.jsonl").read_text().splitlines()]
    audio, sr = soundfile.read(tmp_path / rows[0]["file"])
    assert rows[0]["file"].endswith(".flac") and sr == 8000 and len(audio) == 2400


def test_interrupted_sweep_resumes(tmp_path, monkeypatch):
    reference = tmp_path / "ref"
    run_sweep(reference, batch_size=4)
    out = tmp_path / "run"
    real = sweep_module.write_audio
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 7:
            raise KeyboardInterrupt  # as if Ctrl-C arrived mid-sweep
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "write_audio", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(out, batch_size=4)
    monkeypatch.setattr(sweep_module, "write_audio", real)
    finished = list((out / "audio").glob("*.wav"))
    assert 0 < len(finished) < 18
    assert not list((out / "audio").glob(".*.part"))  # no half-written files left behind
    res = run_sweep(out, batch_size=4)
    assert res.skipped >= 4 and res.skipped + res.rendered == 18 and res.complete
    for f in (reference / "audio").glob("*.wav"):
        assert (out / "audio" / f.name).read_bytes() == f.read_bytes()
    assert (out / "metadata.jsonl").read_text() == (reference / "metadata.jsonl").read_text()
    # a rerun renders nothing
    assert run_sweep(out).rendered == 0


def test_shards_split_the_work_without_coordination(tmp_path):
    out = tmp_path / "s"
    parts = [run_sweep(out, shard=f"{i}/3", sfz=True) for i in range(3)]
    assert sum(p.rendered for p in parts) == 18
    assert [p.complete for p in parts] == [False, False, True]  # the last one sees everything
    assert len(list((out / "audio").glob("*.wav"))) == 18
    assert (out / "metadata.jsonl").exists() and len(list((out / "sfz").glob("*.sfz"))) == 3
    ref = tmp_path / "ref"
    run_sweep(ref)
    assert (out / "metadata.jsonl").read_text() == (ref / "metadata.jsonl").read_text()


def test_settings_mismatch_is_refused(tmp_path):
    run_sweep(tmp_path, voices=[1])
    with pytest.raises(ValueError, match="sample_rate"):
        run_sweep(tmp_path, voices=[1], sample_rate=16000)


@pytest.mark.parametrize("kwargs, message", [
    ({"voices": [4]}, "voices"), ({"notes": [200]}, "notes"), ({"velocities": [0]}, "velocities"),
    ({"format": "mp3"}, "format"), ({"shard": "3/3"}, "shard"), ({"shard": "x"}, "shard"), ({"hold": 0}, "hold"),
])
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        run_sweep(tmp_path, **kwargs)


@given(st.lists(st.integers(0, 127), min_size=1, max_size=8))
def test_parse_int_list_roundtrip(values):
    assert parse_int_list(",".join(map(str, values)), "x") == values


def test_parse_int_list_forms():
    assert parse_int_list("21:30:3", "n") == [21, 24, 27, 30]
    assert parse_int_list("1-3,7", "v") == [1, 2, 3, 7]
    for bad in ("1-", "5-2", "a", "3:1", "1:5:0"):
        with pytest.raises(Exception, match="n"):
            parse_int_list(bad, "n")


def test_cli_sweep(tmp_path):
    bank = tmp_path / "bank.syx"
    from dx7live.patch.writers import save_bank

    save_bank(voices(), bank)
    r = subprocess.run([sys.executable, "-m", "dx7live", "sweep", str(bank), "--out", str(tmp_path / "o"),
                        "--voices", "1-2", "--notes", "60:72:12", "--velocities", "100", "--hold", "0.1",
                        "--release", "0.1", "--sample-rate", "8000", "--nsynth", "--sfz"],
                       capture_output=True, text=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    examples = json.loads((tmp_path / "o" / "examples.json").read_text())
    assert sorted(ex["pitch"] for ex in examples.values()) == [60, 60, 72, 72]
    bad = subprocess.run([sys.executable, "-m", "dx7live", "sweep", str(bank), "--out", str(tmp_path / "p"),
                          "--notes", "60:50"], capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert bad.returncode == 2 and "--notes" in bad.stderr


def test_a_folder_can_grow_and_its_tables_cover_every_file(tmp_path):
    """Voices 1-2 now, voice 3 later: metadata and examples.json list every audio file (as NSynth
    loaders that glob audio/*.wav and look each one up expect), with unique note ids."""
    run_sweep(tmp_path, voices=[1, 2], nsynth=True)
    run_sweep(tmp_path, voices=[3], nsynth=True)
    wavs = {p.stem for p in (tmp_path / "audio").glob("*.wav")}
    examples = json.loads((tmp_path / "examples.json").read_text())
    rows = [json.loads(line) for line in (tmp_path / "metadata.jsonl").read_text().splitlines()]
    assert set(examples) == wavs == {r["note_str"] for r in rows} and len(wavs) == 18
    assert len({e["note"] for e in examples.values()}) == 18


def test_other_patches_into_the_same_folder_are_refused(tmp_path):
    run_sweep(tmp_path, voices=[1])
    with pytest.raises(ValueError, match="patches"):
        dx7live.sweep(voices()[::-1], tmp_path, notes=NOTES, velocities=VELS, hold=0.2, release=0.1,
                      sample_rate=8000, progress=False)


@pytest.mark.parametrize("name, family", [
    ("E.PIANO 1", "keyboard"), ("DEEP SWEEP", "synth_lead"), ("BASSOON", "reed"), ("SYN-BASS 2", "bass"),
    ("HARPSICH 1", "keyboard"), ("STRG ENS 2", "string"), ("E.ORGAN 5", "organ"), ("TUB BELLS", "mallet"),
    ("GUITAR 6", "guitar"), ("BRASS   1", "brass"), ("", "synth_lead"),
])
def test_nsynth_family_guess(name, family):
    from dx7live.offline.sweep_writers import NSYNTH_FAMILIES, guess_family

    assert NSYNTH_FAMILIES[guess_family(name)] == family


def test_a_folder_with_other_files_is_refused(tmp_path):
    (tmp_path / "metadata.csv").write_text("mine\n")
    with pytest.raises(ValueError, match="not empty"):
        run_sweep(tmp_path)
    assert (tmp_path / "metadata.csv").read_text() == "mine\n"
    assert not (tmp_path / "audio").exists()


def test_a_torn_journal_line_does_not_swallow_the_next_record(tmp_path):
    """An interruption can cut the journal's last line; the resumed run still completes in one go."""
    run_sweep(tmp_path, voices=[1])
    journal = next((tmp_path / ".sweep").glob("journal-*.jsonl"))
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:40])  # last record cut mid-line
    res = run_sweep(tmp_path, voices=[1], nsynth=True)
    assert res.rendered == 1 and res.complete
    assert len(json.loads((tmp_path / "examples.json").read_text())) == 6
