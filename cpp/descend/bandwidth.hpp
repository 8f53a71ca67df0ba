// Memory-bandwidth probes: the floor every kernel is measured against. No Python here.
#pragma once

#include <cstddef>

#include "descend/common.hpp"

namespace descend {

template <class T>
DESCEND_CLONES double sum_chunk(const T* DESCEND_RESTRICT x, std::size_t n) {
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(x[i]);
    return s;
}

// Sum of all elements, read once with n_threads threads (a parallel read of X): each thread
// sums one contiguous range with the widest vector code the CPU has.
template <class T>
double parallel_sum(const T* x, std::size_t n, int n_threads) {
    double total = 0.0;
    const int nt = threads_for(n_threads, n, std::size_t(1) << 16);
#pragma omp parallel num_threads(nt) reduction(+ : total)
    {
#ifdef _OPENMP
        const std::size_t t = static_cast<std::size_t>(omp_get_thread_num()), k = static_cast<std::size_t>(omp_get_num_threads());
#else
        const std::size_t t = 0, k = 1;
#endif
        const std::size_t lo = n * t / k, hi = n * (t + 1) / k;
        total += sum_chunk(x + lo, hi - lo);
    }
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
