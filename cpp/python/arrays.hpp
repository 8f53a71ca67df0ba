// Argument checking for the bindings: arrays are used in place, never converted here (the Python
// layer converts once, visibly), so a wrong dtype or layout is an error naming the argument.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "descend/optim.hpp"
#include "gil.hpp"

namespace descend::python {

namespace py = pybind11;

template <class T>
const char* dtype_name() {
    return sizeof(T) == 4 ? "float32" : "float64";
}

// The array behind obj, which must be a C-contiguous ndarray of T (writable when asked).
template <class T>
py::array_t<T> checked(py::handle obj, const std::string& name, bool writable, py::ssize_t size = -1) {
    if (!py::array_t<T>::check_(obj))  // exact dtype match, no conversion
        throw py::type_error(name + " must be a numpy array of dtype " + dtype_name<T>());
    auto arr = py::reinterpret_borrow<py::array_t<T>>(obj);
    if (!(arr.flags() & py::array::c_style))
        throw py::value_error(name + " must be C-contiguous");
    if (writable && !arr.writeable())
        throw py::value_error(name + " must be writable");
    if (size >= 0 && arr.size() != size)
        throw py::value_error(name + " has " + std::to_string(arr.size()) + " elements, expected " +
                              std::to_string(size));
    return arr;
}

// Parameters, gradients and state buffers given as lists of arrays -> slots. Every check is
// made before anything is written, so a bad call leaves every array untouched.
template <class T>
std::vector<Slot<T>> slots_from(const py::list& params, const py::list& grads,
                                std::vector<std::pair<const char*, py::object>> states) {
    const std::size_t n = params.size();
    if (grads.size() != n)
        throw py::value_error("grads has " + std::to_string(grads.size()) + " arrays, expected " +
                              std::to_string(n) + " (one per parameter)");
    std::vector<Slot<T>> slots(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::string idx = "[" + std::to_string(i) + "]";
        auto p = checked<T>(params[i], "params" + idx, true);
        auto g = checked<T>(grads[i], "grads" + idx, false, p.size());
        slots[i].param = p.mutable_data();
        slots[i].grad = g.data();
        slots[i].size = static_cast<std::size_t>(p.size());
        T** dst[3] = {&slots[i].s0, &slots[i].s1, &slots[i].s2};
        for (std::size_t k = 0; k < states.size() && k < 3; ++k) {
            if (states[k].second.is_none()) continue;
            py::list lst = states[k].second.cast<py::list>();
            if (lst.size() != n)
                throw py::value_error(std::string(states[k].first) + " has " + std::to_string(lst.size()) +
                                      " arrays, expected " + std::to_string(n));
            auto s = checked<T>(lst[i], std::string(states[k].first) + idx, true, p.size());
            *dst[k] = s.mutable_data();
        }
    }
    return slots;
}

}  // namespace descend::python
