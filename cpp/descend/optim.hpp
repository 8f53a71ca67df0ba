// In-place optimizer updates over many parameter arrays at once, with PyTorch's equations.
// Arithmetic is done in the parameters' own type (as PyTorch's fused CPU kernels do); every
// update is elementwise, so the result does not depend on the number of threads. No Python here.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "descend/common.hpp"

namespace descend {

// One parameter array with its gradient and up to three state buffers of the same size.
template <class T>
struct Slot {
    T* param = nullptr;
    const T* grad = nullptr;
    T* s0 = nullptr;
    T* s1 = nullptr;
    T* s2 = nullptr;
    std::size_t size = 0;
};

// Elements per chunk of work in the elementwise updates.
constexpr std::size_t kChunk = std::size_t(1) << 16;

// Whether a step over `total` elements runs on the calling thread alone, opening no parallel
// region: the training engine keeps one region open across an epoch's steps only then.
inline bool step_runs_inline(std::size_t total) { return total < kChunk; }

// Calls fn(slot, offset, count) over all slots (a std::vector or std::array of Slot), split into
// fixed chunks spread over threads. Work too small for a second thread runs inline: no parallel
// region, no allocation.
template <class Slots, class Fn>
void for_each_chunk(const Slots& slots, int n_threads, Fn&& fn) {
    std::size_t total = 0;
    for (const auto& s : slots) total += s.size;
    const int nt = step_runs_inline(total) ? 1 : threads_for(n_threads, total, kChunk / 2);
    if (nt == 1) {
        for (const auto& s : slots)
            for (std::size_t off = 0; off < s.size; off += kChunk) fn(s, off, std::min(kChunk, s.size - off));
        return;
    }
    struct Piece {
        std::size_t slot, offset, count;
    };
    std::vector<Piece> pieces;
    for (std::size_t s = 0; s < slots.size(); ++s)
        for (std::size_t off = 0; off < slots[s].size; off += kChunk)
            pieces.push_back({s, off, std::min(kChunk, slots[s].size - off)});
#pragma omp parallel for schedule(static) num_threads(nt)
    for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(pieces.size()); ++i) {
        const Piece& pc = pieces[static_cast<std::size_t>(i)];
        fn(slots[pc.slot], pc.offset, pc.count);
    }
}

// ---- SGD with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD) ----------
// Each update's hyperparameters in the parameters' type T, derived ones (1 - beta, bias
// corrections, ...) computed in double first, as PyTorch does: 1 - beta2 formed in float is
// 1.3e-5 off for beta2 = 0.999, 1.4e-3 for 0.99999.
template <class T>
struct SgdHyper {
    T lr, momentum, damp, weight_decay;  // damp: 1 - dampening
    bool nesterov;
    bool first_step;  // the momentum buffer starts as the first (decayed) gradient
    static SgdHyper make(double lr, double momentum, double dampening, double weight_decay, bool nesterov,
                         bool first_step) {
        return {T(lr), T(momentum), T(1.0 - dampening), T(weight_decay), nesterov, first_step};
    }
};

template <class T>
DESCEND_CLONES void sgd_kernel(T* DESCEND_RESTRICT p, const T* DESCEND_RESTRICT g, T* DESCEND_RESTRICT buf,
                               std::size_t n, const SgdHyper<T> h) {
    const T lr = h.lr, mu = h.momentum, damp = h.damp, wd = h.weight_decay;
    if (mu == T(0)) {
#pragma omp simd
        for (std::size_t i = 0; i < n; ++i) p[i] -= lr * (g[i] + wd * p[i]);
    } else if (h.first_step) {
#pragma omp simd
        for (std::size_t i = 0; i < n; ++i) {
            const T d = g[i] + wd * p[i];
            buf[i] = d;
            p[i] -= lr * (h.nesterov ? d + mu * d : d);
        }
    } else if (h.nesterov) {
#pragma omp simd
        for (std::size_t i = 0; i < n; ++i) {
            const T d = g[i] + wd * p[i];
            const T bi = mu * buf[i] + damp * d;
            buf[i] = bi;
            p[i] -= lr * (d + mu * bi);
        }
    } else {
#pragma omp simd
        for (std::size_t i = 0; i < n; ++i) {
            const T bi = mu * buf[i] + damp * (g[i] + wd * p[i]);
            buf[i] = bi;
            p[i] -= lr * bi;
        }
    }
}

