# tests/python: what lowram must not keep alive (test_python.sh asserts the
# output equals the bare run's, and the lines).
import gc
import sys
import weakref

ws = []
for i in range(2000):  # functions compiled, run (named by lowram), dropped
    ns = {}
    exec(compile("def f():\n    return [0]*10\nf()\n", "gen%d" % i, "exec"), ns)
    ws.append(weakref.ref(ns["f"].__code__))
    del ns
gc.collect()
print("code objects of deleted functions still alive:", sum(w() is not None for w in ws), "of", len(ws))

refs = []


class Big:
    def __init__(self):
        self.buf = bytearray(6000000)  # line 21


def f():
    b = Big()  # line 25
    refs.append(weakref.ref(b))
    sys.setprofile(None)  # the program turns profiling off (lowram's with it)
    return 1


f()  # line 31
gc.collect()
print("Big still alive after return:", refs[0]() is not None)
late = bytearray(4000000)  # after setprofile(None): native frames only
