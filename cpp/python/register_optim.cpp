// Bindings of the optimizer updates: one call updates every parameter array in place.
// The dtype is that of params[0]; every other array must match it exactly.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>

#include "arrays.hpp"
#include "descend/optim.hpp"

namespace descend::python {

namespace {

// Calls fn.template operator()<T>() for the dtype of the first array in `arrays`.
template <class Fn>
auto by_dtype(const py::list& arrays, const char* name, Fn&& fn) {
    if (arrays.size() == 0) throw py::value_error(std::string(name) + " is empty");
    if (py::array_t<double>::check_(arrays[0])) return fn(double{});
    if (py::array_t<float>::check_(arrays[0])) return fn(float{});
    throw py::type_error(std::string(name) + "[0] must be a numpy array of dtype float64 or float32");
}

void sgd(const py::list& params, const py::list& grads, const py::object& momentum_buffers, double lr,
         double momentum, double dampening, double weight_decay, bool nesterov, bool first_step, int n_threads) {
    by_dtype(params, "params", [&](auto tag) {
        using T = decltype(tag);
        auto slots = slots_from<T>(params, grads,
                                   {{"momentum_buffers", momentum != 0.0 ? momentum_buffers : py::none()}});
        if (momentum != 0.0)
            for (auto& s : slots)
                if (!s.s0) throw py::value_error("momentum_buffers are required when momentum != 0");
        const auto h = SgdHyper<T>::make(lr, momentum, dampening, weight_decay, nesterov, first_step);
        ReleasedGil release;
        sgd_step<T>(slots, h, n_threads);
    });
}

void adam(const py::list& params, const py::list& grads, const py::list& exp_avgs, const py::list& exp_avg_sqs,
          const py::object& max_exp_avg_sqs, double lr, double beta1, double beta2, double eps, double weight_decay,
          long long step, bool decoupled, bool amsgrad, int n_threads) {
    if (step < 1) throw py::value_error("step must be >= 1");
    by_dtype(params, "params", [&](auto tag) {
        using T = decltype(tag);
        auto slots = slots_from<T>(params, grads,
                                   {{"exp_avgs", exp_avgs},
                                    {"exp_avg_sqs", exp_avg_sqs},
                                    {"max_exp_avg_sqs", amsgrad ? max_exp_avg_sqs : py::none()}});
        for (auto& s : slots)
            if (!s.s0 || !s.s1 || (amsgrad && !s.s2))
                throw py::value_error("exp_avgs, exp_avg_sqs (and max_exp_avg_sqs with amsgrad) are required");
        const auto h = AdamHyper<T>::make(lr, beta1, beta2, eps, weight_decay, step, decoupled, amsgrad);
        ReleasedGil release;
        adam_step<T>(slots, h, n_threads);
    });
}

void rmsprop(const py::list& params, const py::list& grads, const py::list& square_avgs,
             const py::object& grad_avgs, const py::object& momentum_buffers, double lr, double alpha, double eps,
             double weight_decay, double momentum, bool centered, int n_threads) {
    by_dtype(params, "params", [&](auto tag) {
        using T = decltype(tag);
        auto slots = slots_from<T>(params, grads,
                                   {{"square_avgs", square_avgs},
                                    {"grad_avgs", centered ? grad_avgs : py::none()},
                                    {"momentum_buffers", momentum != 0.0 ? momentum_buffers : py::none()}});
        for (auto& s : slots)
            if (!s.s0 || (centered && !s.s1) || (momentum != 0.0 && !s.s2))
                throw py::value_error(
                    "square_avgs (and grad_avgs when centered, momentum_buffers with momentum) are required");
        const auto h = RmspropHyper<T>::make(lr, alpha, eps, weight_decay, momentum, centered);
        ReleasedGil release;
        rmsprop_step<T>(slots, h, n_threads);
    });
}

// Global L2 norm of all arrays; with max_norm > 0, scales them in place to at most max_norm
// (coefficient max_norm / (norm + 1e-6), as torch.nn.utils.clip_grad_norm_); a non-finite norm
// leaves them as they are. Returns the norm.
double clip_norm(const py::list& arrays, double max_norm, int n_threads) {
    return by_dtype(arrays, "grads", [&](auto tag) {
        using T = decltype(tag);
        std::vector<T*> ptrs;
        std::vector<const T*> cptrs;
        std::vector<std::size_t> sizes;
        for (std::size_t i = 0; i < arrays.size(); ++i) {
            auto a = checked<T>(arrays[i], "grads[" + std::to_string(i) + "]", max_norm > 0);
            ptrs.push_back(max_norm > 0 ? a.mutable_data() : nullptr);
            cptrs.push_back(a.data());
            sizes.push_back(static_cast<std::size_t>(a.size()));
        }
        ReleasedGil release;
        const double norm = global_norm<T>(cptrs, sizes, n_threads);
        const double coef = max_norm / (norm + 1e-6);
        if (max_norm > 0 && std::isfinite(norm) && coef < 1.0) {
            std::vector<Slot<T>> slots(ptrs.size());
            for (std::size_t i = 0; i < ptrs.size(); ++i) slots[i].param = ptrs[i], slots[i].size = sizes[i];
            for_each_chunk(slots, n_threads, [&](const Slot<T>& s, std::size_t off, std::size_t cnt) {
                scale_inplace<T>(s.param + off, cnt, T(coef));
            });
        }
        return norm;
    });
}

}  // namespace

void register_optim(py::module_& m) {
    m.def("sgd_step", &sgd, py::arg("params"), py::arg("grads"), py::arg("momentum_buffers"), py::arg("lr"),
          py::arg("momentum"), py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"),
          py::arg("first_step"), py::arg("n_threads"));
    m.def("adam_step", &adam, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"), py::arg("exp_avg_sqs"),
          py::arg("max_exp_avg_sqs"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
          py::arg("weight_decay"), py::arg("step"), py::arg("decoupled"), py::arg("amsgrad"),
          py::arg("n_threads"));
    m.def("rmsprop_step", &rmsprop, py::arg("params"), py::arg("grads"), py::arg("square_avgs"),
          py::arg("grad_avgs"), py::arg("momentum_buffers"), py::arg("lr"), py::arg("alpha"), py::arg("eps"),
          py::arg("weight_decay"), py::arg("momentum"), py::arg("centered"), py::arg("n_threads"));
    m.def("clip_grad_norm", &clip_norm, py::arg("grads"), py::arg("max_norm"), py::arg("n_threads"));
}

}  // namespace descend::python