// ---- Adam / AdamW, with AMSGrad (torch.optim.Adam, torch.optim.AdamW) -----------------------
template <class T>
struct AdamHyper {
    T beta1, beta2, c1, c2, eps, weight_decay;  // c1, c2: 1 - beta1, 1 - beta2
    T step_size;        // lr / (1 - beta1^t)
    T bias_c2_sqrt;     // sqrt(1 - beta2^t)
    T decay;            // AdamW: 1 - lr * weight_decay
    bool decoupled;     // AdamW
    bool amsgrad;
    // at step t (1, 2, ...)
    static AdamHyper make(double lr, double beta1, double beta2, double eps, double weight_decay, std::int64_t t,
                          bool decoupled, bool amsgrad) {
        const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(t));
        const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(t));
        return {T(beta1),      T(beta2),          T(1.0 - beta1),
                T(1.0 - beta2), T(eps),            T(weight_decay),
                T(lr / bc1),    T(std::sqrt(bc2)), T(1.0 - lr * weight_decay),
                decoupled,      amsgrad};
    }
};

template <class T, bool Decoupled, bool Amsgrad>
DESCEND_CLONES void adam_kernel(T* DESCEND_RESTRICT p, const T* DESCEND_RESTRICT g, T* DESCEND_RESTRICT m,
                                T* DESCEND_RESTRICT v, T* DESCEND_RESTRICT vmax, std::size_t n,
                                const AdamHyper<T> h) {
    const T b1 = h.beta1, b2 = h.beta2, c1 = h.c1, c2 = h.c2;
    const T wd = Decoupled ? T(0) : h.weight_decay, decay = h.decay;
    const T eps = h.eps, step = h.step_size, bc2 = h.bias_c2_sqrt;
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) {
        T pi = p[i];
        T gi = g[i];
        if constexpr (Decoupled) pi *= decay;
        else gi += wd * pi;
        const T mi = b1 * m[i] + c1 * gi;
        T vi = b2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        if constexpr (Amsgrad) {
            vi = vmax[i] > vi ? vmax[i] : vi;
            vmax[i] = vi;
        }
        p[i] = pi - step * mi / (std::sqrt(vi) / bc2 + eps);
    }
}

template <class T, class Slots>
void adam_step(const Slots& slots, const AdamHyper<T>& h, int n_threads) {
    auto run = [&](auto kernel) {
        for_each_chunk(slots, n_threads, [&](const Slot<T>& s, std::size_t off, std::size_t cnt) {
            kernel(s.param + off, s.grad + off, s.s0 + off, s.s1 + off, s.s2 ? s.s2 + off : nullptr, cnt, h);
        });
    };
    if (h.decoupled) {
        if (h.amsgrad) run(adam_kernel<T, true, true>);
        else run(adam_kernel<T, true, false>);
    } else {
        if (h.amsgrad) run(adam_kernel<T, false, true>);
        else run(adam_kernel<T, false, false>);
    }
}

template <class T, class Slots>
void sgd_step(const Slots& slots, const SgdHyper<T>& h, int n_threads) {
    for_each_chunk(slots, n_threads, [&](const Slot<T>& s, std::size_t off, std::size_t cnt) {
        sgd_kernel<T>(s.param + off, s.grad + off, s.s0 ? s.s0 + off : nullptr, cnt, h);
    });
}

// ---- RMSprop, centered and with momentum (torch.optim.RMSprop) ------------------------------
template <class T>
struct RmspropHyper {
    T lr, alpha, c, eps, weight_decay, momentum;  // c: 1 - alpha
    bool centered;
    static RmspropHyper make(double lr, double alpha, double eps, double weight_decay, double momentum,
                             bool centered) {
        return {T(lr), T(alpha), T(1.0 - alpha), T(eps), T(weight_decay), T(momentum), centered};
    }
};

