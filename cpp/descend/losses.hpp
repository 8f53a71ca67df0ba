// Losses of linear models and their gradients, mean over rows (weighted when sample weights are
// given), with an elastic-net penalty on the weights. No Python here.
//
// One pass over X: each block of rows computes z = Xw + b, the per-row loss and its derivative,
// and accumulates the gradient while the rows are still in cache. Blocks are fixed by the row
// count (RowBlocks), so the result does not depend on the number of threads, to the bit.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "descend/common.hpp"
#include "descend/vmath.hpp"

namespace descend {

struct Penalty {
    double alpha = 0.0;
    double l1_ratio = 0.0;
    // false: the L1 term adds its value to the loss but not its subgradient to the gradient (the
    // training engine takes its proximal step instead, which sets weights to exactly 0)
    bool l1_gradient = true;
};

// Rows of a data set, optionally a subset given by indices (a mini-batch gathered in place).
template <class T>
struct Rows {
    const T* X = nullptr;           // n_total x d, C order
    std::size_t d = 0;
    const T* sample_weight = nullptr;  // per row of X, or null for all ones
    const index_t* index = nullptr;    // rows to use, or null for rows 0..n-1
    std::size_t n = 0;                 // rows used
    std::size_t n_ahead = 0;           // entries of index past n that may be fetched ahead (index only)
    bool fetch = true;                 // fetch rows ahead of their use (see worth_fetching)
    const T* row(std::size_t i) const { return X + static_cast<std::size_t>(index ? index[i] : i) * d; }
    std::size_t id(std::size_t i) const { return index ? static_cast<std::size_t>(index[i]) : i; }
};

// Whether rows of an n_rows x d X are worth fetching ahead of their use: not when X fits in a
// core's L2 cache, where the fetches only cost instructions (569 x 30 float64, batch 32, an
// epoch 0.92-0.93x the time without them). Larger X is fetched even when it would fit in the L3
// (measured without the fetches: 16-32 MB 0.65-0.92x the time at batch 32 on one thread but
// 1.00-1.04x at batch 256 on two, 80-240 MB 1.06-1.34x).
template <class T>
bool worth_fetching(std::size_t n_rows, std::size_t d) {
    return n_rows * d * sizeof(T) > l2_cache_bytes();
}

// Per-row loss l(z, y) and its derivative dl/dz.
struct SquaredErrorLoss {
    static void eval(double z, double y, double& loss, double& dz) {
        const double r = z - y;
        loss = 0.5 * r * r;
        dz = r;
    }
};

struct LogisticLoss {
    // softplus(z) - y z, with softplus(z) = max(z, 0) + log1p(exp(-|z|)); dl/dz = sigmoid(z) - y.
    static void eval(double z, double y, double& loss, double& dz) {
        const double e = vmath::exp_nonpos(-std::fabs(z));
        loss = (z > 0.0 ? z : 0.0) + vmath::log1p_unit(e) - y * z;
        const double inv = 1.0 / (1.0 + e);
        dz = (z >= 0.0 ? inv : e * inv) - y;
    }
};

namespace detail {

template <class T>
inline double dot(const T* DESCEND_RESTRICT x, const T* DESCEND_RESTRICT w, std::size_t d) {
    constexpr std::size_t L = 32;  // 32 partial sums, four vectors of eight: four FMA chains
    double s = 0.0;
    std::size_t j = 0;
    if (d >= L) {
        double acc[L] = {};
        for (; j + L <= d; j += L) {
#pragma omp simd
            for (std::size_t k = 0; k < L; ++k)
                acc[k] += static_cast<double>(x[j + k]) * static_cast<double>(w[j + k]);
        }
#pragma omp simd reduction(+ : s)
        for (std::size_t k = 0; k < L; ++k) s += acc[k];
    }
#pragma omp simd reduction(+ : s)
    for (std::size_t k = j; k < d; ++k) s += static_cast<double>(x[k]) * static_cast<double>(w[k]);
    return s;
}

// z[t] += x_t . w for eight rows at once: eight independent accumulator chains, w read once.
template <class T>
inline void dot_rows8(const T* const* x, const T* DESCEND_RESTRICT w, std::size_t d, double* z) {
    const T *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3], *x4 = x[4], *x5 = x[5], *x6 = x[6], *x7 = x[7];
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3, s4, s5, s6, s7)
    for (std::size_t j = 0; j < d; ++j) {
        const double wj = static_cast<double>(w[j]);
        s0 += static_cast<double>(x0[j]) * wj;
        s1 += static_cast<double>(x1[j]) * wj;
        s2 += static_cast<double>(x2[j]) * wj;
        s3 += static_cast<double>(x3[j]) * wj;
        s4 += static_cast<double>(x4[j]) * wj;
        s5 += static_cast<double>(x5[j]) * wj;
        s6 += static_cast<double>(x6[j]) * wj;
        s7 += static_cast<double>(x7[j]) * wj;
    }
    z[0] += s0, z[1] += s1, z[2] += s2, z[3] += s3, z[4] += s4, z[5] += s5, z[6] += s6, z[7] += s7;
}

#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)
#define DESCEND_VECTOR_DOT 1
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // vectors passed inside inlined code only
// Inlined into the caller, whose clone (AVX-512, AVX2) they then share: called out of line
// they would be compiled for baseline x86-64 only.
#define DESCEND_ALWAYS_INLINE inline __attribute__((always_inline))

