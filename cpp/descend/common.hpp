// Shared building blocks of the descend core: multi-versioning, thread counts, row blocking.
// No Python here.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <thread>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

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

// A small helper of the multi-versioned kernels: inlined into each clone (called, it would be
// compiled for the baseline x86-64 only).
#if defined(__GNUC__)
#define DESCEND_FORCE_INLINE inline __attribute__((always_inline))
#else
#define DESCEND_FORCE_INLINE inline
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

// The size of a core's L2 cache (1 MiB where the system does not say).
inline std::size_t l2_cache_bytes() {
    static const std::size_t bytes = [] {
        long b = 0;
#if defined(_SC_LEVEL2_CACHE_SIZE)
        b = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
        return b > 0 ? static_cast<std::size_t>(b) : std::size_t(1) << 20;
    }();
    return bytes;
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

// How a waiting thread waits: spins, then yields the core, then sleeps until woken (futex, on
// Linux). A thread that only spins or yields keeps a core that another thread may need (more
// threads than cores, or several processes training at once); one that sleeps at once pays a
// system call and a wake-up at every step. OMP_WAIT_POLICY is honoured as OpenMP defines it:
// passive sleeps at once, active never sleeps.
struct WaitPolicy {
    int spins = 200;   // pause instructions (about 4 us on an Intel Xeon, less on AMD Zen)
    int yields = 50;   // then sched_yield calls
    bool sleep = true;

    static const WaitPolicy& get() {
        static const WaitPolicy policy = [] {
            WaitPolicy p;
            if (const char* env = std::getenv("OMP_WAIT_POLICY")) {
                std::string v(env);
                for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                if (v == "passive") p.spins = 0, p.yields = 0;
                if (v == "active") p.sleep = false;
            }
            return p;
        }();
        return policy;
    }
};

// One cache line, into L2.
inline void prefetch_line(const void* p) {
#if defined(__GNUC__)
    __builtin_prefetch(p, 0, 2);
#else
    (void)p;
#endif
}

// The cache lines of n bytes from p, into L2.
inline void prefetch_bytes(const void* p, std::size_t n) {
    const std::uintptr_t start = reinterpret_cast<std::uintptr_t>(p);
    for (std::uintptr_t line = start & ~std::uintptr_t(63); line < start + n; line += 64)
        prefetch_line(reinterpret_cast<const void*>(line));
}

// The rows a thread reads next, fetched into L2 while it waits for the others of its team (Team),
// when the memory would sit idle: X's rows *pos, *(pos + 1), ... before end (row_bytes each,
// from base) and their entries in up to two per-row arrays. Set by the thread's last row block;
// valid while its team runs (a Team clears it on every member, first and last).
struct Upcoming {
    const char* base = nullptr;
    std::size_t row_bytes = 0;
    const char* per_row[2] = {nullptr, nullptr};
    std::size_t per_row_bytes = 0;
    const index_t* pos = nullptr;
    const index_t* end = nullptr;

    // Fetches the next row; false when none is left.
    bool fetch_one() noexcept {
        if (pos >= end) return false;
        const std::size_t id = static_cast<std::size_t>(*pos++);
        prefetch_bytes(base + id * row_bytes, row_bytes);
        for (const char* a : per_row)
            if (a) prefetch_line(a + id * per_row_bytes);
        return true;
    }
};

// The calling thread's Upcoming.
inline Upcoming& upcoming() noexcept {
    static thread_local Upcoming u;
    return u;
}

// A 32-bit word that threads wait on for a condition, woken by the thread that changes it.
class Signal {
  public:
    std::uint32_t load() const { return word_.load(std::memory_order_acquire); }

    void store(std::uint32_t v) {
        word_.store(v, std::memory_order_seq_cst);
        wake();
    }
    void add(std::uint32_t v) {
        word_.fetch_add(v, std::memory_order_seq_cst);
        wake();
    }
    // store() for a thread with work of its own to do at once: the store does not wait until the
    // other cores have seen it (a full barrier would: the waiters' cores hold the word's line, and
    // taking it back took some 0.2 us a step here). A waiter that may have gone to sleep before
    // the new word was visible is woken only by a later wake_sleepers(), which the caller must
    // make before it waits for the waiters in turn.
    void publish(std::uint32_t v) {
        word_.store(v, std::memory_order_release);
        if (sleepers_.load(std::memory_order_relaxed) > 0) wake();  // asleep already: at once
    }
    void wake_sleepers() {
        std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with the sleeper's fetch_add
        wake();
    }

    // Returns once ready() (which reads the word) holds: true when that took over 100 us, so
    // long that the thread waited for one that was not running.
    template <class Cond>
    bool wait_until(Cond&& ready) {
        return wait_until(ready, [] { return false; });
    }

    // The same, calling idle() instead of spinning for as long as it returns true (it did some
    // work) before the spins begin.
    template <class Cond, class Idle>
    bool wait_until(Cond&& ready, Idle&& idle) {
        const WaitPolicy& policy = WaitPolicy::get();
        for (int i = 0; i < policy.spins;) {
            if (ready()) return false;
            if (idle()) continue;
            ++i;
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
        const auto since = std::chrono::steady_clock::now();
        auto long_wait = [&] { return std::chrono::steady_clock::now() - since > std::chrono::microseconds(100); };
        const bool sleeps = policy.sleep && kCanSleep;
        for (int i = 0; !sleeps || i < policy.yields; i += sleeps) {  // never sleeping: yields without count
            if (ready()) return long_wait();
            std::this_thread::yield();
        }
        for (;;) {
            const std::uint32_t seen = word_.load(std::memory_order_seq_cst);
            if (ready()) return long_wait();
            // Dekker-style with store()/add(): either the waker sees this sleeper, or this
            // thread sees the new word (and the futex refuses to sleep on a changed word).
            sleepers_.fetch_add(1, std::memory_order_seq_cst);
            if (word_.load(std::memory_order_seq_cst) == seen) futex_wait(seen);
            sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        }
    }

  private:
#if defined(__linux__)
    static constexpr bool kCanSleep = true;
    void futex_wait(std::uint32_t seen) {
        syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word_), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
    }
    void wake() {
        if (sleepers_.load(std::memory_order_seq_cst) > 0)
            syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word_), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
                    nullptr, 0);
    }
