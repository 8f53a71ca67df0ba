// The mini-batch training loop of a linear model: shuffle, gather a batch by index, loss and
// gradient, clip, optimizer step, learning-rate schedule; one epoch per call, with no Python in
// it. X is never copied or permuted: batches are index ranges into a permutation of row ids.
// No Python here: the caller supplies an interrupt check.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "descend/inputs.hpp"
#include "descend/losses.hpp"
#include "descend/optim.hpp"

namespace descend {

// splitmix64: a tiny, well-mixed generator whose exact stream the NumPy reference reproduces.
struct SplitMix64 {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
};

// The high 64 bits of a x b: floor(a b / 2^64).
inline std::uint64_t mul_high(std::uint64_t a, std::uint64_t b) {
#if defined(__SIZEOF_INT128__)
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(a) * b) >> 64);
#else
    const std::uint64_t a0 = a & 0xFFFFFFFFu, a1 = a >> 32, b0 = b & 0xFFFFFFFFu, b1 = b >> 32;
    const std::uint64_t mid = (a0 * b0 >> 32) + (a1 * b0 & 0xFFFFFFFFu) + a0 * b1;
    return a1 * b1 + (a1 * b0 >> 32) + (mid >> 32);
#endif
}

// A draw in [0, k): floor(next() k / 2^64).
inline std::size_t draw_below(SplitMix64& rng, std::size_t k) {
    return static_cast<std::size_t>(mul_high(rng.next(), k));
}

// Fisher-Yates, from the last element down: j = floor(next() (i + 1) / 2^64), a multiplication
// where next() mod (i + 1) takes a 64-bit division (a million rows: 4.7 -> 2.5 ms; both are
// uniform to within (i + 1) / 2^64). The draws are made kAhead steps early (the same draws, in
// the same order) so that the random element each swap reads is fetched while earlier swaps
// run: a million rows shuffle in about 3/4 of the time. Ids that fit in half a core's L2 cache
// are shuffled without it (569 ids: 1.38 -> 0.88 us; 131,072: 239 -> 206 us; 262,144 ids
// measured slower without).
inline void shuffle(index_t* idx, std::size_t n, SplitMix64& rng) {
    if (n < 2) return;
    if (n * sizeof(index_t) <= l2_cache_bytes() / 2) {
        for (std::size_t i = n - 1; i >= 1; --i) std::swap(idx[i], idx[draw_below(rng, i + 1)]);
        return;
    }
    constexpr std::size_t kAhead = 16;
    std::size_t drawn[kAhead];  // drawn[s % kAhead]: the draw of step s
    std::size_t next = n - 1;   // the step whose draw comes next; steps run n-1 down to 1
    auto draw = [&] {
        const std::size_t j = draw_below(rng, next + 1);
        drawn[next % kAhead] = j;
#if defined(__GNUC__)
        __builtin_prefetch(idx + j, 1, 3);
#endif
        --next;
    };
    for (std::size_t k = 0; k < kAhead && next >= 1; ++k) draw();
    for (std::size_t i = n - 1; i >= 1; --i) {
        const std::size_t j = drawn[i % kAhead];
        if (next >= 1) draw();
        std::swap(idx[i], idx[j]);
    }
}

// The visiting order of an epoch that shuffles runs of k consecutive entries of base (the last
// run may be shorter): the run ids 0..ceil(n/k) are shuffled as above, then their entries are
// laid out run after run into out. Reads stream within a run.
inline void shuffle_runs(const index_t* base, std::size_t n, std::size_t k, SplitMix64& rng,
                         std::vector<index_t>& runs, index_t* out) {
    const std::size_t nr = (n + k - 1) / k;
    runs.resize(nr);
    for (std::size_t r = 0; r < nr; ++r) runs[r] = static_cast<index_t>(r);
    shuffle(runs.data(), nr, rng);
    std::size_t pos = 0;
    for (std::size_t r = 0; r < nr; ++r) {
        const std::size_t b = static_cast<std::size_t>(runs[r]) * k, e = std::min(n, b + k);
        for (std::size_t i = b; i < e; ++i) out[pos++] = base[i];
    }
}

constexpr double kPi = 3.14159265358979323846;

