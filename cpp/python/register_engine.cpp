// Binding of the training engine: one call runs one epoch (or several small ones) with the GIL
// released; Ctrl-C is checked between segments of batches (with the GIL taken briefly) and
// raised as KeyboardInterrupt.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <memory>
#include <unordered_map>
#include <vector>

#include "arrays.hpp"
#include "descend/engine.hpp"

namespace descend::python {

namespace {

// An int64 C-contiguous array of `size` labels, checked to lie in [0, K) (at the rows used).
const index_t* checked_labels(const py::object& obj, py::ssize_t size, std::size_t K, const index_t* rows,
                              std::size_t n_rows_used) {
    if (!py::array_t<index_t>::check_(obj)) throw py::type_error("labels must be an int64 numpy array");
    auto arr = py::reinterpret_borrow<py::array_t<index_t>>(obj);
    if (!(arr.flags() & py::array::c_style)) throw py::value_error("labels must be C-contiguous");
    if (arr.size() != size) throw py::value_error("labels must have one class id per row of X");
    const index_t* labels = arr.data();
    for (std::size_t i = 0; i < n_rows_used; ++i) {
        const index_t lab = labels[rows ? rows[i] : static_cast<index_t>(i)];
        if (lab < 0 || static_cast<std::size_t>(lab) >= K) throw py::value_error("labels must lie in [0, K)");
    }
    return labels;
}

// A string literal as an interned Python str, made once and kept for the process: the settings
// are read, and the results written, with about 45 keys a call, one epoch a call, and making and
// hashing each key anew cost more than the rest of a small epoch's call (the GIL is held).
py::handle key(const char* literal) {
    static std::unordered_map<const char*, PyObject*> made;
    auto it = made.find(literal);
    if (it != made.end()) return it->second;
    PyObject* k = PyUnicode_InternFromString(literal);
    if (!k) throw py::error_already_set();
    made.emplace(literal, k);
    return k;
}

// The setting called name in d (a borrowed reference), or null when d has none.
PyObject* find(const py::dict& d, const char* name) {
    PyObject* value = PyDict_GetItemWithError(d.ptr(), key(name).ptr());
    if (!value && PyErr_Occurred()) throw py::error_already_set();
    return value;
}

template <class V>
V get(const py::dict& d, const char* name) {
    PyObject* value = find(d, name);
    if (!value) throw py::key_error(std::string("missing setting '") + name + "'");
    return py::reinterpret_borrow<py::object>(value).cast<V>();
}

template <class T>
py::dict epoch_impl(const py::array& X_obj, const py::object& y_obj, const py::object& labels_obj,
                    const py::object& sw_obj, const py::array& order_obj, const py::array& rng_obj,
                    const py::object& coef_obj, const py::object& intercept_obj, const py::list& state,
                    const py::dict& opt_d, const py::dict& sched_d, const py::dict& cfg_d) {
    auto X = checked<T>(X_obj, "X", false);
    if (X.ndim() != 2) throw py::value_error("X must be 2-dimensional");
    const py::ssize_t n_rows = X.shape(0), d = X.shape(1);
    Rows<T> data;
    data.X = X.data();
    data.d = static_cast<std::size_t>(d);
    data.fetch = worth_fetching<T>(static_cast<std::size_t>(n_rows), data.d);
    if (!sw_obj.is_none()) data.sample_weight = checked<T>(sw_obj, "sample_weight", false, n_rows).data();
    const T* y = nullptr;
    const index_t* labels = nullptr;
    EpochConfig cfg;
    cfg.loss = static_cast<LossKind>(get<int>(cfg_d, "loss"));
    if (cfg.loss != LossKind::softmax) y = checked<T>(y_obj, "y", false, n_rows).data();
    if (!py::array_t<index_t>::check_(order_obj) || !(order_obj.flags() & py::array::c_style) ||
        !order_obj.writeable())
        throw py::type_error("order must be a writable C-contiguous int64 array");
    auto order = py::reinterpret_borrow<py::array_t<index_t>>(order_obj);
    if (!py::array_t<std::uint64_t>::check_(rng_obj) || rng_obj.size() != 1 || !rng_obj.writeable())
        throw py::type_error("rng_state must be a writable uint64 array of one element");
    auto rng_arr = py::reinterpret_borrow<py::array_t<std::uint64_t>>(rng_obj);

    Model<T> m;
    auto coef = checked<T>(coef_obj, "coef", true);
    auto intercept = checked<T>(intercept_obj, "intercept", true);
    m.K = static_cast<std::size_t>(intercept.size());
    m.d = static_cast<std::size_t>(d);
    if (static_cast<std::size_t>(coef.size()) != m.d * m.K) throw py::value_error("coef must have d x K values");
    m.coef = coef.mutable_data();
    m.intercept = intercept.mutable_data();
    m.fit_intercept = get<bool>(cfg_d, "fit_intercept");
    if (state.size() != 2) throw py::value_error("state must hold two lists (coef, intercept)");
    for (std::size_t s = 0; s < 2; ++s) {
        py::list lst = state[s].cast<py::list>();
        for (std::size_t k = 0; k < lst.size() && k < 3; ++k)
            if (!lst[k].is_none())
                m.state[s][k] = checked<T>(lst[k], "state", true, s == 0 ? coef.size() : intercept.size())
                                    .mutable_data();
    }
    // every index must name a row of X: checked once here, so the loop needs no bounds checks
    const index_t* ord = order.data();
    const std::size_t n = static_cast<std::size_t>(order.size());
    for (std::size_t i = 0; i < n; ++i)
        if (ord[i] < 0 || ord[i] >= n_rows) throw py::value_error("order holds a row index outside X");
    if (cfg.loss == LossKind::softmax) labels = checked_labels(labels_obj, n_rows, m.K, ord, n);

    OptimConfig<T> opt;
    opt.kind = static_cast<OptimKind>(get<int>(opt_d, "kind"));
    opt.momentum = get<double>(opt_d, "momentum");
    opt.dampening = get<double>(opt_d, "dampening");
    opt.nesterov = get<bool>(opt_d, "nesterov");
    opt.weight_decay = get<double>(opt_d, "weight_decay");
    opt.beta1 = get<double>(opt_d, "beta1");
    opt.beta2 = get<double>(opt_d, "beta2");
    opt.eps = get<double>(opt_d, "eps");
    opt.amsgrad = get<bool>(opt_d, "amsgrad");
    opt.decoupled = get<bool>(opt_d, "decoupled");
    opt.alpha = get<double>(opt_d, "alpha");
    opt.centered = get<bool>(opt_d, "centered");
    opt.step = get<std::int64_t>(opt_d, "step");
    opt.fresh = get<bool>(opt_d, "fresh");
    const bool need0 = opt.kind != OptimKind::sgd || opt.momentum != 0;
    const bool need1 = opt.kind == OptimKind::adam || (opt.kind == OptimKind::rmsprop && opt.centered);
    const bool need2 = (opt.kind == OptimKind::adam && opt.amsgrad) ||
                       (opt.kind == OptimKind::rmsprop && opt.momentum != 0);
    for (std::size_t s = 0; s < 2; ++s)
        if ((need0 && !m.state[s][0]) || (need1 && !m.state[s][1]) || (need2 && !m.state[s][2]))
            throw py::value_error("optimizer state buffers are missing");

    Schedule sched;
    sched.kind = static_cast<ScheduleKind>(get<int>(sched_d, "kind"));
    sched.lr = get<double>(sched_d, "lr");
    sched.scale = get<double>(sched_d, "scale");
    sched.gamma = get<double>(sched_d, "gamma");
    sched.step_size = get<double>(sched_d, "step_size");
    sched.power_t = get<double>(sched_d, "power_t");
    sched.min_lr = get<double>(sched_d, "min_lr");
    sched.steps_per_epoch = std::max<std::int64_t>(1, get<std::int64_t>(sched_d, "steps_per_epoch"));
    sched.total_steps = std::max<std::int64_t>(1, get<std::int64_t>(sched_d, "total_steps"));
    sched.warmup_steps = get<std::int64_t>(sched_d, "warmup_steps");
    // Optional: the schedule's epochs before this call; each epoch then starts at its epoch's
    // place in the schedule, however many steps the epochs before it took.
    const bool counted = find(sched_d, "epoch") != nullptr;
    const std::int64_t first_epoch = counted ? get<std::int64_t>(sched_d, "epoch") : 0;

    cfg.penalty = Penalty{get<double>(cfg_d, "alpha"), get<double>(cfg_d, "l1_ratio")};
    cfg.batch_size = get<std::size_t>(cfg_d, "batch_size");
    cfg.shuffle = get<bool>(cfg_d, "shuffle");
    if (find(cfg_d, "shuffle_run")) {  // optional
        const auto run = get<std::int64_t>(cfg_d, "shuffle_run");
        if (run < 1) throw py::value_error("shuffle_run must be at least 1");
        cfg.shuffle_run = static_cast<std::size_t>(run);
    }
    cfg.clip_norm = get<double>(cfg_d, "clip_norm");
    cfg.loss_limit = get<double>(cfg_d, "loss_limit");
    // the mean row weight the batches' loss sums are divided by (with their rows): given, or the
    // mean sample weight of the epoch's rows (1 without sample weights)
    if (find(cfg_d, "weight_mean")) {
        cfg.weight_mean = get<double>(cfg_d, "weight_mean");
    } else if (data.sample_weight) {
        double sum = 0;
        for (std::size_t i = 0; i < n; ++i) sum += static_cast<double>(data.sample_weight[ord[i]]);
        cfg.weight_mean = n > 0 ? sum / static_cast<double>(n) : 1.0;
    }
    if (!(cfg.weight_mean > 0) || !std::isfinite(cfg.weight_mean))
        throw py::value_error("weight_mean (the mean sample weight of the epoch's rows) must be positive and finite");
    cfg.n_threads = get<int>(cfg_d, "n_threads");
    if (find(cfg_d, "fetch")) data.fetch = get<bool>(cfg_d, "fetch");  // optional: fetch rows ahead or not

    SplitMix64 rng{*rng_arr.mutable_data()};
    index_t* ord_mut = order.mutable_data();
    // Optional: up to that many epochs in one call, for the epochs too short for the call and the
    // Python loop around it not to weigh (a 569-row epoch takes about 15 us, the call and the
    // loop about 10 more). Only epochs an interrupt cannot stop midway (one segment of work, see
    // Trainer::epoch) run more than one a call: a signal is then checked between epochs, and the
    // epochs done before it are returned, with the signal's exception to raise.
    std::int64_t n_epochs = 1;
    if (find(cfg_d, "epochs")) {
        n_epochs = get<std::int64_t>(cfg_d, "epochs");
        if (n_epochs < 1) throw py::value_error("epochs must be at least 1");
        if (!Trainer<T>::one_segment(n, m, cfg)) n_epochs = 1;
    }
    std::unique_ptr<py::error_already_set> pending;  // raised by a signal handler: re-raised after
    std::vector<EpochResult> done;
    std::vector<double> seconds;
    bool between = false;  // the signal came between two epochs
    // Several epochs a call: one that diverges goes back to its start (see Checkpoint).
    const bool several = find(cfg_d, "epochs") != nullptr;
    {
        ReleasedGil release;
        Trainer<T> trainer(data, y, labels);
        Checkpoint<T> checkpoint;
        for (std::int64_t e = 0; e < n_epochs; ++e) {
            if (e > 0 && interrupted_or_exiting(pending)) {
                between = true;
                break;
            }
            if (counted) sched.offset = sched.epoch_offset(first_epoch + e, opt.step);
            if (several) checkpoint.save(m, opt, rng);
            const auto start = std::chrono::steady_clock::now();
            done.push_back(trainer.epoch(ord_mut, n, rng, m, opt, sched, cfg,
                                         [&pending]() { return interrupted_or_exiting(pending); }));
            seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
            if (done.back().status == 1 && several) checkpoint.restore(m, opt, rng);
            if (done.back().status != 0) break;
        }
    }
    *rng_arr.mutable_data() = rng.state;
    if (pending && !between) throw std::move(*pending);  // inside an epoch: the caller restores the model
    const EpochResult& res = done.back();
    py::dict out;
    if (find(cfg_d, "epochs")) {
        py::list per_epoch;
        for (std::size_t e = 0; e < done.size(); ++e)
            per_epoch.append(py::make_tuple(done[e].loss_sum, done[e].weight_sum, done[e].grad_norm_sum, done[e].steps,
                                            done[e].last_lr, seconds[e]));
        out[key("epochs")] = per_epoch;
        out[key("interrupt")] = pending ? py::object(pending->value()) : py::object(py::none());
    }
    out[key("loss_sum")] = res.loss_sum;
    out[key("weight_sum")] = res.weight_sum;
    out[key("grad_norm_sum")] = res.grad_norm_sum;
    out[key("steps")] = res.steps;
    out[key("status")] = res.status;
    out[key("fail_step")] = res.fail_step;
    out[key("fail_loss")] = res.fail_loss;
    out[key("fail_lr")] = res.fail_lr;
    out[key("fail_reason")] = res.fail_reason;
    out[key("fail_grad_norm")] = res.fail_grad_norm;
    out[key("last_lr")] = res.last_lr;
    out[key("step")] = opt.step;
    out[key("fresh")] = opt.fresh;
    return out;
}

// Loss of a model on a subset of rows (validation), without its gradient being returned.
template <class T>
double subset_loss_impl(const py::array& X_obj, const py::object& y_obj, const py::object& labels_obj,
                        const py::object& sw_obj, const py::array& index_obj, const py::object& coef_obj,
                        const py::object& intercept_obj, int loss_kind, double alpha, double l1_ratio,
                        int n_threads) {
    auto X = checked<T>(X_obj, "X", false);
    if (X.ndim() != 2) throw py::value_error("X must be 2-dimensional");
    if (loss_kind < 0 || loss_kind > 2) throw py::value_error("loss must be 0, 1 or 2");
    Rows<T> rows;
    rows.X = X.data();
    rows.d = static_cast<std::size_t>(X.shape(1));
    rows.fetch = worth_fetching<T>(static_cast<std::size_t>(X.shape(0)), rows.d);
    if (!sw_obj.is_none()) rows.sample_weight = checked<T>(sw_obj, "sample_weight", false, X.shape(0)).data();
    if (!py::array_t<index_t>::check_(index_obj)) throw py::type_error("index must be an int64 array");
    auto index = py::reinterpret_borrow<py::array_t<index_t>>(index_obj);
    rows.index = index.data();
    rows.n = static_cast<std::size_t>(index.size());
    for (std::size_t i = 0; i < rows.n; ++i)
        if (rows.index[i] < 0 || rows.index[i] >= X.shape(0)) throw py::value_error("index outside X");
    auto coef = checked<T>(coef_obj, "coef", false);
    auto intercept = checked<T>(intercept_obj, "intercept", false);
    const std::size_t K = static_cast<std::size_t>(intercept.size());
    if (K == 0 || static_cast<std::size_t>(coef.size()) != rows.d * K)
        throw py::value_error("coef must have n_features x K values, intercept K");
    const T* y = loss_kind == 2 ? nullptr : checked<T>(y_obj, "y", false, X.shape(0)).data();
    const index_t* labels = loss_kind == 2 ? checked_labels(labels_obj, X.shape(0), K, rows.index, rows.n) : nullptr;
    Model<T> m;
    m.coef = const_cast<T*>(coef.data());  // read only: loss_grad does not write the model
    m.intercept = const_cast<T*>(intercept.data());
    m.d = rows.d;
    m.K = K;
    EpochConfig cfg;
    cfg.loss = static_cast<LossKind>(loss_kind);
    cfg.penalty = Penalty{alpha, l1_ratio};
    cfg.n_threads = n_threads;
    ReleasedGil release;
    Trainer<T> trainer(rows, y, labels);
    return trainer.loss_grad(rows, m, cfg);
}

template <class Fn>
auto by_X(const py::array& X, Fn&& fn) {
    if (py::array_t<double>::check_(X)) return fn(double{});
    if (py::array_t<float>::check_(X)) return fn(float{});
    throw py::type_error("X must be a float64 or float32 array");
}

}  // namespace

void register_engine(py::module_& m) {
    m.def(
        "train_epoch",
        [](const py::array& X, const py::object& y, const py::object& labels, const py::object& sw,
           const py::array& order, const py::array& rng, const py::object& coef, const py::object& intercept,
           const py::list& state, const py::dict& opt, const py::dict& sched, const py::dict& cfg) {
            return by_X(X, [&](auto tag) {
                return epoch_impl<decltype(tag)>(X, y, labels, sw, order, rng, coef, intercept, state, opt, sched,
                                                 cfg);
            });
        },
        py::arg("X"), py::arg("y"), py::arg("labels"), py::arg("sample_weight"), py::arg("order"),
        py::arg("rng_state"), py::arg("coef"), py::arg("intercept"), py::arg("state"), py::arg("optimizer"),
        py::arg("schedule"), py::arg("config"));
    m.def(
        "subset_loss",
        [](const py::array& X, const py::object& y, const py::object& labels, const py::object& sw,
           const py::array& index, const py::object& coef, const py::object& intercept, int loss, double alpha,
           double l1_ratio, int n_threads) {
            return by_X(X, [&](auto tag) {
                return subset_loss_impl<decltype(tag)>(X, y, labels, sw, index, coef, intercept, loss, alpha,
                                                       l1_ratio, n_threads);
            });
        },
        py::arg("X"), py::arg("y"), py::arg("labels"), py::arg("sample_weight"), py::arg("index"), py::arg("coef"),
        py::arg("intercept"), py::arg("loss"), py::arg("alpha"), py::arg("l1_ratio"), py::arg("n_threads"));
}

}  // namespace descend::python
