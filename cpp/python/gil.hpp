// The GIL released around C++ work, safely for a thread still working when the interpreter
// exits (a daemon thread). Taking the GIL back during finalization ends the thread by unwinding
// its stack (pthread_exit), which C++ frames turn into std::terminate and an aborted process when
// the unwinding meets a noexcept function (a destructor, by default) or an OpenMP region. So:
// a thread that finds the interpreter exiting is parked instead, as Python 3.14 itself does, and
// the process exits around it; one already waiting for the GIL when the exit starts is unwound,
// through this destructor (noexcept(false)) and pybind11's dispatcher, which lets it pass; and
// the training engine takes the GIL (to check for Ctrl-C) only outside its parallel regions.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>
#include <memory>
#include <thread>

namespace descend::python {

inline bool interpreter_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing() != 0;
#else
    return _Py_IsFinalizing() != 0;
#endif
}

[[noreturn]] inline void park_forever() {
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

class ReleasedGil {
  public:
    ReleasedGil() : state_(PyEval_SaveThread()) {}
    ~ReleasedGil() noexcept(false) {
        if (interpreter_finalizing()) park_forever();
        PyEval_RestoreThread(state_);
    }
    ReleasedGil(const ReleasedGil&) = delete;
    ReleasedGil& operator=(const ReleasedGil&) = delete;

  private:
    PyThreadState* state_;
};

// True when a signal handler raised (Ctrl-C: KeyboardInterrupt), which is then fetched into
// pending; also true, without taking the GIL, once the interpreter is exiting, so that work in a
// daemon thread stops. Called with the GIL released.
inline bool interrupted_or_exiting(std::unique_ptr<pybind11::error_already_set>& pending) {
    if (interpreter_finalizing()) return true;
    pybind11::gil_scoped_acquire acquire;
    if (PyErr_CheckSignals() != 0) {
        pending = std::make_unique<pybind11::error_already_set>();  // fetches and clears it
        return true;
    }
    return false;
}

}  // namespace descend::python
