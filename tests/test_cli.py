"""The descend command."""

import subprocess
import sys

import pytest

from descend import cli


def test_demo_trains_every_optimizer_toward_the_optimum(capsys):
    assert cli.main(["demo", "--steps", "400"]) == 0
    out = capsys.readouterr().out
    assert "breast_cancer" in out and "exact optimum" in out
    rows = [line for line in out.splitlines() if line.startswith(("sgd ", "momentum ", "adam "))]
    gap_rows, final_rows = rows[:3], rows[3:]
    for row in gap_rows:
        gaps = [float(v) for v in row.split()[-8:]]
        assert all(g >= -1e-12 for g in gaps), row  # never below the exact optimum
        assert gaps[-1] < gaps[0] / 100, row  # and far closer to it at the end
    momentum_gap = float(gap_rows[1].split()[-1])
    sgd_gap = float(gap_rows[0].split()[-1])
    assert momentum_gap < sgd_gap / 100  # momentum rolls through the flat region
    for row in final_rows:
        assert float(row.split()[-2]) > 0.9  # test accuracy


def test_info_prints_the_config(capsys):
    assert cli.main(["info"]) == 0
    assert "openmp" in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "usage: descend" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["demo", "--steps", "0"], ["demo", "--steps", "x"], ["nope"]])
def test_bad_arguments_exit_with_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_python_dash_m_entry_point():
    done = subprocess.run([sys.executable, "-m", "descend", "info"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("descend ")