// Half a cache line of doubles as a vector: one AVX2 register, two SSE2 registers, and with
// eight rows' accumulators (eight registers) and their loads it fits AVX2's sixteen registers.
// (Whole-line vectors, tried first, are two AVX2 registers each, and the AVX2 code then spent
// most of its time spilling them to the stack: 86 against 43 ns a row in cache, built for
// x86-64-v3; on AVX-512 the two measured the same.)
typedef double HalfD __attribute__((vector_size(32)));

DESCEND_ALWAYS_INLINE HalfD load_half(const double* p) {
    HalfD v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

// The lane sums of eight vectors, added as a transposition (each step halves the lanes per row
// and pairs rows in one vector), where summing each vector alone takes several times as many
// operations (the eight-row dot product in cache: 36 against 47 ns a row).
DESCEND_ALWAYS_INLINE HalfD pair_lanes(HalfD a, HalfD b) {  // a0+a1, b0+b1, a2+a3, b2+b3
    return __builtin_shufflevector(a, b, 0, 4, 2, 6) + __builtin_shufflevector(a, b, 1, 5, 3, 7);
}
DESCEND_ALWAYS_INLINE HalfD sum_lanes4(HalfD a, HalfD b, HalfD c, HalfD e) {  // the lane sums of a, b, c, e
    const HalfD ab = pair_lanes(a, b), ce = pair_lanes(c, e);
    return __builtin_shufflevector(ab, ce, 0, 1, 4, 5) + __builtin_shufflevector(ab, ce, 2, 3, 6, 7);
}

// Eight gathered rows' dot products, one cache line of each row at a time, fetching line j of
// each of eight later rows (next) at step j: the fetches are spread over the arithmetic
// instead of issued in a burst before it, which stalls the core while the L1's few miss
// buffers drain (measured here, 1M x 100 float64 rows shuffled: an epoch 11% faster on two
// threads, 20% on one; float32 rows, half as long, measured no faster). Always eight, so that
// the fetches are unrolled (a loop over a variable count cost five instructions a fetch):
// the caller repeats rows already in cache when fewer are to be fetched.
template <bool Fetch>
DESCEND_ALWAYS_INLINE void dot_rows8_fetching(const double* const* x, const double* DESCEND_RESTRICT w,
                                              std::size_t d, double* z, const double* const* next) {
    const double *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3], *x4 = x[4], *x5 = x[5], *x6 = x[6], *x7 = x[7];
    HalfD s0 = {}, s1 = {}, s2 = {}, s3 = {}, s4 = {}, s5 = {}, s6 = {}, s7 = {};
    std::size_t j = 0;
    for (; j + 8 <= d; j += 8) {
        if constexpr (Fetch)
            for (std::size_t q = 0; q < 8; ++q) __builtin_prefetch(next[q] + j, 0, 2);
        for (std::size_t h = j; h < j + 8; h += 4) {
            const HalfD wh = load_half(w + h);
            s0 += load_half(x0 + h) * wh, s1 += load_half(x1 + h) * wh, s2 += load_half(x2 + h) * wh;
            s3 += load_half(x3 + h) * wh, s4 += load_half(x4 + h) * wh, s5 += load_half(x5 + h) * wh;
            s6 += load_half(x6 + h) * wh, s7 += load_half(x7 + h) * wh;
        }
    }
    const std::size_t line_end = j;  // where the rows' whole lines end
    for (; j + 4 <= d; j += 4) {  // half a line more: fewer values left to the scalar loop below
        const HalfD wh = load_half(w + j);
        s0 += load_half(x0 + j) * wh, s1 += load_half(x1 + j) * wh, s2 += load_half(x2 + j) * wh;
        s3 += load_half(x3 + j) * wh, s4 += load_half(x4 + j) * wh, s5 += load_half(x5 + j) * wh;
        s6 += load_half(x6 + j) * wh, s7 += load_half(x7 + j) * wh;
    }
    // the rest, and the line of each row's last value (a row that does not start at a line's
    // start ends in one line more than its length fills)
    if constexpr (Fetch)
        for (std::size_t q = 0; q < 8; ++q) {
            if (line_end < d) __builtin_prefetch(next[q] + line_end, 0, 2);
            __builtin_prefetch(next[q] + d - 1, 0, 2);
        }
    const HalfD lo = sum_lanes4(s0, s1, s2, s3), hi = sum_lanes4(s4, s5, s6, s7);
    double sum[8] = {lo[0], lo[1], lo[2], lo[3], hi[0], hi[1], hi[2], hi[3]};
    for (std::size_t t = 0; t < 8; ++t) {
        for (std::size_t k = j; k < d; ++k) sum[t] += x[t][k] * w[k];
        z[t] += sum[t];
    }
}

// float32 rows: the eight dot products with half-line float vectors (eight lanes) whose lane sums
// are added by transposition as above, where the loop reduced by OpenMP (dot_rows8f) added each
// row's sixteen lanes one at a time. Measured here, 100 features, logistic loss: a gathered row
// in cache 22-23 against 26 ns on AVX-512, 36-39 against 38-41 on AVX2 (19% slower built for
// baseline x86-64); an epoch in order on two threads 0.96x the time, shuffled on one 0.93x.
typedef float HalfF __attribute__((vector_size(32)));