#else
    static constexpr bool kCanSleep = false;
    void futex_wait(std::uint32_t) {}
    void wake() {}
#endif
    static_assert(sizeof(std::atomic<std::uint32_t>) == 4, "a futex word is 32 bits");
    alignas(64) std::atomic<std::uint32_t> word_{0};
    std::atomic<int> sleepers_{0};
};

// The threads of one parallel region kept through many short parallel steps (the batches of an
// epoch): a step is handed to the helpers with one cache line and handed back with another,
// where an OpenMP fork and join costs about twice as long (measured here: 0.6-0.9 us against
// 1.5-1.8 us, 3,906 times an epoch of 1M rows at batch 256). Member 0, the caller, posts steps
// with run(); the other members serve() until stop(). Waiting members first fetch the rows their
// next step reads (Upcoming), then spin, yield and sleep (Signal). A step must not throw.
class Team {
  public:
    Team() noexcept { upcoming() = {}; }
    ~Team() { upcoming() = {}; }
    Team(const Team&) = delete;
    Team& operator=(const Team&) = delete;

    void set_size(int size) { size_ = size; }
    int size() const { return size_; }

    // Runs fn(t) for every member t: 0 on the calling thread, the others on the helpers.
    template <class Fn>
    void run(Fn& fn) noexcept {
        job_ = [](void* f, int t) noexcept { (*static_cast<Fn*>(f))(t); };
        ctx_ = &fn;
        const char frame = 0;  // in the lowest of the frames that hold fn and what it refers to
        frames_ = &frame;
        done_target_ += static_cast<std::uint32_t>(size_ - 1);  // wraps around with done_
        std::uint32_t g = gen_.load() + 1;
        if (g == kStop) g = 0;  // the step count wraps around, never onto kStop
        gen_.publish(g);
        fn(0);
        // helpers done with the step saw it: none can be asleep before it (waking those asleep
        // after it would cost a system call a step when they sleep at once, OMP_WAIT_POLICY=passive)
        if (done_.load() != done_target_) gen_.wake_sleepers();
        Upcoming& up = upcoming();
        late_ += done_.wait_until([&] { return done_.load() == done_target_; }, [&] { return up.fetch_one(); });
    }

    // Steps after which the caller waited long for its helpers: they were not running (more
    // threads than free cores), and each step then costs a scheduler's time slice.
    std::size_t late() const { return late_; }

    void serve(int t) noexcept {
        Upcoming& up = upcoming();
        up = {};
        std::uint32_t seen = 0;  // a new team's word: whatever run() posts differs from it
        for (;;) {
            std::uint32_t g = seen;
            gen_.wait_until([&] { return (g = gen_.load()) != seen; }, [&] { return up.fetch_one(); });
            if (g == kStop) {
                up = {};
                return;
            }
            seen = g;
            fetch_frames();
            job_(ctx_, t);
            done_.add(1);
        }
    }

