# tests/python: threads and a fork child (test_python.sh asserts the lines).
import os
import threading

bufs = []


def worker(n):
    bufs.append(bytearray(n))  # line 9


def in_child():
    return bytearray(5000000)  # line 13


ts = [threading.Thread(target=worker, args=(2000000 + i,)) for i in range(3)]
for t in ts:
    t.start()
for t in ts:
    t.join()
pid = os.fork()
if pid == 0:
    k = in_child()  # line 23
    os._exit(0)
os.waitpid(pid, 0)
