// The extension module descend._core: declares the pieces and their registration, nothing else.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "descend/bandwidth.hpp"
#include "descend/common.hpp"
#include "descend/inputs.hpp"
#include "gil.hpp"

namespace py = pybind11;

namespace descend::python {
void register_losses(py::module_& m);
void register_optim(py::module_& m);
void register_engine(py::module_& m);
}  // namespace descend::python

namespace {

std::string compiler() {
#if defined(__clang__)
    return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    return std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
    return "msvc " + std::to_string(_MSC_VER);
#else
    return "unknown";
#endif
}

py::list baseline_isa() {
    py::list isa;
#ifdef __SSE2__
    isa.append("SSE2");
#endif
#ifdef __AVX__
    isa.append("AVX");
#endif
#ifdef __AVX2__
    isa.append("AVX2");
#endif
#ifdef __FMA__
    isa.append("FMA");
#endif
#ifdef __AVX512F__
    isa.append("AVX512F");
#endif
#ifdef __ARM_NEON
    isa.append("NEON");
#endif
    return isa;
}

// The instruction set the dispatched kernels use on this CPU.
std::string runtime_target() {
#if defined(__GNUC__) && defined(__x86_64__)
    __builtin_cpu_init();
    if (std::string(DESCEND_CLONE_TARGETS).empty()) return "as compiled";
    if (__builtin_cpu_supports("x86-64-v4")) return "x86-64-v4 (AVX-512)";
    if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3 (AVX2+FMA)";
    return "x86-64 baseline";
#else
    return "as compiled";
#endif
}

py::dict build_info() {
    py::dict info;
    info["version"] = DESCEND_VERSION;
    info["compiler"] = compiler();
    info["build_type"] = DESCEND_BUILD_TYPE;
#ifdef _OPENMP
    info["openmp"] = true;
    info["openmp_version"] = DESCEND_OPENMP_VERSION;
    info["openmp_date"] = _OPENMP;
#else
    info["openmp"] = false;
    info["openmp_version"] = py::none();
    info["openmp_date"] = py::none();
#endif
    info["baseline_isa"] = baseline_isa();
    info["dispatch_targets"] = std::string(DESCEND_CLONE_TARGETS);
    info["runtime_target"] = runtime_target();
#ifdef DESCEND_NATIVE
    info["native"] = true;
#else
    info["native"] = false;
#endif
    return info;
}

template <class T>
void register_bandwidth(py::module_& m) {
    using arr = py::array_t<T, py::array::c_style>;
    m.def(
        "bandwidth_read",
        [](const arr& x, int n_threads) {
            descend::python::ReleasedGil release;
            return descend::parallel_sum(x.data(), static_cast<std::size_t>(x.size()), n_threads);
        },
        py::arg("x").noconvert(), py::arg("n_threads"), "Sum of x, read once in parallel (bandwidth probe).");
    m.def(
        "bandwidth_update",
        [](arr& x, double a, double b, int n_threads) {
            T* p = x.mutable_data();
            descend::python::ReleasedGil release;
            descend::parallel_scale_shift(p, static_cast<std::size_t>(x.size()), T(a), T(b), n_threads);
        },
        py::arg("x").noconvert(), py::arg("a"), py::arg("b"), py::arg("n_threads"),
        "x = a x + b in place, in parallel (bandwidth probe).");
    m.def(
        "bandwidth_gather",
        [](const arr& X, const py::array_t<descend::index_t, py::array::c_style>& order, int n_threads) {
            if (X.ndim() != 2) throw py::value_error("X: expected a 2-D array");
            if (order.ndim() != 1) throw py::value_error("order: expected a 1-D array of row indices");
            const auto n_rows = static_cast<descend::index_t>(X.shape(0));
            const descend::index_t* o = order.data();
            for (py::ssize_t i = 0; i < order.size(); ++i)
                if (o[i] < 0 || o[i] >= n_rows) throw py::index_error("order: row index out of range");
            const std::size_t d = static_cast<std::size_t>(X.shape(1)), n = static_cast<std::size_t>(order.size());
            descend::python::ReleasedGil release;
            return descend::parallel_gather_sum(X.data(), d, o, n, n_threads);
        },
        py::arg("X").noconvert(), py::arg("order").noconvert(), py::arg("n_threads"),
        "Sum of X's rows in the given order, read in parallel (bandwidth probe of a shuffled read).");
    m.def(
        "first_nonfinite_row",
        [](const arr& X, int n_threads) {
            if (X.ndim() != 2) throw py::value_error("X: expected a 2-D array");
            const std::size_t n = static_cast<std::size_t>(X.shape(0)), d = static_cast<std::size_t>(X.shape(1));
            descend::python::ReleasedGil release;
            return descend::first_nonfinite_row(X.data(), n, d, n_threads);
        },
        py::arg("X").noconvert(), py::arg("n_threads"),
        "Index of the first row of X holding a NaN or an infinity, or -1 (read in parallel, no temporaries).");
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "descend's compiled core (private: use the descend package)";
    m.def("build_info", &build_info, "How this extension was built.");
    m.def("max_threads", &descend::default_threads, "OpenMP's default thread count on the calling thread.");
    register_bandwidth<double>(m);
    register_bandwidth<float>(m);
    descend::python::register_losses(m);
    descend::python::register_optim(m);
    descend::python::register_engine(m);
}