DESCEND_ALWAYS_INLINE HalfF load_half(const float* p) {
    HalfF v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
DESCEND_ALWAYS_INLINE HalfF pair_lanes(HalfF u, HalfF v) {  // u0+u1, v0+v1, u2+u3, v2+v3, ...
    return __builtin_shufflevector(u, v, 0, 8, 2, 10, 4, 12, 6, 14) +
           __builtin_shufflevector(u, v, 1, 9, 3, 11, 5, 13, 7, 15);
}
DESCEND_ALWAYS_INLINE HalfF quad_lanes(HalfF u, HalfF v) {  // four rows' sums of lanes 0-3, then of 4-7
    return __builtin_shufflevector(u, v, 0, 1, 8, 9, 4, 5, 12, 13) +
           __builtin_shufflevector(u, v, 2, 3, 10, 11, 6, 7, 14, 15);
}
// The lane sums of eight vectors, the sum of a in lane 0 to that of k in lane 7.
DESCEND_ALWAYS_INLINE HalfF sum_lanes8(HalfF a, HalfF b, HalfF c, HalfF e, HalfF f, HalfF g, HalfF h, HalfF k) {
    const HalfF lo = quad_lanes(pair_lanes(a, b), pair_lanes(c, e));
    const HalfF hi = quad_lanes(pair_lanes(f, g), pair_lanes(h, k));
    return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 8, 9, 10, 11) +
           __builtin_shufflevector(lo, hi, 4, 5, 6, 7, 12, 13, 14, 15);
}

DESCEND_ALWAYS_INLINE void dot_rows8f_vec(const float* const* x, const float* DESCEND_RESTRICT w, std::size_t d,
                                          double* z) {
    const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3], *x4 = x[4], *x5 = x[5], *x6 = x[6], *x7 = x[7];
    HalfF s0 = {}, s1 = {}, s2 = {}, s3 = {}, s4 = {}, s5 = {}, s6 = {}, s7 = {};
    std::size_t j = 0;
    for (; j + 8 <= d; j += 8) {
        const HalfF wh = load_half(w + j);
        s0 += load_half(x0 + j) * wh, s1 += load_half(x1 + j) * wh, s2 += load_half(x2 + j) * wh;
        s3 += load_half(x3 + j) * wh, s4 += load_half(x4 + j) * wh, s5 += load_half(x5 + j) * wh;
        s6 += load_half(x6 + j) * wh, s7 += load_half(x7 + j) * wh;
    }
    // the rest added to eight named sums: written as a loop over an array of eight, the same
    // code made the compiler turn the loss loop after it into scalar code (a row 35 ns, not 23)
    const HalfF sum = sum_lanes8(s0, s1, s2, s3, s4, s5, s6, s7);
    float r0 = sum[0], r1 = sum[1], r2 = sum[2], r3 = sum[3], r4 = sum[4], r5 = sum[5], r6 = sum[6], r7 = sum[7];
    for (; j < d; ++j) {
        const float wj = w[j];
        r0 += x0[j] * wj, r1 += x1[j] * wj, r2 += x2[j] * wj, r3 += x3[j] * wj;
        r4 += x4[j] * wj, r5 += x5[j] * wj, r6 += x6[j] * wj, r7 += x7[j] * wj;
    }
    z[0] += r0, z[1] += r1, z[2] += r2, z[3] += r3, z[4] += r4, z[5] += r5, z[6] += r6, z[7] += r7;
}
#pragma GCC diagnostic pop
#endif

// float32 rows: the same eight dot products with float accumulators (16 lanes a vector, no
// widening; dot_rows8f_vec replaces it where vector extensions are available), and the gradient
// of eight rows added into a float partial sum that the caller flushes into its float64 sum
// every few tiles, bounding the rounding error of float sums.
inline void dot_rows8f(const float* const* x, const float* DESCEND_RESTRICT w, std::size_t d, double* z) {
    const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3], *x4 = x[4], *x5 = x[5], *x6 = x[6], *x7 = x[7];
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3, s4, s5, s6, s7)
    for (std::size_t j = 0; j < d; ++j) {
        const float wj = w[j];
        s0 += x0[j] * wj;
        s1 += x1[j] * wj;
        s2 += x2[j] * wj;
        s3 += x3[j] * wj;
        s4 += x4[j] * wj;
        s5 += x5[j] * wj;
        s6 += x6[j] * wj;
        s7 += x7[j] * wj;
    }
    z[0] += s0, z[1] += s1, z[2] += s2, z[3] += s3, z[4] += s4, z[5] += s5, z[6] += s6, z[7] += s7;
}

inline void axpy_rows8f(float* DESCEND_RESTRICT acc, const float* const* x, const double* c, std::size_t d) {
    const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3], *x4 = x[4], *x5 = x[5], *x6 = x[6], *x7 = x[7];
    const float c0 = static_cast<float>(c[0]), c1 = static_cast<float>(c[1]), c2 = static_cast<float>(c[2]),
                c3 = static_cast<float>(c[3]), c4 = static_cast<float>(c[4]), c5 = static_cast<float>(c[5]),
                c6 = static_cast<float>(c[6]), c7 = static_cast<float>(c[7]);
#pragma omp simd
    for (std::size_t j = 0; j < d; ++j)
        acc[j] += ((c0 * x0[j] + c1 * x1[j]) + (c2 * x2[j] + c3 * x3[j])) +
                  ((c4 * x4[j] + c5 * x5[j]) + (c6 * x6[j] + c7 * x7[j]));
}

// A lambda inside a function compiled for several x86-64 levels is compiled for the baseline
// unless it is inlined.
#if defined(__GNUC__)
#define DESCEND_INLINE_LAMBDA __attribute__((always_inline))
#else
#define DESCEND_INLINE_LAMBDA
#endif

