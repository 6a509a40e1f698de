"""Setting OpenMP thread counts of native libraries that bring their own runtime (yuface)."""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os


class OpenMPThreads:
    """Set the OpenMP thread count around a call, then put it back.

    yuface ships its own OpenMP runtime, but when torch is imported first its
    calls bind to torch's ``libgomp`` (already in the global symbol scope), so
    both runtimes are set. The count is per calling thread and is restored, so
    torch's own thread count is untouched.
    """

    def __init__(self, module_file: str):
        handles = []
        for lib in glob.glob(os.path.join(os.path.dirname(module_file), os.pardir, "yuface.libs", "libgomp*")) + [None]:
            try:
                handles.append(ctypes.CDLL(lib))
            except OSError:
                continue
        self._runtimes = []
        seen = set()
        for h in handles:
            try:
                setter, getter = h.omp_set_num_threads, h.omp_get_max_threads
            except AttributeError:  # no OpenMP runtime in the global scope
                continue
            address = ctypes.cast(setter, ctypes.c_void_p).value
            if address not in seen:
                seen.add(address)
                getter.restype = ctypes.c_int
                self._runtimes.append((setter, getter))

    @contextlib.contextmanager
    def limit(self, threads: int):
        saved = [getter() for _, getter in self._runtimes]
        for setter, _ in self._runtimes:
            setter(int(threads))
        try:
            yield
        finally:
            for (setter, _), n in zip(self._runtimes, saved):
                setter(n)