enum class LossKind { squared_error = 0, logistic = 1, softmax = 2 };
enum class OptimKind { sgd = 0, adam = 1, rmsprop = 2 };
enum class ScheduleKind { constant = 0, step = 1, exponential = 2, cosine = 3, invscaling = 4 };

// Learning rate at global step t (1-based): lr * scale * warm-up(s) * schedule(s), at the
// schedule's step s = t + offset. The offset counts the schedule in epochs when they are not all
// of steps_per_epoch steps (partial_fit calls on chunks of other sizes): each epoch's first
// step is then epoch * steps_per_epoch + 1 (see epoch_offset); invscaling counts steps taken.
struct Schedule {
    ScheduleKind kind = ScheduleKind::constant;
    double lr = 0.01;
    double scale = 1.0;          // reduce-on-plateau factor so far
    double gamma = 0.1;          // step, exponential
    double step_size = 1.0;      // step: epochs between decays
    double power_t = 0.25;       // invscaling
    double min_lr = 0.0;         // cosine floor
    std::int64_t steps_per_epoch = 1;
    std::int64_t total_steps = 1;   // cosine period
    std::int64_t warmup_steps = 0;
    std::int64_t offset = 0;

    // The offset that puts the next step (after `steps` taken) at the start of epoch `epoch`.
    std::int64_t epoch_offset(std::int64_t epoch, std::int64_t steps) const { return epoch * steps_per_epoch - steps; }

    double at(std::int64_t t) const {
        // invscaling counts the steps taken, so that its rate only falls when partial_fit
        // calls of other sizes put an epoch's first step elsewhere (a call of 10 rows after one
        // of 1,000 raised it 2x); the others count epochs
        const double taken = static_cast<double>(t);
        t += offset;
        const double base = lr * scale;
        const double epoch = static_cast<double>((t - 1) / steps_per_epoch);
        double rate = base;
        switch (kind) {
            case ScheduleKind::constant: break;
            case ScheduleKind::step: rate = base * std::pow(gamma, std::floor(epoch / step_size)); break;
            case ScheduleKind::exponential: rate = base * std::pow(gamma, epoch); break;
            case ScheduleKind::cosine: {
                const double p = std::min(1.0, static_cast<double>(t - 1) / static_cast<double>(total_steps));
                rate = min_lr + (base - min_lr) * 0.5 * (1.0 + std::cos(kPi * p));
                break;
            }
            case ScheduleKind::invscaling: rate = base / std::pow(taken, power_t); break;
        }
        if (warmup_steps > 0 && t <= warmup_steps)
            rate *= static_cast<double>(t) / static_cast<double>(warmup_steps);
        return rate;
    }
};

template <class T>
struct OptimConfig {
    OptimKind kind = OptimKind::sgd;
    double momentum = 0, dampening = 0, weight_decay = 0;
    bool nesterov = false;
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    bool amsgrad = false, decoupled = false;
    double alpha = 0.99;  // RMSprop
    bool centered = false;
    std::int64_t step = 0;   // steps taken so far (in/out)
    bool fresh = true;       // SGD: the momentum buffers have not been written yet (in/out)
};

// One model: coefficients (d x K, C order; K = 1 for one output) and K intercepts, with the
// optimizer's state buffers for each (slot 0: coef, slot 1: intercept).
template <class T>
struct Model {
    T* coef = nullptr;
    T* intercept = nullptr;
    std::size_t d = 0, K = 1;
    bool fit_intercept = true;
    T* state[2][3] = {{nullptr, nullptr, nullptr}, {nullptr, nullptr, nullptr}};
};

// A model, its optimizer's step and state, and the generator at one moment, to go back to:
// several epochs run in one call go back to the start of the one that diverges, as the caller
// undoes a call of one epoch (the model before the blow-up, not the last finite one after it).
template <class T>
class Checkpoint {
  public:
    void save(const Model<T>& m, const OptimConfig<T>& opt, const SplitMix64& rng) {
        values_.clear();
        arrays(m, [&](T* p, std::size_t n) { values_.insert(values_.end(), p, p + n); });
        step_ = opt.step;
        fresh_ = opt.fresh;
        rng_ = rng.state;
    }
    void restore(Model<T>& m, OptimConfig<T>& opt, SplitMix64& rng) const {
        const T* from = values_.data();
        arrays(m, [&](T* p, std::size_t n) {
            std::copy(from, from + n, p);
            from += n;
        });
        opt.step = step_;
        opt.fresh = fresh_;
        rng.state = rng_;
    }

