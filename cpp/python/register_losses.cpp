// Bindings of the losses: float64 and float32, arrays used in place, GIL released while computing.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "arrays.hpp"
#include "descend/losses.hpp"

namespace descend::python {

namespace {

template <class T>
using carray = py::array_t<T, py::array::c_style>;

template <class T>
Rows<T> rows_of(const carray<T>& X, const py::object& sample_weight) {
    if (X.ndim() != 2) throw py::value_error("X must be 2-dimensional");
    Rows<T> rows;
    rows.X = X.data();
    rows.n = static_cast<std::size_t>(X.shape(0));
    rows.d = static_cast<std::size_t>(X.shape(1));
    if (rows.n == 0) throw py::value_error("X has no rows");
    if (!sample_weight.is_none())
        rows.sample_weight = checked<T>(sample_weight, "sample_weight", false, X.shape(0)).data();
    return rows;
}

template <class T, class Loss>
py::tuple linear_loss(const carray<T>& X, const carray<T>& y, const carray<T>& w, double b,
                      const py::object& sample_weight, double alpha, double l1_ratio, int n_threads) {
    Rows<T> rows = rows_of(X, sample_weight);
    if (y.size() != X.shape(0)) throw py::value_error("y must have one value per row of X");
    if (w.size() != X.shape(1)) throw py::value_error("w must have one value per column of X");
    carray<T> grad_w(static_cast<py::ssize_t>(rows.d));
    T* gw = grad_w.mutable_data();
    double gb = 0.0, loss = 0.0;
    {
        ReleasedGil release;
        std::vector<double> buf;
        loss = linear_loss_grad<T, Loss>(rows, y.data(), w.data(), b, Penalty{alpha, l1_ratio}, n_threads, gw,
                                         gb, buf);
    }
    return py::make_tuple(loss, grad_w, gb);
}

template <class T>
py::tuple softmax_loss(const carray<T>& X, const carray<index_t>& y, const carray<T>& W, const carray<T>& b,
                       const py::object& sample_weight, double alpha, double l1_ratio, int n_threads) {
    Rows<T> rows = rows_of(X, sample_weight);
    if (y.size() != X.shape(0)) throw py::value_error("y must have one label per row of X");
    if (W.ndim() != 2 || W.shape(0) != X.shape(1))
        throw py::value_error("W must have shape (n_features, n_classes)");
    const std::size_t K = static_cast<std::size_t>(W.shape(1));
    if (K == 0) throw py::value_error("W must have at least one column");
    if (b.size() != W.shape(1)) throw py::value_error("b must have one value per column of W");
    carray<T> grad_W({X.shape(1), W.shape(1)});
    carray<T> grad_b(W.shape(1));
    T* gW = grad_W.mutable_data();
    T* gb = grad_b.mutable_data();
    double loss = 0.0;
    {
        ReleasedGil release;
        std::vector<double> buf;
        loss = softmax_loss_grad<T>(rows, y.data(), W.data(), b.data(), K, Penalty{alpha, l1_ratio}, n_threads,
                                    gW, gb, buf);
    }
    return py::make_tuple(loss, grad_W, grad_b);
}

template <class T>
void register_for(py::module_& m) {
    m.def("squared_error", &linear_loss<T, SquaredErrorLoss>, py::arg("X").noconvert(), py::arg("y").noconvert(),
          py::arg("w").noconvert(), py::arg("b"), py::arg("sample_weight"), py::arg("alpha"),
          py::arg("l1_ratio"), py::arg("n_threads"));
    m.def("logistic", &linear_loss<T, LogisticLoss>, py::arg("X").noconvert(), py::arg("y").noconvert(),
          py::arg("w").noconvert(), py::arg("b"), py::arg("sample_weight"), py::arg("alpha"),
          py::arg("l1_ratio"), py::arg("n_threads"));
    m.def("softmax_cross_entropy", &softmax_loss<T>, py::arg("X").noconvert(), py::arg("y").noconvert(),
          py::arg("W").noconvert(), py::arg("b").noconvert(), py::arg("sample_weight"), py::arg("alpha"),
          py::arg("l1_ratio"), py::arg("n_threads"));
}

}  // namespace

void register_losses(py::module_& m) {
    register_for<double>(m);  // float64 first: the overload tried first
    register_for<float>(m);
}

}  // namespace descend::python