// acc += sum_t c[t] * x_t over four rows (Rows == 4) or eight (Rows == 8) in one pass over acc,
// the eight as two sums of four: one load and store of acc for eight rows, not two.
template <std::size_t Rows, class T>
inline void axpy_rows(double* DESCEND_RESTRICT acc, const T* const* x, const double* c, std::size_t d) {
    static_assert(Rows == 4 || Rows == 8, "four or eight rows per pass");
    const T *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
    const T *x4 = x[Rows - 4], *x5 = x[Rows - 3], *x6 = x[Rows - 2], *x7 = x[Rows - 1];
    const double c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
    const double c4 = c[Rows - 4], c5 = c[Rows - 3], c6 = c[Rows - 2], c7 = c[Rows - 1];
    auto at = [&](std::size_t j) DESCEND_INLINE_LAMBDA {
        const double a = c0 * static_cast<double>(x0[j]) + c1 * static_cast<double>(x1[j]) +
                         c2 * static_cast<double>(x2[j]) + c3 * static_cast<double>(x3[j]);
        if constexpr (Rows == 4)
            return a;
        else
            return a + (c4 * static_cast<double>(x4[j]) + c5 * static_cast<double>(x5[j]) +
                        c6 * static_cast<double>(x6[j]) + c7 * static_cast<double>(x7[j]));
    };
#pragma omp simd
    for (std::size_t j = 0; j < d; ++j) acc[j] += at(j);
}

// Rows in order after which the hardware's stream prefetch is left to fetch float64 rows.
constexpr std::size_t kStream = 32;