  private:
    template <class F>
    static void arrays(const Model<T>& m, F&& f) {  // the coefficients, the intercept, their state
        const std::size_t sizes[2] = {m.d * m.K, m.K};
        f(m.coef, sizes[0]);
        f(m.intercept, sizes[1]);
        for (std::size_t s = 0; s < 2; ++s)
            for (T* a : m.state[s])
                if (a) f(a, sizes[s]);
    }
    std::vector<T> values_;
    std::int64_t step_ = 0;
    bool fresh_ = true;
    std::uint64_t rng_ = 0;
};

struct EpochResult {
    double loss_sum = 0;       // the rows' weighted loss sum, plus each batch's penalty x its weight
    double weight_sum = 0;     // the rows' weight sum (their count without sample weights)
    double grad_norm_sum = 0;  // sum over steps of the (pre-clip) gradient norm
    std::int64_t steps = 0;
    int status = 0;            // 0 done, 1 diverged, 2 interrupted
    std::int64_t fail_step = 0;
    double fail_loss = 0, fail_lr = 0;
    // why it diverged: 0 the loss (not finite, or above the limit), 1 the parameters (not
    // finite), 2 the optimizer's average of squared gradients (overflowed; fail_grad_norm says
    // the gradient's norm)
    int fail_reason = 0;
    double fail_grad_norm = 0;
    double last_lr = 0;
};

struct EpochConfig {
    LossKind loss = LossKind::squared_error;
    Penalty penalty;
    std::size_t batch_size = 0;  // 0: the whole training set
    bool shuffle = true;
    std::size_t shuffle_run = 1;  // > 1: shuffle runs of this many consecutive rows of order
    double clip_norm = 0;        // 0: no clipping
    double loss_limit = std::numeric_limits<double>::infinity();  // a batch loss above: diverged
    // The mean row weight (1 without sample weights; the estimators keep a training's first for
    // its later partial_fit calls). A batch's weighted loss sum is divided by its row count times
    // this mean, not by the batch's own weight sum, so that its gradient is an unbiased estimate
    // of the whole weighted mean's (a ratio of two batch sums is not: rows of large weight count
    // for less in the batches they share with others, and training settled about 1% above the
    // weighted optimum with weights of 0.5 and 10). A batch of zero weight then takes the
    // penalty's step, as every batch does.
    double weight_mean = 1.0;
    int n_threads = 1;
};

template <class T>
class Trainer {
  public:
    Trainer(const Rows<T>& data, const T* y, const index_t* labels) : data_(data), y_(y), labels_(labels) {}

    // The batches of an epoch go in segments of about 32M multiply-adds, with the interrupt
    // check between them (see epoch()): the rows of a segment, for batches of B rows of per_row
    // multiply-adds each.
    static std::size_t segment_rows(std::size_t B, std::size_t per_row) {
        return std::max<std::size_t>(1, (std::size_t(1) << 25) / (B * per_row + 1)) * B;
    }
    static std::size_t batch_rows(std::size_t n, const EpochConfig& cfg) {
        return cfg.batch_size == 0 ? n : std::min(cfg.batch_size, n);
    }
    // The rows of an epoch's first batch: what is left over by the others, of B rows each (in
    // [1, B]; 0 for no rows). A short batch comes first, so that every epoch ends with a whole
    // batch's step: ending with a short one, whose L1 step is as short, left fewer of the
    // weights an L1 optimum has at 0 at exactly 0 (breast_cancer: 13-14 of 23, not 16-19).
    static std::size_t first_batch(std::size_t n, std::size_t B) { return n == 0 ? 0 : n - (n - 1) / B * B; }
    static std::size_t row_work(const Model<T>& m, const EpochConfig& cfg) {
        return cfg.loss == LossKind::softmax ? m.d * m.K : m.d;
    }
    // Whether an epoch over n rows is one segment, which an interrupt cannot stop midway.
    static bool one_segment(std::size_t n, const Model<T>& m, const EpochConfig& cfg) {
        return n <= segment_rows(batch_rows(n, cfg), row_work(m, cfg));
    }

