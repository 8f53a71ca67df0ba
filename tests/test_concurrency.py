"""Training from several threads and processes at once, and at interpreter exit: the epoch's
threads wait by spinning, yielding, then sleeping, so other work gets the cores; no deadlock, no
changed result, no aborted process."""

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from descend import LogisticRegression


def _problem(n=20_000, d=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (X @ rng.standard_normal(d) + rng.standard_normal(n) > 0).astype(np.float64)
    return X, y


def _model(seed):
    # batches of 512 rows: each epoch runs as a team of two threads
    return LogisticRegression(batch_size=512, max_iter=4, tol=None, random_state=seed, n_threads=2)


def test_fits_in_concurrent_threads_equal_sequential_fits():
    """Three fits at once, each with two threads: more threads than cores, so helpers wait long
    enough to sleep and must be woken. Each model is, to the bit, the one fitted alone."""
    X, y = _problem()
    alone = [_model(seed).fit(X, y).coef_ for seed in range(3)]
    together = [None] * 3

    def fit(i):
        together[i] = _model(i).fit(X, y).coef_

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a concurrent fit hung"
    for a, b in zip(alone, together):
        assert b is not None and np.array_equal(a, b)


def test_a_fit_beside_busy_processes_equals_the_one_thread_fit():
    """Two busy processes take the cores: the team's helpers are seldom running, its caller
    waits long for them and hands batches to itself alone, then tries the team again. The
    switching changes the speed, never the model."""
    X, y = _problem(n=50_000)
    one = LogisticRegression(batch_size=512, max_iter=3, tol=None, random_state=5, n_threads=1).fit(X, y).coef_
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        two = LogisticRegression(batch_size=512, max_iter=3, tol=None, random_state=5, n_threads=2).fit(X, y).coef_
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert np.array_equal(one, two)


_FIT_AND_PRINT = textwrap.dedent(
    """
    import numpy as np
    from descend import LogisticRegression
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 40))
    y = (X @ rng.standard_normal(40) > 0).astype(np.float64)
    m = LogisticRegression(batch_size=512, max_iter=3, tol=None, random_state=1, n_threads=2).fit(X, y)
    print(m.coef_.tobytes().hex())
    """
)


def _run(code, env_extra=None, timeout=120):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("policy", ["passive", "active"])
def test_omp_wait_policy_changes_how_threads_wait_not_the_model(policy):
    """OMP_WAIT_POLICY=passive: helpers sleep at once between steps (every step a wake-up);
    active: they never sleep. Same model as the default either way."""
    default = _run(_FIT_AND_PRINT)
    other = _run(_FIT_AND_PRINT, {"OMP_WAIT_POLICY": policy})
    assert default.returncode == 0 and other.returncode == 0, default.stderr + other.stderr
    assert other.stdout == default.stdout and len(default.stdout) > 100


@pytest.mark.parametrize("n_threads", [1, 2])
def test_a_daemon_thread_fitting_at_interpreter_exit_does_not_abort_the_process(n_threads):
    """Python ends a daemon thread that takes the GIL back during finalization by unwinding its
    stack, which C++ frames turn into std::terminate; the thread is parked instead."""
    code = textwrap.dedent(
        f"""
        import threading, time
        import numpy as np
        from descend import LogisticRegression
        rng = np.random.default_rng(0)
        X = rng.standard_normal((100_000, 100))
        y = (X[:, 0] > 0).astype(np.float64)
        def work():
            m = LogisticRegression(batch_size=512, n_threads={n_threads})
            while True:
                m.partial_fit(X, y, classes=[0.0, 1.0])
        threading.Thread(target=work, daemon=True).start()
        time.sleep(0.5)
        junk = [list(range(100)) for _ in range(200_000)]  # a slower finalization
        print("main exits")
        """
    )
    for _ in range(2):
        out = _run(code)
        assert out.returncode == 0 and out.stdout.strip() == "main exits", (out.returncode, out.stderr[-500:])
