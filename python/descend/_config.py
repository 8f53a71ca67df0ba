"""Build and runtime configuration of the compiled core."""

from __future__ import annotations

import sys

import numpy as np

from . import _core
from ._validation import cpu_count

_OPENMP_VERSIONS = {201107: "3.1", 201307: "4.0", 201511: "4.5", 201811: "5.0", 202011: "5.1", 202111: "5.2"}


def show_config(file=None) -> dict:
    """Print how descend was built and how it will run here, and return it as a dict.

    Keys: ``version``, ``compiler``, ``build_type``, ``openmp`` (bool), ``openmp_version``,
    ``default_threads`` (what ``n_threads=None`` resolves to now), ``cpu_count``,
    ``simd_baseline`` (instruction sets every kernel may use), ``simd_dispatch`` (the levels the
    hot kernels are compiled for, picked at load time), ``simd_runtime`` (the level in use on
    this CPU), ``native`` (built with -march=native), ``python``, ``numpy``.
    """
    info = _core.build_info()
    openmp_version = None
    if info["openmp"]:
        openmp_version = info["openmp_version"] or _OPENMP_VERSIONS.get(info["openmp_date"], str(info["openmp_date"]))
    config = {
        "version": info["version"],
        "compiler": info["compiler"],
        "build_type": info["build_type"],
        "openmp": bool(info["openmp"]),
        "openmp_version": openmp_version,
        "default_threads": int(_core.max_threads()),
        "cpu_count": cpu_count(),
        "simd_baseline": list(info["baseline_isa"]),
        "simd_dispatch": info["dispatch_targets"] or "none (single target)",
        "simd_runtime": info["runtime_target"],
        "native": bool(info["native"]),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
    }
    width = max(map(len, config))
    lines = [f"descend {config['version']}"]
    for key, value in config.items():
        if key != "version":
            shown = ", ".join(value) if isinstance(value, list) else value
            lines.append(f"  {key:<{width}}  {shown}")
    print("\n".join(lines), file=file or sys.stdout)
    return config