    // One epoch over the rows listed in order[0..n): reshuffled in place first when asked, or,
    // shuffling runs, left as it is and visited run by run in a random order of the runs.
    EpochResult epoch(index_t* order, std::size_t n, SplitMix64& rng, Model<T>& m, OptimConfig<T>& opt,
                      const Schedule& sched, const EpochConfig& config, const std::function<bool()>& interrupted) {
        EpochConfig cfg = config;
        cfg.penalty.l1_gradient = opt.kind == OptimKind::rmsprop;  // else its proximal step (shrink_l1)
        if (cfg.shuffle && cfg.shuffle_run > 1) {
            visit_.resize(n);
            shuffle_runs(order, n, cfg.shuffle_run, rng, runs_, visit_.data());
            order = visit_.data();
        } else if (cfg.shuffle) {
            shuffle(order, n, rng);
        }
        const std::size_t B = batch_rows(n, cfg);
        const std::size_t dk = m.d * m.K;
        grad_w_.resize(dk);
        grad_b_.resize(m.K);
        backup_.resize(dk + m.K);
        // The threads a batch's loss and gradient use. When that is more than one and the
        // optimizer's step is too small to be split (so nothing else opens a parallel region),
        // one region spans many batches: its team takes each batch's row blocks (Team). With more
        // threads asked for than there are cores, the team has one per core (the result does
        // not depend on the number of threads).
        const std::size_t per_row = row_work(m, cfg);
        int nt = threads_for(cfg.n_threads, std::min(RowBlocks(B).count, B * per_row / 8192 + 1), 1);
#ifdef _OPENMP
        if (nt > 1) nt = std::min(nt, omp_get_num_procs());  // members spin before they sleep: no more than cores
        // the weights' step inline, the intercept's always on one thread
        const bool team = nt > 1 && step_runs_inline(dk);
#else
        const bool team = false;
        (void)nt;
#endif
        // The batches go in segments of about 32M multiply-adds (some 10-50 ms), with the
        // interrupt check between them, outside any parallel region: the check takes the GIL,
        // and a thread that waits for it when the interpreter starts to exit is ended by
        // unwinding its stack, which must not cross a parallel region. Not shorter: at the end
        // of each region OpenMP's idle threads spin for milliseconds, which other processes'
        // threads need when the cores are shared (two fits side by side, 2^21 a segment: an
        // epoch 3x slower).
        // A team whose caller waits long for its helpers again and again (they are not running:
        // the cores are busy with other work, and every batch would wait for a time slice)
        // hands the rest of its segment and the next kSolo segments to the calling thread
        // alone, which gives the same result; then the team is tried again.
        const std::size_t per_segment = segment_rows(B, per_row);
        constexpr std::size_t kSolo = 16;
        std::size_t solo = 0;
        EpochConfig one_thread = cfg;
        one_thread.n_threads = 1;
        EpochResult res;
        for (std::size_t start = 0; start < n;) {
            // segments end where batches do (the first batch may be short: batches())
            const std::size_t stop = std::min(n, start + per_segment - (start == 0 ? B - first_batch(n, B) : 0));
            std::size_t next;  // where the first batch not run starts
            bool ok;
            if (team && solo == 0) {
                ok = team_batches(order, n, start, stop, B, nt, m, opt, sched, cfg, res, next);
                if (ok && next < stop) {  // the team gave way
                    solo = kSolo;
                    ok = batches(order, n, next, stop, B, m, opt, sched, one_thread, res, next);
                }
            } else {
                const bool alone = solo > 0;
                solo -= alone;
                ok = batches(order, n, start, stop, B, m, opt, sched, alone ? one_thread : cfg, res, next);
            }
            if (!ok) return res;
            start = stop;
            if (start < n && interrupted && interrupted()) {
                res.status = 2;
                return res;
            }
        }
        return res;
    }

