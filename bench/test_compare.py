"""Smoke test of the side-by-side comparison (``descend bench`` / ``bench/compare.py``) on tiny
problems: every section runs, every contender produces a time, the models it races are trained
(descend's objective is below its starting point), and JSON, Markdown and the plot are written."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest

from descend import benchmarks


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    files = {"json_file": tmp / "r.json", "markdown_file": tmp / "r.md", "plot_file": tmp / "r.png"}
    res = benchmarks.run(quick=True, rows=[2000, 4000], params=[20_000], progress=False, **files)
    return res, files


def test_every_section_and_contender_is_measured(results):
    res, _ = results
    assert {"machine", "floor", "steps", "epochs", "target"} <= set(res)
    assert res["floor"]["read"] > 1e8 and res["floor"]["update"] > 1e8  # bytes/s
    for rec in res["steps"]:
        assert {"descend", "descend 1t", "reference"} <= set(rec["times"])
        assert all(t > 0 for t in rec["times"].values())
    names = {r["name"] for r in res["epochs"]}
    assert {"breast_cancer", "diabetes", "logistic 2kx100", "linear 4kx100"} <= names
    for rec in res["epochs"]:
        assert {"descend", "descend 1t", "descend in order", "descend runs", "numpy", "sklearn"} <= set(rec["times"])
        assert 0 < rec["gather_floor_s"] < 10 and 0 < rec["floor_s"] < 10
        assert all(t > 0 and math.isfinite(t) for t in rec["times"].values())
        # the measured epochs trained: descend, the NumPy loop and PyTorch run the same optimizer
        # (descend starts logistic models at the prior's intercept and standardizes y inside)
        o = rec["objective"]
        assert o["descend"] < rec["objective_start"]
        for key in ("numpy", "torch"):
            if key in o:
                assert o[key] < rec["objective_start"]
                assert o[key] == pytest.approx(o["descend"], rel=0.15), (rec["name"], key)
        assert rec["memory"]["descend"] < 0.6 * rec["x_bytes"] + 64 * rec["rows"]  # no copy of X


def test_the_race_to_the_optimum(results):
    res, _ = results
    t = res["target"]
    assert t["optimum"] > 0 and t["goal"] == pytest.approx(t["optimum"] * 1.01)
    d = t["contenders"]["descend"]
    assert d["epochs"] >= 1 and d["objective"] < np.log(2)  # better than the zero model
    if d["reached"]:
        assert d["objective"] <= t["goal"] and d["seconds"] > 0


def test_outputs_are_written(results):
    res, files = results
    loaded = json.loads(files["json_file"].read_text())
    assert loaded["epochs"][0]["times"]["descend"] == pytest.approx(res["epochs"][0]["times"]["descend"])
    md = files["markdown_file"].read_text()
    assert "| epoch, Adam, batch 256 |" in md and "| optimizer step (float32) |" in md
    assert "shuffled floor" in md
    if importlib.util.find_spec("matplotlib") is not None:
        png = files["plot_file"].read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    else:
        assert not files["plot_file"].exists()


def test_bad_arguments():
    with pytest.raises(ValueError, match="sections"):
        benchmarks.run(sections=["floor", "nope"], progress=False)
    with pytest.raises(ValueError, match="rows"):
        benchmarks.run(rows=[1], sections=["floor"], progress=False)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_shuffled_floor_reads_every_row_in_the_given_order(dtype):
    from descend import _core

    X = np.random.default_rng(0).standard_normal((1000, 7)).astype(dtype)
    order = np.random.default_rng(1).permutation(1000)
    for threads in (1, 2):
        assert _core.bandwidth_gather(X, order, threads) == pytest.approx(float(X.sum(dtype=np.float64)), rel=1e-9)
    assert _core.bandwidth_gather(X, order[:10], 2) == pytest.approx(float(X[order[:10]].sum(dtype=np.float64)))
    assert benchmarks.gather_floor(X, 2, 3) > 0
    with pytest.raises(IndexError, match="order"):
        _core.bandwidth_gather(X, np.array([0, 1000]), 1)
    with pytest.raises(IndexError, match="order"):
        _core.bandwidth_gather(X, np.array([-1]), 1)
    with pytest.raises(ValueError, match="2-D"):
        _core.bandwidth_gather(X[0], order, 1)
