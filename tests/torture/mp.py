# The torture suite's python3 multiprocessing run: a Pool of 2 workers with
# the start method given (fork, spawn, forkserver), then 8 threads.
import multiprocessing as mp
import sys
import threading


def work(x):
    d = {i: str(i * x) for i in range(200)}
    return sum(len(v) for v in d.values())


if __name__ == '__main__':
    ctx = mp.get_context(sys.argv[1])
    with ctx.Pool(2) as pool:
        print(sys.argv[1], sum(pool.map(work, range(64))))
    out = [0] * 8

    def t(i):
        out[i] = sum(len(bytearray(1000 * i + k)) for k in range(100))

    ts = [threading.Thread(target=t, args=(i,)) for i in range(8)]
    for x in ts:
        x.start()
    for x in ts:
        x.join()
    print(out)
