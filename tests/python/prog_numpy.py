# tests/python: a numpy program whose allocating lines the test names
# (test_python.sh asserts these line numbers: keep them where they are).
import numpy as np
import lowram


def make_kv(n):
    kv = np.ones(n)  # line 8: n * 8 bytes of float64
    return kv


def scratch(n):
    buf = bytearray(n)  # line 13: n + 1 bytes (bytearray keeps a NUL)
    return buf


def main():
    lowram.param("n", 1000000)
    lowram.param("dtype", "float64")
    lowram.mark("alloc")
    keep = [make_kv(1000000), scratch(3000000)]  # line 21
    lowram.mark("done")
    return keep


held = main()  # line 26