// One block of rows [r0, r1) of a linear model with one output.
// acc (d + 3): gradient sum over w, over b, loss sum, weight sum. ahead: where the thread's
// next block starts (blocked_sum); its first rows are fetched during this block's last tiles.
// Rows go in tiles of R: R dot products, then the R per-row losses in one vector loop (two
// tiles' at once), then the gradient update, four rows per pass over acc, while the tile's rows
// are still in cache.
template <class T, class Loss>
DESCEND_CLONES void linear_block(const Rows<T> rows, const T* y, const T* w, double b, std::size_t r0,
                                 std::size_t r1, double* acc, std::size_t ahead = SIZE_MAX) {
    constexpr std::size_t R = 8;
    const std::size_t d = rows.d;
    // per-lane sums of the tiles' rows (a sum carried from tile to tile in one register would
    // make every tile wait for eight dependent additions)
    alignas(64) double loss_sum[R] = {}, weight_sum[R] = {}, grad_b[R] = {};
    // float32 with d <= kFloatAcc: gradient partial sums in float, flushed every kFlush tiles
    constexpr std::size_t kFloatAcc = 2048, kFlush = 8;
    constexpr bool kFloat = std::is_same_v<T, float>;
    alignas(64) float facc[kFloat ? kFloatAcc : 1];
    const bool use_facc = kFloat && d <= kFloatAcc;
    if (use_facc) std::fill(facc, facc + d, 0.0f);
    std::size_t tiles = 0;
    // The rows fetched ahead: this block's from its third tile on, then the first two tiles of
    // the thread's next block (the next batch's, for the last of a batch), so that its start
    // does not wait for memory; fetch step k is row at(k).
    const std::size_t limit = rows.n + rows.n_ahead;
    const std::size_t fetch_end = r1 + (ahead < limit ? std::min(2 * R, limit - ahead) : 0);
    auto at = [&](std::size_t k) { return k < r1 ? k : ahead + (k - r1); };
    std::size_t in_order = 0;          // rows in order just before the row fetched ahead
    std::size_t fetched = r0 + 2 * R;  // the next fetch step
    // The block's first two tiles: rows that do not follow the one before (a batch's gathered
    // rows are not in cache), the others are left to the hardware (runs of rows measured slower
    // with them fetched too).
    if (rows.index && rows.fetch)
        for (std::size_t t = r0 + 1; t < std::min(fetched, r1); ++t)
            if (rows.index[t] != rows.index[t - 1] + 1) prefetch_row(rows.row(t), d);
    // A tile's rows, its dot products, labels and weights: x, z, yt, st (R each). Returns its rows.
    auto prepare = [&](std::size_t i, const T** x, double* z, double* yt, double* st) DESCEND_INLINE_LAMBDA {
        const std::size_t m = std::min(R, r1 - i);
        // Gathered rows sit anywhere in X: fetch the tile after next into L2 now, so that memory
        // serves many rows at once instead of one latency per row (into L1 it measured 1.5x
        // slower: the L1's few miss buffers fill and stall the loads of the current tile).
        // float32 rows in order are fetched ahead too (2x faster over the whole of X, 1.5x in
        // an epoch in order). float64 rows are fetched until kStream of them have come in
        // order: the hardware's stream prefetch serves a long stream (fetching it too measured
        // slower on one thread), but not yet the start of a run (runs of 32 rows: an epoch
        // 1.2x faster than fetching only each run's first row). Gathered float64 rows are
        // fetched line by line during the next dot products (dot_rows8_fetching).
        const T* next[R];  // the rows of the tile after next to fetch
        std::size_t n_next = 0;
        if ((rows.index || kFloat) && rows.fetch)
            for (; fetched < std::min(i + 3 * R, fetch_end) && n_next < R; ++fetched) {
                const std::size_t t = at(fetched);
                in_order = rows.index && rows.index[t] == rows.index[at(fetched - 1)] + 1 ? in_order + 1 : 0;
                if (kFloat || in_order < kStream) next[n_next++] = rows.row(t);
                if (in_order == 0) {  // its label and weight too (shuffled float64: 2-3% faster)
                    prefetch_line(y + rows.id(t));
                    if (rows.sample_weight) prefetch_line(rows.sample_weight + rows.id(t));
                }
            }
        for (std::size_t t = 0; t < R; ++t) {
            const bool live = t < m;  // a short last tile repeats its first row with weight 0
            x[t] = rows.row(live ? i + t : i);
            const std::size_t id = rows.id(live ? i + t : i);
            z[t] = b;
            yt[t] = static_cast<double>(y[id]);
            st[t] = live ? (rows.sample_weight ? static_cast<double>(rows.sample_weight[id]) : 1.0) : 0.0;
        }
        // Measured here: float64 rows in order stream best one after another; gathered float64
        // rows (a shuffled batch) best eight at a time, whose eight load streams keep more
        // misses in flight (a shuffled epoch on one thread 25% faster); float32 rows, whose
        // widening conversion makes a single chain latency-bound, always eight at a time.
        const bool in_order_tile = x[R - 1] == x[0] + (R - 1) * d;
#ifdef DESCEND_VECTOR_DOT
        const bool fetch_in_dot = !kFloat && !in_order_tile;  // float32: measured no faster
#else
        const bool fetch_in_dot = false;
#endif
        if (!fetch_in_dot)
            for (std::size_t q = 0; q < n_next; ++q) prefetch_row(next[q], d);
        if constexpr (kFloat) {
#ifdef DESCEND_VECTOR_DOT
            dot_rows8f_vec(x, w, d, z);
#else
            dot_rows8f(x, w, d, z);
#endif
        } else if (in_order_tile) {
            for (std::size_t t = 0; t < R; ++t) z[t] += dot(x[t], w, d);
        } else {
#ifdef DESCEND_VECTOR_DOT
            for (std::size_t q = n_next; q < R; ++q) next[q] = x[q];
            if (rows.fetch)
                dot_rows8_fetching<true>(x, w, d, z, next);
            else
                dot_rows8_fetching<false>(x, w, d, z, next);
#else
            dot_rows8(x, w, d, z);
#endif
        }
        return m;
    };
    // Its losses' sums and its gradient, from loss and c (R each).
    auto finish = [&](std::size_t i, std::size_t m, const T* const* x, const double* st, const double* loss,
                      double* c) DESCEND_INLINE_LAMBDA {
#pragma omp simd
        for (std::size_t t = 0; t < R; ++t) {
            const bool live = t < m;
            loss_sum[t] += live ? st[t] * loss[t] : 0.0;
            weight_sum[t] += st[t];
            grad_b[t] += live ? c[t] : 0.0;
        }
        if constexpr (kFloat) {
            if (use_facc) {
                axpy_rows8f(facc, x, c, d);  // dead rows of a short tile have c = 0
                if (++tiles == kFlush || i + R >= r1) {
                    tiles = 0;
                    for (std::size_t j = 0; j < d; ++j) {
                        acc[j] += facc[j];
                        facc[j] = 0.0f;
                    }
                }
                return;
            }
        }
        if (m > 4)
            axpy_rows<8>(acc, x, c, d);
        else
            axpy_rows<4>(acc, x, c, d);
    };
    // Two tiles at a time where there are two: their losses, a long chain of dependent vector
    // operations each (the logistic loss: about 50 ns a tile), in one loop, so that the two
    // chains run side by side; the sums are added in the same order as one tile at a time.
    // Logistic rows in cache 0.81-0.92x the time (float64 and float32, 30 and 100 features),
    // squared error 0.93-0.99x; epochs of 1M x 100 on two threads 0.95-0.96x shuffled, 0.90-0.95x
    // in order; 569 x 30 at batch 32 0.90x.
    for (std::size_t i = r0; i < r1;) {
        const T* x[2 * R];
        double z[2 * R], yt[2 * R], st[2 * R], loss[2 * R], c[2 * R];
        // the losses of the first `lanes` rows (a constant: the loop stays one of whole vectors)
        auto losses = [&](auto lanes) DESCEND_INLINE_LAMBDA {
#pragma omp simd
            for (std::size_t t = 0; t < lanes; ++t) {
                Loss::eval(z[t], yt[t], loss[t], c[t]);
                c[t] *= st[t];
            }
        };
        const std::size_t ma = prepare(i, x, z, yt, st);
        if (i + R < r1) {
            const std::size_t mb = prepare(i + R, x + R, z + R, yt + R, st + R);
            losses(std::integral_constant<std::size_t, 2 * R>{});
            finish(i, ma, x, st, loss, c);
            finish(i + R, mb, x + R, st + R, loss + R, c + R);
            i += 2 * R;
        } else {
            losses(std::integral_constant<std::size_t, R>{});
            finish(i, ma, x, st, loss, c);
            i += R;
        }
    }
    // The rest of the thread's next block, to fetch while the thread waits for its team (on two
    // threads, shuffled: float64 epochs 0.89-0.96x the time, float32 0.91-0.94x; in order:
    // float64 0.95-1.01x, float32 0.89-0.92x).
    Upcoming& up = upcoming();
    if (rows.index && rows.fetch && fetch_end > r1) {
        up.base = reinterpret_cast<const char*>(rows.X);
        up.row_bytes = d * sizeof(T);
        up.per_row[0] = reinterpret_cast<const char*>(y);
        up.per_row[1] = reinterpret_cast<const char*>(rows.sample_weight);
        up.per_row_bytes = sizeof(T);
        up.pos = rows.index + ahead + (fetch_end - r1);
        up.end = rows.index + std::min(limit, ahead + (r1 - r0));
    } else {
        up.pos = up.end = nullptr;
    }
    acc[d] = acc[d + 1] = acc[d + 2] = 0.0;
    for (std::size_t t = 0; t < R; ++t) {
        acc[d] += grad_b[t];
        acc[d + 1] += loss_sum[t];
        acc[d + 2] += weight_sum[t];
    }
}

