// Memory-bandwidth probes: the floor every kernel is measured against. No Python here.
#pragma once

#include <algorithm>
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

// The sum of fn(lo, hi) over [0, n) cut into one contiguous range per thread.
template <class Fn>
double sum_over_thread_ranges(std::size_t n, std::size_t work, int n_threads, Fn&& fn) {
    double total = 0.0;
    const int nt = threads_for(n_threads, work, std::size_t(1) << 16);
#pragma omp parallel num_threads(nt) reduction(+ : total)
    {
#ifdef _OPENMP
        const std::size_t t = static_cast<std::size_t>(omp_get_thread_num()), k = static_cast<std::size_t>(omp_get_num_threads());
#else
        const std::size_t t = 0, k = 1;
#endif
        total += fn(n * t / k, n * (t + 1) / k);
    }
    return total;
}

// Sum of all elements, read once with n_threads threads (a parallel read of X): each thread
// sums one contiguous range with the widest vector code the CPU has.
template <class T>
double parallel_sum(const T* x, std::size_t n, int n_threads) {
    return sum_over_thread_ranges(n, n, n_threads,
                                  [x](std::size_t lo, std::size_t hi) { return sum_chunk(x + lo, hi - lo); });
}

// Sum of the rows of X (n x d, C order) in the order given, with n_threads threads: the read a
// shuffled epoch must do. Its time is the floor for visiting X's rows in a random order, which
// memory serves slower than a stream. Each row is fetched into L2 64 rows ahead of its sum (at
// most 256 KB of rows, at least 16 rows), the fastest of the distances measured here: 1M x 100
// rows on two threads, float64 33.5-38 ms at 32-96 rows ahead against 43-46 at 16, float32
// 21-22 against 27-32. (The loss kernels fetch 16 rows ahead: farther measured no faster there.)
template <class T>
DESCEND_CLONES double gather_sum_range(const T* X, std::size_t d, const index_t* order, std::size_t lo,
                                       std::size_t hi) {
    const std::size_t ahead = std::clamp<std::size_t>((std::size_t(256) << 10) / (d * sizeof(T) + 1), 16, 64);
    double total = 0.0;
    for (std::size_t i = lo; i < hi; ++i) {
        if (i + ahead < hi) prefetch_row(X + static_cast<std::size_t>(order[i + ahead]) * d, d);
        total += sum_chunk(X + static_cast<std::size_t>(order[i]) * d, d);
    }
    return total;
}

template <class T>
double parallel_gather_sum(const T* X, std::size_t d, const index_t* order, std::size_t n, int n_threads) {
    return sum_over_thread_ranges(n, n * d, n_threads, [=](std::size_t lo, std::size_t hi) {
        return gather_sum_range(X, d, order, lo, hi);
    });
}

// x = a * x + b in place: one read and one write of every element.
template <class T>
void parallel_scale_shift(T* x, std::size_t n, T a, T b, int n_threads) {
    const int nt = threads_for(n_threads, n, std::size_t(1) << 16);
#pragma omp parallel for simd schedule(static) num_threads(nt)
    for (std::size_t i = 0; i < n; ++i) x[i] = a * x[i] + b;
}

}  // namespace descend
