// Vectorizable exp and log1p for the ranges the losses need: plain arithmetic and bit
// manipulation only, so that a `#pragma omp simd` loop over rows calls no library function.
// Accurate to a few ulp (the tests hold the losses to 1e-12 of NumPy's libm results).
#pragma once

#include <cstdint>
#include <cstring>

namespace descend::vmath {

inline double from_bits(std::int64_t b) {
    double d;
    std::memcpy(&d, &b, sizeof d);
    return d;
}

inline std::int64_t to_bits(double d) {
    std::int64_t b;
    std::memcpy(&b, &d, sizeof b);
    return b;
}

// exp(x) for x <= 0; 0 below -708 (where exp(x) < 2.3e-308).
inline double exp_nonpos(double x) {
    constexpr double kLog2e = 1.4426950408889634074;
    constexpr double kLn2Hi = 6.93147180369123816490e-01;  // Cody-Waite split of ln 2
    constexpr double kLn2Lo = 1.90821492927058770002e-10;
    constexpr double kShift = 6755399441055744.0;           // 1.5 * 2^52: adding it rounds to an integer
    const double xc = x < -708.0 ? -708.0 : x;
    const double shifted = xc * kLog2e + kShift;
    const double n = shifted - kShift;                      // round(x / ln 2)
    const std::int64_t ni = to_bits(shifted) - to_bits(kShift);
    const double r = (xc - n * kLn2Hi) - n * kLn2Lo;        // |r| <= ln2 / 2
    // Taylor polynomial of degree 13 on |r| <= 0.347: truncation error < 1e-17 relative.
    // Estrin's scheme: four multiply-adds deep where Horner's is thirteen (the loss of eight
    // rows is one vector, so its latency is what the row loop waits for).
    const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    const double q0 = 1.0 + r, q1 = 1.0 / 2 + r * (1.0 / 6), q2 = 1.0 / 24 + r * (1.0 / 120),
                 q3 = 1.0 / 720 + r * (1.0 / 5040), q4 = 1.0 / 40320 + r * (1.0 / 362880),
                 q5 = 1.0 / 3628800 + r * (1.0 / 39916800), q6 = 1.0 / 479001600 + r * (1.0 / 6227020800);
    const double p = (q0 + r2 * q1) + r4 * (q2 + r2 * q3) + r8 * ((q4 + r2 * q5) + r4 * q6);
    const double result = from_bits(to_bits(p) + (ni << 52));  // p * 2^n
    return x < -708.0 ? 0.0 : result;
}

// log1p(e) for 0 <= e <= 1, as 2 atanh(s) with s = e / (2 + e) in [0, 1/3].
inline double log1p_unit(double e) {
    const double s = e / (2.0 + e);
    const double s2 = s * s;
    // 2 * sum_k s^(2k+1) / (2k+1), k = 0..17: the first omitted term is below 1e-17 relative.
    // Estrin's scheme in s^2, five multiply-adds deep where Horner's is seventeen.
    auto c = [](int k) { return 1.0 / (2 * k + 1); };
    const double x2 = s2 * s2, x4 = x2 * x2, x8 = x4 * x4, x16 = x8 * x8;
    auto pair = [&](int k) { return c(k) + s2 * c(k + 1); };
    auto quad = [&](int k) { return pair(k) + x2 * pair(k + 2); };
    const double oct0 = quad(0) + x4 * quad(4), oct1 = quad(8) + x4 * quad(12);
    const double p = (oct0 + x8 * oct1) + x16 * pair(16);
    return 2.0 * s * p;
}

}  // namespace descend::vmath