// Multinomial (softmax) cross-entropy with Wp = W padded to Kp classes (d x Kp, C order, Kp a
// multiple of four, the padding's weights and bias zero) and labels in [0, K). Rows go in tiles
// of eight and classes in chunks of four: the tile's logits are eight times four running sums
// (one pass over Wp's rows for each chunk, the sums in registers), then each row's softmax, then
// the gradient, each of its rows' chunks taking the eight rows' terms at once. Each row used to
// take K dot products and K updates of the gradient, one vector loop over the d features each:
// epochs of 1,797 x 64 rows at batch 32 take 0.65x the time with 10 classes, 0.54x with 16,
// 0.94x with 3-5; scikit-learn's digits, default fit: 225 -> 105 ms.
// acc (d*Kp + Kp + 2 + 8*Kp): gradient over Wp, over the bias, loss sum, weight sum, then the
// tile's logits and probabilities (scratch).
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // the vectors stay inside the inlined helpers
#endif
template <class T>
DESCEND_CLONES void softmax_block(const Rows<T> rows, const index_t* labels, const double* Wp, const double* bp,
                                  std::size_t K, std::size_t Kp, std::size_t r0, std::size_t r1, double* acc) {
    constexpr std::size_t R = 8, C = 4;
    const std::size_t d = rows.d;
    double* gW = acc;
    double* gb = acc + d * Kp;
    double* P = acc + d * Kp + Kp + 2;  // R x Kp
    double loss_sum = 0.0, weight_sum = 0.0;
    constexpr std::size_t kAhead = 16;  // rows fetched ahead, as in linear_block
    const std::size_t block = std::max<std::size_t>(C, (std::size_t(256) << 10) / (Kp * sizeof(double)));
    std::size_t in_order = 0, fetched = r0 + 1;
    for (std::size_t i = r0; i < r1; i += R) {
        const std::size_t m = std::min(R, r1 - i);
        if ((std::is_same_v<T, float> || rows.index) && rows.fetch)
            for (; fetched < std::min(i + R + kAhead, r1); ++fetched) {
                const std::size_t a = fetched;
                in_order = rows.index && rows.index[a] == rows.index[a - 1] + 1 ? in_order + 1 : 0;
                if (std::is_same_v<T, float> || in_order < kStream) prefetch_row(rows.row(a), d);
            }
        const T* x[R];
        for (std::size_t t = 0; t < R; ++t) x[t] = rows.row(t < m ? i + t : i);  // a short tile: its first again
        // The logits start at the bias; the features go in blocks of `block`, whose rows of Wp
        // (at most 256 KB) stay in cache for every chunk of classes: Wp is read from memory
        // once a tile, where a wide X read it once a chunk (50 x 100k rows, 10 classes, loss
        // and gradient: 37 -> 24 ms; BLAS, which reads W once, 12). Each logit still adds its
        // terms in the order of j: the results are the same to the bit.
        for (std::size_t t = 0; t < R; ++t) std::copy(bp, bp + Kp, P + t * Kp);
        for (std::size_t j0 = 0; j0 < d; j0 += block)
        for (std::size_t c = 0; c < Kp; c += C) {
            const std::size_t j1 = std::min(d, j0 + block);
#ifdef DESCEND_VECTOR_DOT
            HalfD z0 = load_half(P + c), z1 = load_half(P + Kp + c), z2 = load_half(P + 2 * Kp + c),
                  z3 = load_half(P + 3 * Kp + c), z4 = load_half(P + 4 * Kp + c), z5 = load_half(P + 5 * Kp + c),
                  z6 = load_half(P + 6 * Kp + c), z7 = load_half(P + 7 * Kp + c);
            for (std::size_t j = j0; j < j1; ++j) {
                const HalfD w = load_half(Wp + j * Kp + c);
                z0 += static_cast<double>(x[0][j]) * w, z1 += static_cast<double>(x[1][j]) * w;
                z2 += static_cast<double>(x[2][j]) * w, z3 += static_cast<double>(x[3][j]) * w;
                z4 += static_cast<double>(x[4][j]) * w, z5 += static_cast<double>(x[5][j]) * w;
                z6 += static_cast<double>(x[6][j]) * w, z7 += static_cast<double>(x[7][j]) * w;
            }
            const HalfD zs[R] = {z0, z1, z2, z3, z4, z5, z6, z7};
            for (std::size_t t = 0; t < R; ++t) __builtin_memcpy(P + t * Kp + c, &zs[t], sizeof(HalfD));
#else
            double z[R][C];
            for (std::size_t t = 0; t < R; ++t)
                for (std::size_t q = 0; q < C; ++q) z[t][q] = P[t * Kp + c + q];
            for (std::size_t j = j0; j < j1; ++j) {
                const double* w = Wp + j * Kp + c;
                for (std::size_t t = 0; t < R; ++t) {
                    const double xt = static_cast<double>(x[t][j]);
                    for (std::size_t q = 0; q < C; ++q) z[t][q] += xt * w[q];
                }
            }
            for (std::size_t t = 0; t < R; ++t)
                for (std::size_t q = 0; q < C; ++q) P[t * Kp + c + q] = z[t][q];
#endif
        }
        for (std::size_t t = 0; t < R; ++t) {
            double* p = P + t * Kp;
            if (t >= m) {  // the repeated row adds nothing
                for (std::size_t k = 0; k < Kp; ++k) p[k] = 0.0;
                continue;
            }
            const std::size_t id = rows.id(i + t);
            const std::size_t yi = static_cast<std::size_t>(labels[id]);
            double zmax = p[0];
            for (std::size_t k = 1; k < K; ++k) zmax = std::max(zmax, p[k]);
            const double zy = p[yi] - zmax;
            double sum = 0.0;
            // over the padded classes too (their probabilities 0), so that short rows of classes
            // are whole vectors
#pragma omp simd reduction(+ : sum)
            for (std::size_t k = 0; k < Kp; ++k) {
                p[k] = k < K ? vmath::exp_nonpos(p[k] - zmax) : 0.0;  // unnormalised probabilities
                sum += p[k];
            }
            const double s = rows.sample_weight ? static_cast<double>(rows.sample_weight[id]) : 1.0;
            // loss = logsumexp(z) - z_y, both shifted by max(z)
            loss_sum += s * (std::log(sum) - zy);
            weight_sum += s;
            const double inv = s / sum;
#pragma omp simd
            for (std::size_t k = 0; k < Kp; ++k) p[k] *= inv;
            p[yi] -= s;
            for (std::size_t k = 0; k < K; ++k) gb[k] += p[k];
        }
        // the gradient's rows in the same blocks of features: the block of gW stays in cache
        // for every chunk of classes
        for (std::size_t j0 = 0; j0 < d; j0 += block)
        for (std::size_t c = 0; c < Kp; c += C) {
            const std::size_t j1 = std::min(d, j0 + block);
#ifdef DESCEND_VECTOR_DOT
            const HalfD p0 = load_half(P + c), p1 = load_half(P + Kp + c), p2 = load_half(P + 2 * Kp + c),
                        p3 = load_half(P + 3 * Kp + c), p4 = load_half(P + 4 * Kp + c), p5 = load_half(P + 5 * Kp + c),
                        p6 = load_half(P + 6 * Kp + c), p7 = load_half(P + 7 * Kp + c);
            for (std::size_t j = j0; j < j1; ++j) {
                double* g = gW + j * Kp + c;
                HalfD gj = load_half(g);
                gj += ((static_cast<double>(x[0][j]) * p0 + static_cast<double>(x[1][j]) * p1) +
                       (static_cast<double>(x[2][j]) * p2 + static_cast<double>(x[3][j]) * p3)) +
                      ((static_cast<double>(x[4][j]) * p4 + static_cast<double>(x[5][j]) * p5) +
                       (static_cast<double>(x[6][j]) * p6 + static_cast<double>(x[7][j]) * p7));
                __builtin_memcpy(g, &gj, sizeof gj);
            }
#else
            double pc[R][C];
            for (std::size_t t = 0; t < R; ++t)
                for (std::size_t q = 0; q < C; ++q) pc[t][q] = P[t * Kp + c + q];
            for (std::size_t j = j0; j < j1; ++j) {
                double* g = gW + j * Kp + c;
                double s[C];
                for (std::size_t q = 0; q < C; ++q) s[q] = g[q];
                for (std::size_t t = 0; t < R; ++t) {
                    const double xt = static_cast<double>(x[t][j]);
                    for (std::size_t q = 0; q < C; ++q) s[q] += xt * pc[t][q];
                }
                for (std::size_t q = 0; q < C; ++q) g[q] = s[q];
            }
#endif
        }
    }
    acc[d * Kp + Kp] = loss_sum;
    acc[d * Kp + Kp + 1] = weight_sum;
}
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

