"""What machine the benchmarks ran on (shared by kernels.py and epoch.py)."""

from descend.benchmarks import cpu_model

__all__ = ["cpu_model"]
