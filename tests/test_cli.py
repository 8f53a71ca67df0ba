"""The descend command: demo, info, bench, and its errors."""

import json
import subprocess
import sys

import pytest

from descend import cli


def _rows(out, prefix):
    return [line for line in out.splitlines() if line.startswith(prefix)]


def test_demo_trains_every_optimizer_toward_the_optimum(capsys, tmp_path):
    png = tmp_path / "curves.png"
    assert cli.main(["demo", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "breast_cancer" in out and "exact optimum" in out
    table = [line.split() for line in out.splitlines() if line.split() and line.split()[0].isdigit()]
    epochs = [int(r[0]) for r in table]
    assert epochs == [1, 2, 5, 10, 20, 50, 100]
    gaps = [[float(v) for v in r[1:]] for r in table]  # columns: sgd, momentum, adam
    for col in range(3):
        series = [g[col] for g in gaps]
        assert all(g >= -1e-12 for g in series)  # never below the exact optimum
        assert series[-1] < series[0] / 20  # and far closer to it at the end
    sgd, momentum, adam = gaps[-1]
    assert momentum < sgd / 10 and adam < sgd / 10  # momentum and Adam roll through the flat region
    assert momentum < 1e-3 and adam < 1e-3
    final = _rows(out, ("sgd lr", "momentum lr", "adam lr"))
    assert len(final) == 3
    for row in final:
        assert float(row.split()[-2]) > 0.9  # test accuracy
    assert f"learning curves: {png}" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_demo_is_deterministic(capsys):
    outs = []
    for _ in range(2):
        assert cli.main(["demo", "--epochs", "5", "--plot", ""]) == 0
        out = capsys.readouterr().out
        outs.append([line for line in out.splitlines() if line.split() and line.split()[0].isdigit()])
    assert outs[0] == outs[1] and len(outs[0]) == 3  # epochs 1, 2, 5


def test_demo_without_matplotlib_says_how_to_get_the_plot(capsys, monkeypatch, tmp_path):
    real_find_spec = cli.importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real_find_spec(name, *a))
    assert cli.main(["demo", "--epochs", "2", "--plot", str(tmp_path / "x.png")]) == 0
    assert "pip install 'descend[plot]'" in capsys.readouterr().out
    assert not (tmp_path / "x.png").exists()


def test_info_prints_the_config(capsys):
    assert cli.main(["info"]) == 0
    assert "openmp" in capsys.readouterr().out


def test_bench_runs_and_writes_its_results(capsys, tmp_path):
    js = tmp_path / "b.json"
    assert cli.main(["bench", "--quick", "--rows", "1000", "--params", "1000", "--sections", "floor,steps",
                     "--json", str(js), "--threads", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Memory bandwidth" in out and "Adam 0.001M" in out
    res = json.loads(js.read_text())
    assert res["machine"]["n_threads"] == 1 and len(res["steps"]) == 4


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "usage: descend" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["demo", "--epochs", "0"], ["demo", "--epochs", "x"], ["demo", "--batch-size", "0"], ["nope"],
    ["bench", "--rows", "0"], ["bench", "--rows", "1"], ["bench", "--rows", "1.5"], ["bench", "--rows", "inf"],
    ["bench", "--rows", "a,b"], ["bench", "--params", "0"], ["bench", "--sections", "floor,nope"],
    ["bench", "--threads", "0"], ["bench", "--sections", "floor,steps", "--plot", "x.png"],
    ["demo", "--plot", "/nonexistent-folder/x.png"], ["bench", "--json", "/nonexistent-folder/r.json"],
])
def test_bad_arguments_exit_with_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_help_reads_well(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("demo", "info", "bench"):
        assert command in out
    for command in ("demo", "info", "bench"):  # each command's own help, formatted
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        out = capsys.readouterr().out
        assert "usage: " in out and "%%" not in out


def test_python_dash_m_entry_point():
    done = subprocess.run([sys.executable, "-m", "descend", "info"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("descend ")
