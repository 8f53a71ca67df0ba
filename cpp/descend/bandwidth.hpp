// Memory-bandwidth probes: the floor every kernel is measured against. No Python here.
#pragma once

#include <cstddef>

#include "descend/common.hpp"

namespace descend {

// Sum of all elements, read once with n_threads threads (a parallel read of X).
template <class T>
double parallel_sum(const T* x, std::size_t n, int n_threads) {
    double total = 0.0;
    const int nt = threads_for(n_threads, n, std::size_t(1) << 16);
#pragma omp parallel for simd schedule(static) num_threads(nt) reduction(+ : total)
    for (std::size_t i = 0; i < n; ++i) total += static_cast<double>(x[i]);
    return total;
}

// x = a * x + b in place: one read and one write of every element.
template <class T>
void parallel_scale_shift(T* x, std::size_t n, T a, T b, int n_threads) {
    const int nt = threads_for(n_threads, n, std::size_t(1) << 16);
#pragma omp parallel for simd schedule(static) num_threads(nt)
    for (std::size_t i = 0; i < n; ++i) x[i] = a * x[i] + b;
}

}  // namespace descend
