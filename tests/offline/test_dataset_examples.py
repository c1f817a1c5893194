"""The examples run (tiny settings): the training loop on the Dataset and the sweep example."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support.paths import REPO  # noqa: E402
ENV = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}


def test_train_dataset_example_runs(tmp_path):
    r = subprocess.run([sys.executable, str(REPO / "examples" / "train_dataset.py"), "--steps", "3",
                        "--workers", "0", "--batch", "4"], capture_output=True, text=True, cwd=tmp_path, env=ENV)
    assert r.returncode == 0, r.stderr
    assert "step    3" in r.stdout and "validation mean |error|" in r.stdout


def test_sweep_example_runs(tmp_path):
    out = tmp_path / "lib"
    r = subprocess.run([sys.executable, str(REPO / "examples" / "sweep_bank.py"), str(out), "--voices", "1",
                        "--notes", "48:60:12", "--velocities", "100", "--hold", "0.1", "--release", "0.1"],
                       capture_output=True, text=True, cwd=tmp_path, env=ENV)
    assert r.returncode == 0, r.stderr
    examples = json.loads((out / "examples.json").read_text())
    assert sorted(e["pitch"] for e in examples.values()) == [48, 60]
    assert len(list((out / "sfz").glob("*.sfz"))) == 1