  private:
    // Batches over order[start..stop), B rows each, in one parallel region whose team takes
    // each batch's row blocks (Team); n, res, next and the result as in batches().
    bool team_batches(const index_t* order, std::size_t n, std::size_t start, std::size_t stop, std::size_t B,
                      int nt, Model<T>& m, OptimConfig<T>& opt, const Schedule& sched, const EpochConfig& cfg,
                      EpochResult& res, std::size_t& next) {
#ifdef _OPENMP
        bool ok = true;
        Team team;
        std::exception_ptr error;
#pragma omp parallel num_threads(nt)
        {
#pragma omp single
            team.set_size(omp_get_num_threads());  // fewer threads than asked for are possible
            if (omp_get_thread_num() == 0) {
                team_ = &team;
                try {
                    ok = batches(order, n, start, stop, B, m, opt, sched, cfg, res, next);
                } catch (...) {
                    error = std::current_exception();
                }
                team_ = nullptr;
                team.stop();
            } else {
                team.serve(omp_get_thread_num());
            }
        }
        if (error) std::rethrow_exception(error);
        return ok;
#else
        (void)nt;
        return batches(order, n, start, stop, B, m, opt, sched, cfg, res, next);
#endif
    }

    // The batches over order[begin..stop), B rows each, added into res; n: the rows of the
    // epoch's order, whose next batches' rows are fetched ahead; next: where the first batch not
    // run starts (stop, unless a team's caller waited long for its helpers after kLate batches).
    // Returns false when training diverged (res says where).
    bool batches(const index_t* order, std::size_t n, std::size_t begin, std::size_t stop, std::size_t B,
                 Model<T>& m, OptimConfig<T>& opt, const Schedule& sched, const EpochConfig& cfg, EpochResult& res,
                 std::size_t& next) {
        constexpr std::size_t kLate = 4;
        const std::size_t dk = m.d * m.K;
        next = stop;
        for (std::size_t start = begin, bn; start < stop; start += bn) {
            if (team_ && team_->late() >= kLate) {
                next = start;
                return true;
            }
            bn = start == 0 ? first_batch(n, B) : B;
            Rows<T> rows = data_;
            rows.index = order + start;
            rows.n = bn;
            rows.n_ahead = n - (start + bn);  // the next batches' rows: fetched ahead
            const double divisor = static_cast<double>(bn) * cfg.weight_mean;  // of the batch's loss sum
            LossParts parts;
            const double loss = loss_grad(rows, m, cfg, divisor, &parts);
            // A short batch steps by its share of a batch: its gradient (of its rows' mean loss
            // and the penalty), L1 step and weight decay times bn / B, so that every row of the
            // epoch counts alike. At its full weight, a batch of one row weighed as much as 32
            // (Adam's step does not shrink with the gradient's size) and default fits of 65 rows
            // settled 1-2% above the optimum. (Adam's and RMSprop's very first step, from empty
            // moments, is the rate's whatever the gradient's size: a fit whose first batch is
            // short starts with one such step.) The history's gradient norm is the batch's own.
            const double share = static_cast<double>(bn) / static_cast<double>(B);
            const std::int64_t t = opt.step + 1;
            const double lr = sched.at(t);
            res.last_lr = lr;
            if (!std::isfinite(loss) || loss > cfg.loss_limit) return fail(res, t, loss, lr);
            // the epoch's loss: the weighted mean of the rows' losses plus the batches' penalty,
            // weighted alike (the batch's weighted loss sum, and the penalty times its weight)
            res.loss_sum += (loss - parts.penalty) * divisor + parts.penalty * parts.weight_sum;
            res.weight_sum += parts.weight_sum;
            double norm =
                std::sqrt(sum_squares(grad_w_.data(), dk) + (m.fit_intercept ? sum_squares(grad_b_.data(), m.K) : 0.0));
            if (std::isinf(norm))  // overflowed: clipping must still bound the step (see norm_by_largest)
                norm = norm_by_largest<T>(std::array<std::pair<const T*, std::size_t>, 2>{
                    {{grad_w_.data(), dk}, {grad_b_.data(), m.fit_intercept ? m.K : 0}}});
            res.grad_norm_sum += norm;
            // the step's gradient: times the share, then clipped (one factor, one pass)
            double factor = share;
            if (cfg.clip_norm > 0 && std::isfinite(norm)) factor *= std::min(1.0, cfg.clip_norm / (share * norm + 1e-6));
            if (factor < 1.0) {
                for (auto& g : grad_w_) g = static_cast<T>(g * factor);
                for (auto& g : grad_b_) g = static_cast<T>(g * factor);
            }
            std::memcpy(backup_.data(), m.coef, dk * sizeof(T));
            std::memcpy(backup_.data() + dk, m.intercept, m.K * sizeof(T));
            apply(m, opt, lr, t, cfg.n_threads, share);
            shrink_l1(m, opt, lr, t, cfg.penalty, share);
            opt.step = t;
            ++res.steps;
            // Adam's and RMSprop's average of squared gradients overflows on a gradient of about
            // sqrt(T's largest) (float64: 1e154); the optimizer then takes steps of 0 for good
            // (m / sqrt(inf)) and would train nothing in silence: checked when the step's
            // gradient is that large
            const double large = std::sqrt(static_cast<double>(std::numeric_limits<T>::max()));
            const bool squares_overflowed =
                opt.kind != OptimKind::sgd && !(norm * factor < large) && !finite_squares(m, opt);
            if (!finite_params(m) || squares_overflowed) {
                std::memcpy(m.coef, backup_.data(), dk * sizeof(T));
                std::memcpy(m.intercept, backup_.data() + dk, m.K * sizeof(T));
                fail(res, t, loss, lr);
                res.fail_reason = squares_overflowed ? 2 : 1;
                res.fail_grad_norm = norm;
                return false;
            }
        }
        return true;
    }

