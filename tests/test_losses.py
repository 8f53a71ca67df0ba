"""The C++ losses against descend.reference, on random and edge-case inputs."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import descend
from descend import losses, reference
from conftest import assert_close

DTYPES = [np.float64, np.float32]
LINEAR = ["squared_error", "logistic"]


def make_problem(rng, kind, n, d, dtype, K=3, scale=1.0):
    X = rng.standard_normal((n, d)).astype(dtype)
    if kind == "softmax_cross_entropy":
        y = rng.integers(0, K, n)
        w = (scale * rng.standard_normal((d, K))).astype(dtype)
        b = rng.standard_normal(K).astype(dtype)
    else:
        y = rng.standard_normal(n) if kind == "squared_error" else (rng.random(n) < 0.5).astype(float)
        y = y.astype(dtype)
        w = (scale * rng.standard_normal(d)).astype(dtype)
        b = float(rng.standard_normal())
    return X, y, w, b


def check_against_reference(kind, X, y, w, b, dtype, **kw):
    loss, gw, gb = getattr(losses, kind)(X, y, w, b, **kw)
    kw.pop("n_threads", None)
    rloss, rgw, rgb = getattr(reference, kind)(X, y, w, b, **kw)
    assert gw.dtype == np.dtype(dtype) and gw.shape == np.shape(w)
    assert np.isfinite(loss) and np.all(np.isfinite(gw)) and np.all(np.isfinite(gb))
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    assert loss == pytest.approx(rloss, rel=rtol, abs=rtol)
    scale = max(np.max(np.abs(rgw)), np.max(np.abs(rgb)))
    assert_close(gw, rgw, dtype, scale)
    assert_close(gb, rgb, dtype, scale)
    return loss, gw, gb


KINDS = LINEAR + ["softmax_cross_entropy"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,d", [(1, 1), (1, 7), (7, 1), (8, 3), (13, 5), (600, 17), (5000, 40)])
def test_matches_reference(rng, kind, dtype, n, d):
    X, y, w, b = make_problem(rng, kind, n, d, dtype)
    check_against_reference(kind, X, y, w, b, dtype)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_penalty_and_sample_weight(rng, kind, dtype):
    X, y, w, b = make_problem(rng, kind, 1234, 9, dtype)
    w.flat[0] = 0  # sign(0) = 0 in the L1 subgradient
    sw = rng.random(1234) * 3
    sw[::7] = 0
    for alpha, l1_ratio in [(0.1, 0.0), (0.3, 1.0), (0.05, 0.4)]:
        check_against_reference(kind, X, y, w, b, dtype, alpha=alpha, l1_ratio=l1_ratio, sample_weight=sw)


@pytest.mark.parametrize("kind", KINDS)
def test_integer_sample_weight_repeats_rows(rng, kind):
    X, y, w, b = make_problem(rng, kind, 50, 4, np.float64)
    sw = rng.integers(0, 4, 50)
    sw[0] = 1
    f = getattr(losses, kind)
    weighted = f(X, y, w, b, sample_weight=sw.astype(float))
    rows = np.repeat(np.arange(50), sw)
    repeated = f(np.ascontiguousarray(X[rows]), y[rows], w, b)
    assert weighted[0] == pytest.approx(repeated[0], rel=1e-12)
    np.testing.assert_allclose(weighted[1], repeated[1], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
@given(n=st.integers(1, 300), d=st.integers(1, 24), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([1e-3, 1.0, 30.0]), kind=st.sampled_from(KINDS), weighted=st.booleans())
@settings(max_examples=60, deadline=None)
def test_random_problems(dtype, n, d, seed, scale, kind, weighted):
    rng = np.random.default_rng(seed)
    X, y, w, b = make_problem(rng, kind, n, d, dtype, K=int(rng.integers(1, 6)), scale=scale)
    if kind == "softmax_cross_entropy":
        y = np.minimum(y, w.shape[1] - 1)
    sw = rng.random(n) + 0.01 if weighted else None
    check_against_reference(kind, X, y, w, b, dtype, sample_weight=sw, alpha=0.01, l1_ratio=0.5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("z", [1e4, -1e4, 800.0, -800.0, 40.0, -40.0, 0.0])
def test_logistic_stable_for_huge_margins(dtype, z):
    X = np.array([[1.0], [-1.0], [0.5]], dtype=dtype)
    w = np.array([z], dtype=dtype)
    for label in (0.0, 1.0):
        y = np.full(3, label, dtype=dtype)
        loss, gw, gb = check_against_reference("logistic", X, y, w, 0.0, dtype)
        assert np.isfinite(loss) and loss >= 0


def test_logistic_values_at_extremes():
    # Right label with a margin of 1e4: loss 0 and gradient 0; wrong label: loss = margin.
    X = np.array([[1.0]])
    loss, gw, gb = losses.logistic(X, np.array([1.0]), np.array([1e4]), 0.0)
    assert loss == 0.0 and gw[0] == 0.0 and gb == 0.0
    loss, gw, gb = losses.logistic(X, np.array([0.0]), np.array([1e4]), 0.0)
    assert loss == pytest.approx(1e4) and gw[0] == pytest.approx(1.0) and gb == pytest.approx(1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_stable_for_huge_logits(dtype):
    X = np.array([[1.0, -2.0], [3.0, 0.5]], dtype=dtype)
    W = np.array([[1e4, -1e4, 0.0], [5e3, 0.0, -5e3]], dtype=dtype)
    for y in ([0, 1], [2, 2], [1, 0]):
        check_against_reference("softmax_cross_entropy", X, np.array(y), W, np.zeros(3, dtype), dtype)


def test_softmax_with_two_classes_is_logistic(rng):
    X, y, w, b = make_problem(rng, "logistic", 200, 6, np.float64)
    W = np.stack([np.zeros(6), w], axis=1)
    loss, gW, gb = losses.softmax_cross_entropy(X, y.astype(int), W, np.array([0.0, b]))
    lloss, lgw, lgb = losses.logistic(X, y, w, b)
    assert loss == pytest.approx(lloss, rel=1e-12)
    np.testing.assert_allclose(gW[:, 1], lgw, rtol=1e-10, atol=1e-15)
    assert gb[1] == pytest.approx(lgb, rel=1e-10)


@pytest.mark.parametrize("kind", LINEAR)
def test_zero_gradient_at_exact_fit(kind):
    X = np.array([[1.0, 2.0], [3.0, -1.0], [0.0, 1.0]])
    w, b = np.array([0.5, -0.25]), 0.125
    if kind == "squared_error":
        y = X @ w + b
    else:  # logistic optimum of soft labels equal to the model's own probabilities
        y = 1.0 / (1.0 + np.exp(-(X @ w + b)))
    loss, gw, gb = getattr(losses, kind)(X, y, w, b)
    np.testing.assert_allclose(gw, 0.0, atol=1e-15)
    assert abs(gb) < 1e-15


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_identical_for_any_thread_count(rng, kind, dtype):
    X, y, w, b = make_problem(rng, kind, 40_000, 30, dtype)
    results = [getattr(losses, kind)(X, y, w, b, n_threads=t) for t in (1, 2, 3, 4, 7, -1)]
    for loss, gw, gb in results[1:]:
        assert loss == results[0][0]
        assert np.array_equal(gw, results[0][1])
        assert np.array_equal(gb, results[0][2])


@pytest.mark.parametrize("kind", LINEAR)
@pytest.mark.parametrize("dtype", DTYPES)
def test_no_copy_of_X(rng, kind, dtype):
    import tracemalloc

    X, y, w, b = make_problem(rng, kind, 50_000, 40, dtype)  # 8 or 16 MB
    getattr(losses, kind)(X, y, w, b)
    tracemalloc.start()
    try:
        getattr(losses, kind)(X, y, w, b)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 20


def test_other_layouts_are_converted_with_a_warning(rng):
    X, y, w, b = make_problem(rng, "logistic", 100, 5, np.float64)
    expected = losses.logistic(X, y, w, b)
    with pytest.warns(descend.CopyWarning, match="C-contiguous"):
        got = losses.logistic(np.asfortranarray(X), y, w, b)
    assert got[0] == pytest.approx(expected[0], rel=1e-13)
    with pytest.warns(descend.CopyWarning, match=r"to a C-contiguous float64 array .* dtype=np\.float64\)") as info:
        losses.logistic((X * 10).astype(np.int64), y, w, b)
    assert info[0].filename == __file__  # pointing at the caller's line
    with pytest.raises(ValueError, match="X must be 2-dimensional"), warnings.catch_warnings():
        warnings.simplefilter("error")  # refused before any copy
        losses.logistic(X[:, 0], y, w, b)
    # Lists are not arrays: converted quietly.
    got = losses.logistic(X.tolist(), y.tolist(), w.tolist(), b)
    assert got[0] == pytest.approx(expected[0], rel=1e-13)


@pytest.mark.parametrize("kind", LINEAR)
def test_intercept_none_is_zero(rng, kind):
    X, y, w, _ = make_problem(rng, kind, 20, 3, np.float64)
    for got, expected in zip(getattr(losses, kind)(X, y, w, None), getattr(losses, kind)(X, y, w, 0.0)):
        np.testing.assert_array_equal(got, expected)


def test_float32_X_gives_float32_gradients(rng):
    X, y, w, b = make_problem(rng, "logistic", 100, 5, np.float32)
    loss, gw, gb = losses.logistic(X, y, w.astype(np.float64), b)
    assert gw.dtype == np.float32 and isinstance(loss, float) and isinstance(gb, float)


BAD_INPUTS = [
    (dict(X=np.zeros(5)), ValueError, "X must be 2-dimensional"),
    (dict(X=np.zeros((0, 3))), ValueError, "at least one row"),
    (dict(X=np.array([["a", "b"]])), TypeError, "X must be a numeric array"),
    (dict(y=np.zeros(4)), ValueError, r"y must have shape \(5,\)"),
    (dict(w=np.zeros(2)), ValueError, r"w must have shape \(3,\)"),
    (dict(b=np.zeros(2)), ValueError, "b must be a scalar"),
    (dict(b="x"), TypeError, "b must be a number"),
    (dict(alpha=-1.0), ValueError, "alpha must be >= 0"),
    (dict(l1_ratio=1.5), ValueError, "l1_ratio must be <= 1"),
    (dict(alpha=float("nan")), ValueError, "alpha must be finite"),
    (dict(sample_weight=-np.ones(5)), ValueError, "sample_weight must be finite and non-negative"),
    (dict(sample_weight=np.zeros(5)), ValueError, "positive sum"),
    (dict(sample_weight=np.ones(3)), ValueError, "sample_weight must have shape"),
    (dict(n_threads=0), ValueError, "n_threads"),
    (dict(n_threads=1.5), TypeError, "n_threads must be None or an int"),
]


@pytest.mark.parametrize("kind", LINEAR)
@pytest.mark.parametrize("override,exc,match", BAD_INPUTS)
def test_bad_input_raises_clear_errors(kind, override, exc, match):
    args = dict(X=np.ones((5, 3)), y=np.zeros(5), w=np.zeros(3), b=0.0)
    args.update(override)
    with pytest.raises(exc, match=match):
        getattr(losses, kind)(**args)


def test_sparse_input_is_refused():
    sparse = pytest.importorskip("scipy.sparse")  # scipy comes with scikit-learn
    with pytest.raises(TypeError, match="sparse input is not supported yet"):
        losses.squared_error(sparse.csr_matrix(np.eye(3)), np.zeros(3), np.zeros(3))


def test_logistic_rejects_labels_outside_0_1():
    with pytest.raises(ValueError, match="y must hold labels 0 or 1"):
        losses.logistic(np.ones((3, 2)), np.array([0.0, 1.0, 2.0]), np.zeros(2))


@pytest.mark.parametrize("y,exc,match", [
    (np.array([0, 3, 1]), ValueError, r"class ids in \[0, 3\)"),
    (np.array([0, -1, 1]), ValueError, "class ids"),
    (np.array([0.5, 1.0, 2.0]), TypeError, "integer class ids"),
    (np.array([0, 1, 2**64 - 5], dtype=np.uint64), ValueError, "got values from 0 to 18446744073709551611"),
    (np.array([0.0, 1.0, 1e30]), ValueError, r"got values from 0.0 to 1e\+30"),  # not wrapped by a cast
])
def test_softmax_rejects_bad_labels(y, exc, match):
    with pytest.raises(exc, match=match):
        losses.softmax_cross_entropy(np.ones((3, 2)), y, np.zeros((2, 3)))


def test_softmax_rejects_bad_shapes():
    with pytest.raises(ValueError, match="W must have shape"):
        losses.softmax_cross_entropy(np.ones((3, 2)), np.zeros(3, int), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="b must have shape"):
        losses.softmax_cross_entropy(np.ones((3, 2)), np.zeros(3, int), np.zeros((2, 3)), np.zeros(2))


def test_softmax_accepts_whole_float_labels():
    X = np.eye(3)
    a = losses.softmax_cross_entropy(X, np.array([0.0, 2.0, 1.0]), np.ones((3, 3)))
    b = losses.softmax_cross_entropy(X, np.array([0, 2, 1]), np.ones((3, 3)))
    assert a[0] == b[0]