// out[j] = the sum over b < rows of p[b * width + j], added in order of b, for j < n.
DESCEND_CLONES inline void add_rows(const double* DESCEND_RESTRICT p, std::size_t rows, std::size_t width,
                                    std::size_t n, double* DESCEND_RESTRICT out) {
#pragma omp simd
    for (std::size_t j = 0; j < n; ++j) out[j] = 0.0;
    for (std::size_t b = 0; b < rows; ++b) {
        const double* r = p + b * width;
#pragma omp simd
        for (std::size_t j = 0; j < n; ++j) out[j] += r[j];
    }
}

// Runs block(r0, r1, acc_b, ahead) for every row block [r0, r1), each into its own row of a
// blocks x width buffer, then sums the rows in block order into sum_width doubles at the end of
// buf, and returns them. ahead: the first row of the block the same thread runs next, counted
// past n_rows when that is in a next call (the next mini-batch, blocked alike).
// buf is reused across calls: after the first, no allocation. With a team (an epoch's
// threads), the blocks are handed to its members instead of a new parallel region.
template <class Block>
double* blocked_sum(std::size_t n_rows, std::size_t width, std::size_t sum_width, std::size_t work_per_row,
                    int n_threads, std::vector<double>& buf, Block&& block, Team* team = nullptr) {
    const RowBlocks blocks(n_rows);
    const std::size_t nb = blocks.count;
    buf.resize(nb * width + sum_width);
    double* out = buf.data() + nb * width;
    const int nt = threads_for(n_threads, std::min(nb, n_rows * work_per_row / 8192 + 1), 1);
    parallel_for(team, nt, nb, [&](std::size_t b, std::size_t after) {
        const std::size_t ahead = after < nb ? blocks.begin(after) : n_rows + blocks.begin(after - nb);
        // zeroed by the thread that fills it: the calling thread's writes would have to cross
        // to the block's thread's core, and the next step wait for them
        double* acc = buf.data() + b * width;
        std::fill(acc, acc + width, 0.0);
        block(blocks.begin(b), blocks.end(b), acc, ahead);
    });
    if (sum_width * nb > (1u << 16) && nt > 1) {
        parallel_for(team, nt, sum_width, [&](std::size_t j, std::size_t) {
            double sj = 0.0;
            for (std::size_t b = 0; b < nb; ++b) sj += buf[b * width + j];
            out[j] = sj;
        });
    } else {
        add_rows(buf.data(), nb, width, sum_width, out);
    }
    return out;
}