  public:
    // Loss (and gradient into the trainer's buffers) of the model on the given rows: their loss
    // sum divided by divisor (0: by their weight sum, the weighted mean) plus the penalty.
    double loss_grad(const Rows<T>& rows, Model<T>& m, const EpochConfig& cfg, double divisor = 0,
                     LossParts* parts = nullptr) {
        grad_w_.resize(m.d * m.K);
        grad_b_.resize(m.K);
        double loss;
        if (cfg.loss == LossKind::softmax) {
            loss = softmax_loss_grad<T>(rows, labels_, m.coef, m.intercept, m.K, cfg.penalty, cfg.n_threads,
                                        grad_w_.data(), grad_b_.data(), buf_, team_, divisor, parts);
        } else {
            double gb = 0;
            loss = cfg.loss == LossKind::logistic
                       ? linear_loss_grad<T, LogisticLoss>(rows, y_, m.coef, static_cast<double>(m.intercept[0]),
                                                           cfg.penalty, cfg.n_threads, grad_w_.data(), gb, buf_, team_,
                                                           divisor, parts)
                       : linear_loss_grad<T, SquaredErrorLoss>(rows, y_, m.coef,
                                                               static_cast<double>(m.intercept[0]), cfg.penalty,
                                                               cfg.n_threads, grad_w_.data(), gb, buf_, team_, divisor,
                                                               parts);
            grad_b_[0] = static_cast<T>(gb);
        }
        if (!m.fit_intercept)
            for (auto& g : grad_b_) g = T(0);
        return loss;
    }

  private:
    static bool fail(EpochResult& res, std::int64_t t, double loss, double lr) {
        res.status = 1;
        res.fail_step = t;
        res.fail_loss = loss;
        res.fail_lr = lr;
        return false;
    }

    bool finite_params(const Model<T>& m) const {
        return all_finite(m.coef, m.d * m.K) && all_finite(m.intercept, m.K);
    }

    // Adam's average of squared gradients (and its running maximum with amsgrad), RMSprop's.
    static bool finite_squares(const Model<T>& m, const OptimConfig<T>& opt) {
        const std::size_t sizes[2] = {m.d * m.K, m.K};
        for (std::size_t s = 0; s < 2; ++s) {
            const T* avg = m.state[s][opt.kind == OptimKind::adam ? 1 : 0];
            const T* top = opt.kind == OptimKind::adam && opt.amsgrad ? m.state[s][2] : nullptr;
            if ((avg && !all_finite(avg, sizes[s])) || (top && !all_finite(top, sizes[s]))) return false;
        }
        return true;
    }