template <class T, bool Centered, bool Momentum>
DESCEND_CLONES void rmsprop_kernel(T* DESCEND_RESTRICT p, const T* DESCEND_RESTRICT g, T* DESCEND_RESTRICT sq,
                                   T* DESCEND_RESTRICT gavg, T* DESCEND_RESTRICT buf, std::size_t n,
                                   const RmspropHyper<T> h) {
    const T a = h.alpha, c = h.c, wd = h.weight_decay, eps = h.eps, lr = h.lr, mu = h.momentum;
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) {
        const T gi = g[i] + wd * p[i];
        const T si = a * sq[i] + c * gi * gi;
        sq[i] = si;
        T avg;
        if constexpr (Centered) {
            const T ga = a * gavg[i] + c * gi;
            gavg[i] = ga;
            avg = std::sqrt(si - ga * ga) + eps;
        } else {
            avg = std::sqrt(si) + eps;
        }
        if constexpr (Momentum) {
            const T bi = mu * buf[i] + gi / avg;
            buf[i] = bi;
            p[i] -= lr * bi;
        } else {
            p[i] -= lr * gi / avg;
        }
    }
}

template <class T, class Slots>
void rmsprop_step(const Slots& slots, const RmspropHyper<T>& h, int n_threads) {
    auto run = [&](auto kernel) {
        for_each_chunk(slots, n_threads, [&](const Slot<T>& s, std::size_t off, std::size_t cnt) {
            auto at = [off](T* q) { return q ? q + off : nullptr; };
            kernel(s.param + off, s.grad + off, s.s0 + off, at(s.s1), at(s.s2), cnt, h);
        });
    };
    const bool mom = h.momentum != T(0);
    if (h.centered) {
        if (mom) run(rmsprop_kernel<T, true, true>);
        else run(rmsprop_kernel<T, true, false>);
    } else {
        if (mom) run(rmsprop_kernel<T, false, true>);
        else run(rmsprop_kernel<T, false, false>);
    }
}

// ---- Soft thresholding: the proximal step of an L1 penalty ----------------------------------
// sign(p) max(|p| - tau, 0)
template <class T>
DESCEND_FORCE_INLINE T shrink(T p, T tau) {
    return p > tau ? p - tau : (p < -tau ? p + tau : T(0));
}

// p <- sign(p) max(|p| - tau, 0) elementwise, the proximal map of tau |p|_1, at each element's
// step size: tau = thresh without v; with v (Adam's second moment, or its AMSGrad maximum, and
// bc2 = sqrt(1 - beta2^t)), tau = thresh / (sqrt(v) / bc2 + eps), as Adam divides its own step.
template <class T>
DESCEND_CLONES void soft_threshold(T* DESCEND_RESTRICT p, const T* DESCEND_RESTRICT v, std::size_t n, T thresh, T bc2,
                                   T eps) {
    if (!v) {
#pragma omp simd
        for (std::size_t i = 0; i < n; ++i) p[i] = shrink(p[i], thresh);
    } else {
#pragma omp simd
        for (std::size_t i = 0; i < n; ++i) p[i] = shrink(p[i], thresh / (std::sqrt(v[i]) / bc2 + eps));
    }
}

// ---- Global gradient norm and clipping (torch.nn.utils.clip_grad_norm_) ---------------------
template <class T>
DESCEND_CLONES void scale_inplace(T* DESCEND_RESTRICT x, std::size_t n, T c) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) x[i] *= c;
}

// L2 norm over all arrays, in double, summed in a fixed order of fixed chunks.
template <class T>
double global_norm(const std::vector<const T*>& arrays, const std::vector<std::size_t>& sizes, int n_threads) {
    std::vector<Slot<T>> slots;
    std::vector<std::size_t> first_piece;
    std::size_t n_pieces = 0;
    for (std::size_t i = 0; i < arrays.size(); ++i) {
        Slot<T> s;
        s.grad = arrays[i];
        s.size = sizes[i];
        slots.push_back(s);
        first_piece.push_back(n_pieces);
        n_pieces += (sizes[i] + kChunk - 1) / kChunk;
    }
    std::vector<double> partial(n_pieces, 0.0);
    for_each_chunk(slots, n_threads, [&](const Slot<T>& s, std::size_t off, std::size_t cnt) {
        const std::size_t slot = static_cast<std::size_t>(&s - slots.data());
        partial[first_piece[slot] + off / kChunk] = sum_squares(s.grad + off, cnt);
    });
    double total = 0.0;
    for (double p : partial) total += p;
    if (std::isinf(total)) {  // overflowed (values above about 1e154): by the largest value
        std::vector<std::pair<const T*, std::size_t>> parts;
        for (std::size_t i = 0; i < arrays.size(); ++i) parts.emplace_back(arrays[i], sizes[i]);
        return norm_by_largest<T>(parts);
    }
    return std::sqrt(total);
}

}  // namespace descend