// The gradient of the mean loss plus the penalty at weights w, into out: out[j] = sum[j] * scale
// plus the penalty's (sub)gradient at w[j]. Returns the penalty's value. One vector pass (three
// loops, two of them compiled for baseline x86-64 only, took 230 ns for 100 weights, this 40-70).
template <class T>
DESCEND_CLONES double finish_gradient(const double* DESCEND_RESTRICT sum, double scale, const T* DESCEND_RESTRICT w,
                                      std::size_t n, const Penalty& pen, T* DESCEND_RESTRICT out) {
    const double a1 = pen.alpha * pen.l1_ratio, a2 = pen.alpha * (1.0 - pen.l1_ratio);
    const double g1 = pen.l1_gradient ? a1 : 0.0;  // the L1 term's share of the gradient
    double l1 = 0.0, l2 = 0.0;
    if (pen.alpha == 0.0) {
#pragma omp simd
        for (std::size_t j = 0; j < n; ++j) out[j] = static_cast<T>(sum[j] * scale);
    } else if (a1 == 0.0) {
#pragma omp simd reduction(+ : l2)
        for (std::size_t j = 0; j < n; ++j) {
            const double wj = static_cast<double>(w[j]);
            l2 += wj * wj;
            out[j] = static_cast<T>(sum[j] * scale + a2 * wj);
        }
    } else {
#pragma omp simd reduction(+ : l1, l2)
        for (std::size_t j = 0; j < n; ++j) {
            const double wj = static_cast<double>(w[j]);
            l1 += std::fabs(wj);
            l2 += wj * wj;
            const double sign = wj > 0.0 ? 1.0 : (wj < 0.0 ? -1.0 : 0.0);
            out[j] = static_cast<T>(sum[j] * scale + (g1 * sign + a2 * wj));
        }
    }
    return a1 * l1 + 0.5 * a2 * l2;
}

}  // namespace detail

// Two parts of a loss: the rows' weight sum (their count without sample weights) and the
// penalty's value.
struct LossParts {
    double weight_sum = 0;
    double penalty = 0;
};

// Loss and gradient of a linear model with one output. Returns the loss; writes grad_w (d) and
// grad_b. y and sample weights are indexed by row of X. buf is scratch reused across calls.
// The rows' (weighted) loss sum is divided by divisor, or when it is 0 by their weight sum: the
// mean loss, weighted by the sample weights. parts, when given: see LossParts.
template <class T, class Loss>
double linear_loss_grad(const Rows<T>& rows, const T* y, const T* w, double b, const Penalty& pen,
                        int n_threads, T* grad_w, double& grad_b, std::vector<double>& buf, Team* team = nullptr,
                        double divisor = 0, LossParts* parts = nullptr) {
    const std::size_t d = rows.d, width = d + 3;
    double* out = detail::blocked_sum(rows.n, width, width, d, n_threads, buf,
                                      [&](std::size_t r0, std::size_t r1, double* acc, std::size_t ahead) {
                                          detail::linear_block<T, Loss>(rows, y, w, b, r0, r1, acc, ahead);
                                      },
                                      team);
    const double inv = 1.0 / (divisor > 0 ? divisor : out[d + 2]);
    const double penalty = detail::finish_gradient(out, inv, w, d, pen, grad_w);
    grad_b = out[d] * inv;
    if (parts) *parts = LossParts{out[d + 2], penalty};
    return out[d + 1] * inv + penalty;
}

// Multinomial cross-entropy of a linear model with K outputs: W (d x K), b (K); divisor and
// parts as above.
template <class T>
double softmax_loss_grad(const Rows<T>& rows, const index_t* labels, const T* W, const T* b, std::size_t K,
                         const Penalty& pen, int n_threads, T* grad_W, T* grad_b, std::vector<double>& buf,
                         Team* team = nullptr, double divisor = 0, LossParts* parts = nullptr) {
    const std::size_t d = rows.d, dk = d * K, Kp = (K + 3) / 4 * 4, dkp = d * Kp;
    const std::size_t sum_width = dkp + Kp + 2, width = sum_width + 8 * Kp;
    // W and b in float64, padded with zeros to Kp classes (kept from call to call: no allocation)
    static thread_local std::vector<double> padded;
    padded.assign(dkp + Kp, 0.0);
    double* Wp = padded.data();
    double* bp = Wp + dkp;
    for (std::size_t j = 0; j < d; ++j)
        for (std::size_t k = 0; k < K; ++k) Wp[j * Kp + k] = static_cast<double>(W[j * K + k]);
    for (std::size_t k = 0; k < K; ++k) bp[k] = static_cast<double>(b[k]);
    double* out = detail::blocked_sum(rows.n, width, sum_width, dkp, n_threads, buf,
                                      [&](std::size_t r0, std::size_t r1, double* acc, std::size_t) {
                                          detail::softmax_block<T>(rows, labels, Wp, bp, K, Kp, r0, r1, acc);
                                      },
                                      team);
    const double inv = 1.0 / (divisor > 0 ? divisor : out[dkp + Kp + 1]);
    const double loss = out[dkp + Kp] * inv;
    for (std::size_t k = 0; k < K; ++k) grad_b[k] = static_cast<T>(out[dkp + k] * inv);
    if (Kp != K)  // the gradient's rows moved down to K classes each, in place
        for (std::size_t j = 1; j < d; ++j)
            for (std::size_t k = 0; k < K; ++k) out[j * K + k] = out[j * Kp + k];
    const double weight_sum = out[dkp + Kp + 1];
    const double penalty = detail::finish_gradient(out, inv, W, dk, pen, grad_W);
    if (parts) *parts = LossParts{weight_sum, penalty};
    return loss + penalty;
}

}  // namespace descend
