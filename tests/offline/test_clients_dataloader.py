"""DX7BatchDataset shuffling through real torch DataLoaders, persistent workers included."""
from __future__ import annotations

import numpy as np
import pytest
from torch.utils.data import DataLoader

from dx7live import DX7BatchDataset, DX7Dataset
from dx7live.patch.voice import Voice


def small() -> DX7Dataset:
    voices = []
    for k in range(4):
        v = Voice.init()
        v.op[1].coarse = 1 + k
        v.name = f"V{k}"
        voices.append(v)
    return DX7Dataset(voices, notes=[48, 60, 72], velocities=[100], sample_rate=8000, duration=0.05,
                      note_duration=0.03, threads=1)


def epoch_orders(loader: DataLoader, batches: DX7BatchDataset, epochs: int, call_set_epoch: bool) -> list[list[int]]:
    out = []
    for e in range(epochs):
        if call_set_epoch:
            batches.set_epoch(e)
        out.append([i for b in loader for i in b["index"].tolist()])
    return out


def expected(batches: DX7BatchDataset, epoch: int, workers: int) -> list[int]:
    """Epoch ``epoch`` as a DataLoader with ``workers`` workers yields it (round-robin)."""
    b = batches.batch_indices(epoch)
    dealt = [b[w::workers] for w in range(workers)]
    out = []
    for k in range(max(len(d) for d in dealt)):
        for d in dealt:
            if k < len(d):
                out += d[k].tolist()
    return out


@pytest.mark.parametrize("persistent", [True, False])
@pytest.mark.parametrize("call_set_epoch", [True, False])
def test_shuffle_differs_per_epoch_and_is_reproducible(persistent, call_set_epoch):
    ds = small()
    batches = DX7BatchDataset(ds, batch_size=2, shuffle=True, seed=7)
    loader = DataLoader(batches, batch_size=None, num_workers=2, persistent_workers=persistent)
    orders = epoch_orders(loader, batches, 3, call_set_epoch)
    for e, order in enumerate(orders):
        assert sorted(order) == list(range(len(ds)))
        assert order == expected(batches, e, 2)  # a function of (seed, epoch) alone
    assert len({tuple(o) for o in orders}) == 3, orders  # every epoch its own order
    # the same (seed, epochs) again, in a new dataset and loader: the same orders
    again = DX7BatchDataset(ds, batch_size=2, shuffle=True, seed=7)
    loader2 = DataLoader(again, batch_size=None, num_workers=2, persistent_workers=persistent)
    assert epoch_orders(loader2, again, 3, call_set_epoch) == orders


def test_main_process_and_set_epoch_jumps():
    ds = small()
    batches = DX7BatchDataset(ds, batch_size=2, shuffle=True, seed=3)
    first = [i for b in batches for i in b["index"].tolist()]
    second = [i for b in batches for i in b["index"].tolist()]
    assert first != second and batches.epoch == 2
    batches.set_epoch(0)
    assert [i for b in batches for i in b["index"].tolist()] == first
    batches.set_epoch(5)
    loader = DataLoader(batches, batch_size=None, num_workers=2, persistent_workers=True)
    order5 = [i for b in loader for i in b["index"].tolist()]
    assert order5 == expected(batches, 5, 2)
    order6 = [i for b in loader for i in b["index"].tolist()]  # advanced without set_epoch
    assert order6 == expected(batches, 6, 2) and order6 != order5
    assert not np.array_equal(batches.batch_indices(5)[0], batches.batch_indices(6)[0]) or order5 != order6


def test_spawned_persistent_workers_follow_set_epoch():
    ds = small()
    batches = DX7BatchDataset(ds, batch_size=2, shuffle=True, seed=11)
    loader = DataLoader(batches, batch_size=None, num_workers=2, persistent_workers=True,
                        multiprocessing_context="spawn")
    orders = epoch_orders(loader, batches, 3, True)
    assert [expected(batches, e, 2) for e in range(3)] == orders and len({tuple(o) for o in orders}) == 3