    // One optimizer step. Weight decay, like the penalty, acts on the weights only: the
    // intercept takes the same step without it. The slots are arrays on the stack: no slot list
    // to fill each step (building a std::vector of slots each step measured 0.97-0.99x faster
    // without, on a 1M x 100 epoch on two threads).
    // The optimizer's step; share: of a short batch, which scales the weight decay as its
    // gradient is scaled.
    void apply(Model<T>& m, OptimConfig<T>& opt, double lr, std::int64_t t, int n_threads, double share) {
        const double wd = opt.weight_decay * share;
        const std::array<Slot<T>, 1> weights{
            Slot<T>{m.coef, grad_w_.data(), m.state[0][0], m.state[0][1], m.state[0][2], m.d * m.K}};
        const std::array<Slot<T>, 1> intercept{
            Slot<T>{m.intercept, grad_b_.data(), m.state[1][0], m.state[1][1], m.state[1][2], m.K}};
        switch (opt.kind) {
            case OptimKind::sgd: {
                auto h = SgdHyper<T>::make(lr, opt.momentum, opt.dampening, wd, opt.nesterov,
                                           opt.momentum != 0 && opt.fresh);
                sgd_step<T>(weights, h, n_threads);
                h.weight_decay = T(0);
                if (m.fit_intercept) sgd_step<T>(intercept, h, 1);
                opt.fresh = false;
                break;
            }
            case OptimKind::adam: {
                auto h = AdamHyper<T>::make(lr, opt.beta1, opt.beta2, opt.eps, wd, t, opt.decoupled, opt.amsgrad);
                adam_step<T>(weights, h, n_threads);
                h.weight_decay = T(0);
                h.decay = T(1);
                if (m.fit_intercept) adam_step<T>(intercept, h, 1);
                break;
            }
            case OptimKind::rmsprop: {
                auto h = RmspropHyper<T>::make(lr, opt.alpha, opt.eps, wd, opt.momentum, opt.centered);
                rmsprop_step<T>(weights, h, n_threads);
                h.weight_decay = T(0);
                if (m.fit_intercept) rmsprop_step<T>(intercept, h, 1);
                break;
            }
        }
    }

    // The proximal step of the L1 term (alpha l1_ratio |w|_1) after the optimizer's step, when
    // the gradient left it out: each weight moves toward 0 by the L1 strength times its own step
    // size and stops at 0, where a subgradient step would cross 0 back and forth and leave no
    // weight at exactly 0. The step size is the one the optimizer gives a steady gradient: lr,
    // over (1 - momentum) with a momentum buffer (which sums a steady gradient to g / (1 - mu)),
    // over Adam's denominator. A weight at 0 then stays there while its smoothed gradient (Adam:
    // the bias-corrected mean) is within the L1 strength, as at the optimum. The intercept has
    // no penalty. RMSprop keeps the subgradient: with the proximal step over its denominator,
    // the L1 fits of breast_cancer took twice as many epochs to the same distance from the
    // optimum (its denominator, no longer raised by the subgradient, makes larger steps).
    // The L1 term's proximal step after the optimizer's, for a batch of share (bn / B) of a batch.
    static void shrink_l1(Model<T>& m, const OptimConfig<T>& opt, double lr, std::int64_t t, const Penalty& pen,
                          double share) {
        const double a1 = pen.alpha * pen.l1_ratio * share;
        if (!(a1 > 0) || pen.l1_gradient) return;
        const std::size_t dk = m.d * m.K;
        const double mu = opt.momentum;
        switch (opt.kind) {
            case OptimKind::sgd: {
                // the buffer's steady sum of g (none for momentum >= 1, which the estimators refuse)
                const double sum = mu < 1.0 ? (1.0 - opt.dampening) / (1.0 - mu) : 1.0;
                const double steady = mu == 0 ? 1.0 : opt.nesterov ? 1.0 + mu * sum : sum;
                soft_threshold<T>(m.coef, nullptr, dk, static_cast<T>(lr * a1 * steady), T(1), T(0));
                break;
            }
            case OptimKind::adam: {
                const T bc2 = static_cast<T>(std::sqrt(1.0 - std::pow(opt.beta2, static_cast<double>(t))));
                soft_threshold<T>(m.coef, opt.amsgrad ? m.state[0][2] : m.state[0][1], dk, static_cast<T>(lr * a1),
                                  bc2, static_cast<T>(opt.eps));
                break;
            }
            case OptimKind::rmsprop:  // l1_gradient: not reached
                break;
        }
    }

    Rows<T> data_;
    const T* y_;
    const index_t* labels_;
    std::vector<T> grad_w_, grad_b_, backup_;
    std::vector<double> buf_;
    std::vector<index_t> visit_, runs_;  // shuffled runs: the epoch's order, the run ids
    Team* team_ = nullptr;               // during an epoch's parallel region
};

}  // namespace descend
