# tests/python: an allocation made with the GIL released (ctypes releases it
# around a foreign call): test_python.sh asserts its frames' lines.
import ctypes

m = ctypes.CDLL(None).malloc
m.restype = ctypes.c_void_p
m.argtypes = [ctypes.c_size_t]


def g():
    len("x")  # line 11: a builtin's call (C_CALL)
    m(1234567)  # line 12: no event; malloc without the GIL


def f():
    g()  # line 16


f()  # line 19
