// Shared building blocks of the descend core: multi-versioning, thread counts, row blocking.
// No Python here.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

// Hot kernels are compiled for several x86-64 levels and picked at load time (GCC/Clang ifunc),
// so a portable wheel still runs AVX2/AVX-512 code where the CPU has it.
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__) && !defined(DESCEND_NATIVE) && \
    !defined(DESCEND_NO_CLONES)
#define DESCEND_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#define DESCEND_CLONE_TARGETS "x86-64-v4 (AVX-512), x86-64-v3 (AVX2+FMA), x86-64 baseline"
#else
#define DESCEND_CLONES
#define DESCEND_CLONE_TARGETS ""
#endif

#if defined(_MSC_VER)
#define DESCEND_RESTRICT __restrict
#else
#define DESCEND_RESTRICT __restrict__
#endif

namespace descend {

using index_t = std::int64_t;

// Threads for a parallel region: the caller's request, but one thread for work too small to
// pay for waking others.
inline int threads_for(int n_threads, std::size_t work, std::size_t min_work_per_thread) {
    if (n_threads < 1) n_threads = 1;
    std::size_t useful = std::max<std::size_t>(1, work / std::max<std::size_t>(1, min_work_per_thread));
    return static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(n_threads), useful));
}

inline int default_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

// Row blocking that depends on the number of rows only, never on the thread count: each block's
// partial sums are computed by one thread and combined in block order, so reductions are bitwise
// identical for any number of threads.
struct RowBlocks {
    static constexpr std::size_t kMinRows = 128;   // rows per block, at least
    static constexpr std::size_t kMaxBlocks = 64;  // partial-sum buffers, at most
    std::size_t n_rows;
    std::size_t count;

    explicit RowBlocks(std::size_t n)
        : n_rows(n), count(std::clamp<std::size_t>((n + kMinRows - 1) / kMinRows, 1, kMaxBlocks)) {}
    std::size_t begin(std::size_t b) const { return b * n_rows / count; }
    std::size_t end(std::size_t b) const { return (b + 1) * n_rows / count; }
};

// All of a row's cache lines, into L2 (into L1 measured slower: the L1's few miss buffers fill
// and stall the loads in flight).
template <class T>
inline void prefetch_row(const T* row, std::size_t d) {
#if defined(__GNUC__)
    const char* p = reinterpret_cast<const char*>(row);
    for (std::size_t off = 0; off < d * sizeof(T); off += 64) __builtin_prefetch(p + off, 0, 2);
#else
    (void)row;
    (void)d;
#endif
}

}  // namespace descend
