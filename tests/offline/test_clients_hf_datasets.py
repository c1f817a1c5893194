"""DX7Dataset items through Hugging Face ``datasets.Dataset.from_generator`` (offline, temp cache)."""
from __future__ import annotations

import numpy as np
import pytest

datasets = pytest.importorskip("datasets")

from dx7live import DX7Dataset  # noqa: E402

SR = 8000


def items(ds: DX7Dataset, indices: list[int]):
    for i in indices:
        item = ds[i]
        yield {
            "audio": item["audio"].numpy(),
            "note": int(item["note"]), "velocity": int(item["velocity"]), "patch_index": int(item["patch_index"]),
            "name": item["name"], "f0_hz": float(item["f0_hz"]), "f0_kind": item["f0_kind"],
            "patch": item["patch"].numpy(), "loudness_curve": item["loudness_curve"].numpy(),
        }


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    return tmp_path / "hf" / "datasets"


def test_from_generator_over_dataset_items(offline_cache):
    ds = DX7Dataset(None, notes=[48, 60, 72], velocities=[64, 127], sample_rate=SR, duration=0.25,
                    note_duration=0.15)
    picked = [0, 1, 5, 7, len(ds) - 1]
    features = datasets.Features({
        "audio": datasets.Sequence(datasets.Value("float32")),
        "note": datasets.Value("int64"), "velocity": datasets.Value("int64"), "patch_index": datasets.Value("int64"),
        "name": datasets.Value("string"), "f0_hz": datasets.Value("float32"), "f0_kind": datasets.Value("string"),
        "patch": datasets.Sequence(datasets.Value("float32")),
        "loudness_curve": datasets.Sequence(datasets.Value("float32")),
    })
    hf = datasets.Dataset.from_generator(items, gen_kwargs={"ds": ds, "indices": picked}, features=features,
                                         cache_dir=str(offline_cache))
    assert len(hf) == len(picked)
    assert any(offline_cache.rglob("*.arrow"))  # written to the temp cache, not the user's
    for row, i in zip(hf, picked):
        item = ds[i]
        np.testing.assert_array_equal(np.asarray(row["audio"], np.float32), item["audio"].numpy())  # bit-identical
        assert row["note"] == int(item["note"]) and row["velocity"] == int(item["velocity"])
        assert row["name"] == item["name"] and len(row["patch"]) == 145
    # the torch format hands back tensors, as a training loop would use them
    t = hf.with_format("torch")[0]
    assert t["audio"].shape == (int(0.25 * SR),) and t["note"].item() == int(ds[0]["note"])
    # a second build with the same generator and arguments is served from the cache
    again = datasets.Dataset.from_generator(items, gen_kwargs={"ds": ds, "indices": picked}, features=features,
                                            cache_dir=str(offline_cache))
    assert again["note"] == hf["note"]