    void stop() noexcept { gen_.store(kStop); }

  private:
    // A step's closures, and the values they refer to, sit in the caller's stack frames from
    // run()'s up to the one that holds the Team, written by the caller for the step: followed
    // one from the other, they would cross from the caller's core one cache line after another.
    // A helper fetches those frames in one burst first: from a step's start to its first row
    // block took 0.54-0.73 us, now 0.13-0.20 (a shuffled 1M x 100 epoch, batch 256, about 1.4
    // KB of frames; a batch takes 17-21 us). Frames more than kFrames bytes long are not
    // fetched, nor are they when the Team is not above run()'s frame on the caller's stack.
    void fetch_frames() const noexcept {
#if defined(__GNUC__)
        const std::uintptr_t lo = reinterpret_cast<std::uintptr_t>(frames_) & ~std::uintptr_t(63);
        const std::uintptr_t hi = reinterpret_cast<std::uintptr_t>(this + 1);
        if (lo < hi && hi - lo <= kFrames)
            for (std::uintptr_t line = lo; line < hi; line += 64)
                __builtin_prefetch(reinterpret_cast<const void*>(line), 0, 3);
#endif
    }

    static constexpr std::uint32_t kStop = ~std::uint32_t(0);
    static constexpr std::uintptr_t kFrames = 8192;
    int size_ = 1;
    void (*job_)(void*, int) = nullptr;
    void* ctx_ = nullptr;
    const void* frames_ = nullptr;  // see fetch_frames
    std::size_t late_ = 0;
    std::uint32_t done_target_ = 0;  // what done_ reads once the helpers are done with the step
    Signal gen_;   // the step posted last, or kStop
    Signal done_;  // steps the helpers are done with, added up (never reset: only helpers write it)
};

// Calls fn(i, after) for i in [0, count) on nt threads, each a contiguous share (as OpenMP's
// static schedule): on the team's members when a team is given, else in an OpenMP region, inline
// for one thread. after: what the same thread runs next, i + 1 within its share, and after its
// share's last, count + its share's first (its first in a next call of the same count), so that
// the thread can fetch that work's data ahead.
template <class Fn>
void parallel_for(Team* team, int nt, std::size_t count, Fn&& fn) {
    auto share = [&](std::size_t t, std::size_t k) {
        const std::size_t lo = count * t / k, hi = count * (t + 1) / k;
        for (std::size_t i = lo; i < hi; ++i) fn(i, i + 1 < hi ? i + 1 : count + lo);
    };
    if (nt <= 1 || count <= 1) {
        share(0, 1);
    } else if (team && team->size() > 1) {
        const std::size_t k = static_cast<std::size_t>(team->size());
        auto member = [&](int t) { share(static_cast<std::size_t>(t), k); };
        team->run(member);
    } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
        share(static_cast<std::size_t>(omp_get_thread_num()), static_cast<std::size_t>(omp_get_num_threads()));
#else
        share(0, 1);
#endif
    }
}

// The sum of x[i]^2 over n values, in float64, vectorized.
template <class T>
DESCEND_CLONES double sum_squares(const T* DESCEND_RESTRICT x, std::size_t n) {
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    return s;
}

// The L2 norm of values whose sum of squares overflows (some above about 1e154): by the
// largest, top sqrt(sum (v / top)^2). Infinite if a value is. parts: (pointer, count) pairs.
template <class T, class Parts>
double norm_by_largest(const Parts& parts) {
    double top = 0.0, sum = 0.0;
    for (const auto& [p, n] : parts)
        for (std::size_t i = 0; i < n; ++i) top = std::max(top, std::abs(static_cast<double>(p[i])));
    if (!(top > 0) || !std::isfinite(top)) return std::numeric_limits<double>::infinity();
    for (const auto& [p, n] : parts)
        for (std::size_t i = 0; i < n; ++i) {
            const double v = static_cast<double>(p[i]) / top;
            sum += v * v;
        }
    return top * std::sqrt(sum);
}

// All of a row's cache lines, into L2 (into L1 measured slower: the L1's few miss buffers fill
// and stall the loads in flight). Counted from the line the row starts in: a row that does not
// start at a line's start (NumPy aligns arrays to 16 bytes only) ends in one more line.
template <class T>
inline void prefetch_row(const T* row, std::size_t d) {
    prefetch_bytes(row, d * sizeof(T));
}

}  // namespace descend
