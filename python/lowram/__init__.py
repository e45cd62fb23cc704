"""lowram for Python programs: phases, parameters and Python frames.

    import lowram
    lowram.param("batch", 8)        # an integer parameter of the run
    lowram.param("quant", "q8")     # a string parameter
    lowram.mark("prefill")          # a phase starts here

Under `lowram record` these reach the trace (markers, params) exactly as
lowram.h's calls do from C; anywhere else they do nothing. `lowram record`
puts this package's directory first on PYTHONPATH, so its sitecustomize
starts the Python frames of every Python process of the run (see
lowram_python.c) without any change to the script.
"""
import os
import sys

__all__ = ["mark", "param", "active"]

_shim = None     # ctypes handle of the process (the preloaded shim's symbols)
_looked = False
_lib = None      # liblowram_python.so, once loaded
_thread_hook = None


def _preloaded():
    return "liblowram" in os.environ.get("LD_PRELOAD", "")


def _find():
    global _shim, _looked
    if not _looked:
        _looked = True
        try:
            import ctypes
            h = ctypes.CDLL(None)
            h.lowram_shim_mark_v1.argtypes = [ctypes.c_char_p]
            h.lowram_shim_param_v1.argtypes = [ctypes.c_char_p, ctypes.c_int64]
            h.lowram_shim_param_str_v1.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
            _shim = h
        except (ImportError, OSError, AttributeError):
            _shim = None
    return _shim


def _b(s):
    return s if isinstance(s, bytes) else str(s).encode("utf-8", "replace")


def active():
    """True when the program runs under liblowram.so."""
    return _find() is not None


def mark(name):
    """A phase named `name` starts here (a marker in the trace)."""
    h = _find()
    if h is not None:
        h.lowram_shim_mark_v1(_b(name))


def param(name, value):
    """A parameter of the run: an int (or bool) is stored as an integer,
    anything else as text."""
    h = _find()
    if h is None:
        return
    if isinstance(value, int):
        h.lowram_shim_param_v1(_b(name), value)
    else:
        h.lowram_shim_param_str_v1(_b(name), _b(value))


def _start():
    """Python frames for this process (from sitecustomize): the main
    thread's profiler now, each new threading.Thread's when it starts.
    Does nothing without the shim or with LOWRAM_PYFRAMES=0."""
    global _lib, _thread_hook
    if _lib is not None or not _preloaded() or os.environ.get("LOWRAM_PYFRAMES") == "0":
        return
    if hasattr(sys, "_is_gil_enabled") and not sys._is_gil_enabled():
        sys.stderr.write("lowram: no Python frames in a free-threaded CPython\n")
        return
    import ctypes
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    lib = ctypes.PyDLL(os.path.join(here, "liblowram_python.so"))
    lib.lowram_py_start.argtypes = [ctypes.c_int]
    lib.lowram_py_note.restype = ctypes.c_char_p
    if lib.lowram_py_start(-1) != 0:
        sys.stderr.write("lowram: no Python frames: %s\n"
                         % lib.lowram_py_note().decode("utf-8", "replace"))
        return
    _lib = lib

    def hook(frame, event, arg):
        # a new thread's first event: the C profiler replaces this hook,
        # with the thread's running frames less this one
        lib.lowram_py_start(1)

    _thread_hook = hook
    if "threading" in sys.modules:
        sys.modules["threading"].setprofile(hook)
    else:  # not imported here (gevent wants to patch it first): hooked when it is
        sys.meta_path.insert(0, _ThreadingFinder())


class _ThreadingLoader:
    """threading's own loader, then threading.setprofile(lowram's hook)."""

    def __init__(self, inner):
        self._inner = inner

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module):
        self._inner.exec_module(module)
        if _thread_hook is not None:
            module.setprofile(_thread_hook)


class _ThreadingFinder:
    """Waits for the program's `import threading`, once, then leaves
    sys.meta_path."""

    def find_spec(self, name, path=None, target=None):
        if name != "threading":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        import importlib.util
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _ThreadingLoader(spec.loader)
        return spec
