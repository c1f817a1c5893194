"""DX7Dataset: index order, validation, filters, dedupe, splits, workers (fork/spawn), batched path."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import dx7live
from dx7live.offline.dataset import DX7BatchDataset, DX7Dataset, split_by_patch
from dx7live.patch.voice import Voice


def make_voices(n: int = 6) -> list[Voice]:
    out = []
    for k in range(n):
        v = Voice.init()
        v.op[1].coarse = 1 + k % 3
        v.op[2].output_level = 40 + 5 * k
        v.op[2].coarse = 1 + k % 31
        v.feedback = k % 8
        v.name = f"V{k}"
        out.append(v)
    return out


def small(**kw) -> DX7Dataset:
    args = dict(patches=make_voices(), notes=[48, 60, 72], velocities=[64, 127], sample_rate=8000,
                duration=0.25, note_duration=0.15)
    args.update(kw)
    return DX7Dataset(**args)


def test_length_and_index_order():
    ds = small()
    assert len(ds) == 6 * 2 * 3
    # note fastest, then velocity, then patch
    item = ds[0 * 6 + 1 * 3 + 2]
    assert (item["patch_index"].item(), item["velocity"].item(), item["note"].item()) == (0, 127, 72)
    item = ds[(4 * 2 + 1) * 3 + 0]
    assert (item["patch_index"].item(), item["velocity"].item(), item["note"].item()) == (4, 127, 48)
    assert item["name"] == "V4"
    p, v, n = ds.locate(np.arange(len(ds)))
    assert np.array_equal(ds.index_of(p[17], v[17], n[17]), 17)


def test_item_fields_and_types():
    ds = small()
    item = ds[5]
    assert item["audio"].dtype == torch.float32 and item["audio"].shape == (2000,)
    assert item["patch"].dtype == torch.float32 and item["patch"].shape == (145,)
    assert 0 <= item["patch"].min() and item["patch"].max() <= 1
    assert item["patch_raw"].shape == (155,)
    raw = bytes(item["patch_raw"].numpy().astype(np.uint8))
    assert raw == make_voices()[0].to_vced()
    np.testing.assert_allclose(item["patch"].numpy(), make_voices()[0].to_vector())
    frames = int(np.ceil(0.25 * 250))  # ceil(duration x 250 Hz)
    assert item["f0_curve"].shape == (frames,) and item["loudness_curve"].shape == (frames,)
    assert item["f0_hz"].item() == pytest.approx(dx7live.voice_f0(make_voices()[0], int(item["note"])).f0_hz)


@pytest.mark.parametrize("index", [-1, 36, 10**9])
def test_bad_indices_raise_index_error(index):
    with pytest.raises(IndexError):
        small()[index]


@pytest.mark.parametrize("kwargs, message", [
    ({"notes": [60, 128]}, "notes"), ({"notes": []}, "notes"), ({"notes": [60, 60]}, "repeated"),
    ({"velocities": [0]}, "velocities"), ({"velocities": "loud"}, "velocities"), ({"notes": [60.5]}, "notes"),
    ({"sample_rate": 10}, "sample_rate"), ({"duration": -1}, "duration"), ({"normalize": "max"}, "normalize"),
    ({"patch_filter": "bogus"}, "bogus"), ({"note_duration": float("inf")}, "note_duration"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        small(**kwargs)


def test_sample_rate_is_honoured_in_items():
    v = Voice.init()
    for sr in (8000, 44100):
        ds = DX7Dataset([v], notes=[69], velocities=[100], sample_rate=sr, duration=0.5, note_duration=0.5)
        audio = ds[0]["audio"].numpy()
        assert audio.shape == (sr // 2,)
        spec = np.abs(np.fft.rfft(audio * np.hanning(len(audio)), 8 * len(audio)))
        f = np.argmax(spec) * sr / (8 * len(audio))
        assert abs(1200 * np.log2(f / 440.0)) < 10


def test_filters_and_dedupe():
    voices = make_voices(3)
    fixed = Voice.init()
    for n in range(1, 7):
        fixed.op[n].mode = "fixed"
    silent = Voice.init()
    silent.op[1].output_level = 0
    twin = Voice(voices[0].to_vced())
    twin.name = "TWIN"  # same sound, another name
    patches = voices + [fixed, silent, twin]
    assert small(patches=patches, dedupe=False).n_patches == 6
    assert small(patches=patches).n_patches == 5
    assert small(patches=patches, patch_filter="all_fixed").n_patches == 1
    assert small(patches=patches, patch_filter="all_ratio", dedupe=False).n_patches == 5
    assert small(patches=patches, patch_filter="audible").n_patches == 4
    assert small(patches=patches, patch_filter=["audible", "all_ratio"]).n_patches == 3
    assert small(patches=patches, patch_filter=lambda v: v.name.startswith("V")).n_patches == 3
    with pytest.raises(ValueError, match="no patches"):
        small(patches=patches, patch_filter=lambda v: False)


def test_normalisation():
    peak = small(normalize="peak")
    for i in (0, 7, 20):
        assert float(peak[i]["audio"].abs().max()) == pytest.approx(1.0, rel=1e-6)
    loud = small(normalize="loudness")
    raw = small()
    a, b = loud[7], raw[7]
    rms = float(a["audio"].pow(2).mean().sqrt())
    assert 20 * np.log10(rms) == pytest.approx(-20.0, abs=0.01)
    gain_db = 20 * np.log10(rms / float(b["audio"].pow(2).mean().sqrt()))
    k = 10
    assert float(a["loudness_curve"][k] - b["loudness_curve"][k]) == pytest.approx(gain_db, abs=0.01)


def test_split_by_patch_has_no_overlap_and_covers_everything():
    voices = make_voices(10)
    twin = Voice(voices[3].to_vced())
    twin.name = "SAME SOUND"
    ds = small(patches=voices + [twin], dedupe=False)
    parts = split_by_patch(ds, (0.6, 0.2, 0.2), seed=1)
    seen = [set(ds.locate(np.array(p.indices))[0].tolist()) for p in parts]
    assert sum(len(p) for p in parts) == len(ds)
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    # the twin (same parameters, other name) lands beside its original
    assert any({3, 10} <= s for s in seen)
    # every item of a patch lands in the same split
    for p in parts:
        patches = ds.locate(np.array(p.indices))[0]
        for q in set(patches.tolist()):
            assert np.sum(patches == q) == 2 * 3
    # reproducible, and the seed matters
    again = split_by_patch(ds, (0.6, 0.2, 0.2), seed=1)
    assert [p.indices for p in parts] == [p.indices for p in again]
    other = split_by_patch(ds, (0.6, 0.2, 0.2), seed=2)
    assert [p.indices for p in parts] != [p.indices for p in other]
    with pytest.raises(ValueError, match="sum to 1"):
        split_by_patch(ds, (0.5, 0.2))


def _loader_audio(ds, workers: int, context: str | None, batch_size: int) -> dict[int, np.ndarray]:
    loader = DataLoader(ds, batch_size=batch_size, num_workers=workers, multiprocessing_context=context)
    out = {}
    for batch in loader:
        for i, a in zip(batch["index"].tolist(), batch["audio"].numpy()):
            out[i] = a
    return out


@pytest.mark.parametrize("workers, context, batch_size", [(0, None, 5), (2, "fork", 3), (2, "spawn", 7)])
def test_same_index_same_audio_whatever_the_loader(workers, context, batch_size):
    ds = small()
    reference = {i: ds[i]["audio"].numpy() for i in range(len(ds))}
    got = _loader_audio(ds, workers, context, batch_size)
    assert sorted(got) == list(range(len(ds)))
    for i in range(len(ds)):
        np.testing.assert_array_equal(got[i], reference[i])


def test_items_do_not_depend_on_order_of_access():
    ds = small()
    forward = [ds[i]["audio"].numpy() for i in range(len(ds))]
    backward = [ds[i]["audio"].numpy() for i in reversed(range(len(ds)))][::-1]
    for a, b in zip(forward, backward):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("workers, context", [(0, None), (2, "spawn")])
def test_batched_path_matches_items(workers, context):
    ds = small()
    batches = ds.batches(8, shuffle=True, seed=3)
    assert isinstance(batches, DX7BatchDataset) and len(batches) == 5
    loader = DataLoader(batches, batch_size=None, num_workers=workers, multiprocessing_context=context)
    seen = []
    for batch in loader:
        assert batch["audio"].shape[0] <= 8
        for j, i in enumerate(batch["index"].tolist()):
            item = ds[i]
            np.testing.assert_array_equal(batch["audio"][j].numpy(), item["audio"].numpy())
            np.testing.assert_array_equal(batch["f0_curve"][j].numpy(), item["f0_curve"].numpy())
            assert batch["name"][j] == item["name"]
            seen.append(i)
    assert sorted(seen) == list(range(len(ds)))


def test_batched_path_over_a_split_and_epochs():
    ds = small()
    train, _, test = split_by_patch(ds, (0.5, 0.0, 0.5))
    b = DX7BatchDataset(train, batch_size=4, shuffle=True)
    first = [x["index"].tolist() for x in b]
    b.set_epoch(1)
    second = [x["index"].tolist() for x in b]
    assert sorted(sum(first, [])) == sorted(train.indices) == sorted(sum(second, []))
    assert first != second


def test_many_patches_construct_from_an_array():
    """30,000 patches (an array, as from a packed collection) build a dataset: vectorised path."""
    rng = np.random.default_rng(0)
    base = np.frombuffer(Voice.init().to_vced(), np.uint8)
    vced = np.tile(base, (30000, 1))
    vced[:, 16] = rng.integers(0, 100, 30000)      # OP6 output level
    vced[:, 21 * 5 + 19] = rng.integers(0, 100, 30000)  # OP1 fine
    vced[:, 137] = rng.integers(0, 100, 30000)
    ds = DX7Dataset(vced, patch_filter="audible", notes=range(21, 109), velocities=[100])
    assert 20000 < ds.n_patches <= 30000  # duplicates removed
    assert len(ds) == ds.n_patches * 88
    assert ds[len(ds) - 1]["audio"].shape == (64000,)


def test_generated_voices_and_files_as_patches(tmp_path):
    from dx7live.patch.generate import generate_voices
    from dx7live.patch.writers import save_bank

    gen = generate_voices(8, seed=1)
    ds = DX7Dataset(gen, notes=[60], velocities=[100], sample_rate=8000, duration=0.2, note_duration=0.1)
    assert ds.n_patches == 8
    save_bank(list(gen)[:4], tmp_path / "a.syx")
    save_bank(list(gen)[4:], tmp_path / "sub" / "b.syx")
    padding = Voice.init().to_vced()[:145]  # a bank file is padded to 32 voices with INIT VOICE
    from_dir = DX7Dataset(tmp_path, notes=[60], velocities=[100], sample_rate=8000, duration=0.2,
                          note_duration=0.1, patch_filter=lambda v: v.to_vced()[:145] != padding)
    assert from_dir.n_patches == 8
    np.testing.assert_array_equal(from_dir.vced, ds.vced)
    np.testing.assert_array_equal(from_dir[3]["audio"].numpy(), ds[3]["audio"].numpy())
    builtin = DX7Dataset(None, notes=[60], velocities=[100], sample_rate=8000, duration=0.2, note_duration=0.1)
    assert builtin.n_patches == len(dx7live.builtin_bank())


@pytest.mark.corpus
def test_audible_filter_agrees_with_the_rendered_audio(corpus_dir):
    """On dx7pytorch's 29,830-voice collection: voices the 'audible' filter drops render (nearly)
    silent, and a sample of the kept ones all sound."""
    from dx7live.patch.analysis import audible_mask

    bank = dx7live.load(corpus_dir / "files" / "fcaspe+dx7pytorch" / "dataset" / "collection.bin")
    mask = audible_mask(bank.vced)
    dropped, kept = bank.vced[~mask], bank.vced[mask]
    assert 0 < len(dropped) < 0.05 * len(bank)
    quiet = np.abs(dx7live.render_batch(dropped, 60, 127, 1.0, 1.5, 16000)).max(axis=1)
    assert np.all(quiet < 10 ** (-50 / 20))
    sample = kept[np.random.default_rng(0).choice(len(kept), 200, replace=False)]
    loud = np.abs(dx7live.render_batch(sample, 60, 100, 1.0, 1.5, 16000)).max(axis=1)
    assert np.all(loud > 10 ** (-60 / 20))


def test_getitems_renders_a_batch_equal_to_single_items():
    ds = small()
    rows = ds.__getitems__([7, 0, 35, 7])
    assert [r["index"].item() for r in rows] == [7, 0, 35, 7]
    for r in rows:
        one = ds[int(r["index"])]
        for key in ("audio", "f0_curve", "loudness_curve", "patch", "patch_raw"):
            np.testing.assert_array_equal(r[key].numpy(), one[key].numpy())


def test_sources_name_file_and_position(tmp_path):
    from dx7live.patch.writers import save_bank

    save_bank(make_voices(4), tmp_path / "four.syx")
    ds = DX7Dataset(tmp_path / "four.syx", notes=[60], velocities=[100], sample_rate=8000, duration=0.1,
                    note_duration=0.1)
    assert ds.source(2).endswith("four.syx#3")


def test_dataloader_over_a_split_subset():
    ds = small()
    train, _, _ = split_by_patch(ds, (0.5, 0.25, 0.25), seed=4)
    got = {}
    for batch in DataLoader(train, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0)):
        for i, a in zip(batch["index"].tolist(), batch["audio"]):
            got[i] = a.numpy()
    assert sorted(got) == sorted(train.indices)
    for i in list(got)[:6]:
        np.testing.assert_array_equal(got[i], ds[i]["audio"].numpy())
