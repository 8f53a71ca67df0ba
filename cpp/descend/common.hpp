// Shared building blocks of the descend core: multi-versioning, thread counts, row blocking.
// No Python here.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>

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

// The threads of one parallel region kept spinning through many short parallel steps (the
// batches of an epoch): a step is handed to the helpers with one cache line and handed back
// with another, where an OpenMP fork and join costs about twice as long (measured here: 0.6-0.9
// us against 1.5-1.8 us, 3,906 times an epoch of 1M rows at batch 256). Member 0, the caller,
// posts steps with run(); the other members serve() until stop(). A step must not throw.
class Team {
  public:
    void set_size(int size) { size_ = size; }
    int size() const { return size_; }

    // Runs fn(t) for every member t: 0 on the calling thread, the others on the helpers.
    template <class Fn>
    void run(Fn& fn) {
        job_ = [](void* f, int t) { (*static_cast<Fn*>(f))(t); };
        ctx_ = &fn;
        done_.store(0, std::memory_order_relaxed);
        gen_.store(gen_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
        fn(0);
        wait_until([&] { return done_.load(std::memory_order_acquire) == size_ - 1; });
    }

    void serve(int t) {
        std::uint64_t seen = 0;
        for (;;) {
            std::uint64_t g = seen;
            wait_until([&] { return (g = gen_.load(std::memory_order_acquire)) != seen; });
            if (g == kStop) return;
            seen = g;
            job_(ctx_, t);
            done_.fetch_add(1, std::memory_order_acq_rel);
        }
    }

    void stop() { gen_.store(kStop, std::memory_order_release); }

  private:
    static constexpr std::uint64_t kStop = ~std::uint64_t(0);
    // Spins a while, then yields the core at each look: a member that is waiting must not keep
    // one it shares with the member it waits for (more threads than cores, or a busy machine).
    template <class Cond>
    static void wait_until(Cond&& ready) {
        for (int spins = 0; !ready(); ++spins) {
            if (spins < 2000) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
            } else {
                std::this_thread::yield();
            }
        }
    }
    int size_ = 1;
    void (*job_)(void*, int) = nullptr;
    void* ctx_ = nullptr;
    alignas(64) std::atomic<std::uint64_t> gen_{0};
    alignas(64) std::atomic<int> done_{0};
};

// Calls fn(i) for i in [0, count) on nt threads, each a contiguous share (as OpenMP's static
// schedule): on the team's members when a team is given, else in an OpenMP region, inline for
// one thread.
template <class Fn>
void parallel_for(Team* team, int nt, std::size_t count, Fn&& fn) {
    if (nt <= 1 || count <= 1) {
        for (std::size_t i = 0; i < count; ++i) fn(i);
    } else if (team && team->size() > 1) {
        const std::size_t k = static_cast<std::size_t>(team->size());
        auto share = [&](int t) {
            const std::size_t ut = static_cast<std::size_t>(t);
            for (std::size_t i = count * ut / k; i < count * (ut + 1) / k; ++i) fn(i);
        };
        team->run(share);
    } else {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(count); ++i) fn(static_cast<std::size_t>(i));
    }
}

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
