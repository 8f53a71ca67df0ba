// Input checks that read a whole data set, in parallel and without temporaries. No Python here.
#pragma once

#include <cmath>
#include <algorithm>
#include <cstddef>
#include <limits>

#include "descend/common.hpp"

namespace descend {

// True when x[0..n) are all finite. A product with zero is NaN exactly for NaN and infinity, so
// the test is one multiply-and-compare per element, vectorized, with no branch in the loop.
template <class T>
DESCEND_CLONES bool all_finite(const T* DESCEND_RESTRICT x, std::size_t n) {
    T acc = T(0);
#pragma omp simd reduction(+ : acc)
    for (std::size_t i = 0; i < n; ++i) acc += x[i] * T(0);
    return acc == T(0);
}

// The first row of X (n x d, C order) holding a NaN or an infinity, or -1 when there is none.
// Rows are checked in parallel in fixed chunks; the answer does not depend on the thread count.
template <class T>
index_t first_nonfinite_row(const T* X, std::size_t n, std::size_t d, int n_threads) {
    const std::size_t rows = std::max<std::size_t>(1, (std::size_t(1) << 16) / std::max<std::size_t>(1, d));
    const std::size_t chunks = (n + rows - 1) / rows;
    index_t first = std::numeric_limits<index_t>::max();
    const int nt = threads_for(n_threads, n * d, std::size_t(1) << 17);
#pragma omp parallel for schedule(static) num_threads(nt) reduction(min : first)
    for (std::ptrdiff_t c = 0; c < static_cast<std::ptrdiff_t>(chunks); ++c) {
        const std::size_t r0 = static_cast<std::size_t>(c) * rows, r1 = std::min(n, r0 + rows);
        if (all_finite(X + r0 * d, (r1 - r0) * d)) continue;
        for (std::size_t r = r0; r < r1; ++r)
            if (!all_finite(X + r * d, d)) {
                first = std::min(first, static_cast<index_t>(r));
                break;
            }
    }
    return first == std::numeric_limits<index_t>::max() ? -1 : first;
}

}  // namespace descend
