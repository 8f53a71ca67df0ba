// The extension module descend._core: declares the pieces and their registration, nothing else.
#include <pybind11/pybind11.h>

#include <string>

#include "descend/common.hpp"

namespace py = pybind11;

namespace descend::python {
void register_losses(py::module_& m);
void register_optim(py::module_& m);
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

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "descend's compiled core (private: use the descend package)";
    m.def("build_info", &build_info, "How this extension was built.");
    m.def("max_threads", &descend::default_threads, "OpenMP's default thread count on the calling thread.");
    descend::python::register_losses(m);
    descend::python::register_optim(m);
}
