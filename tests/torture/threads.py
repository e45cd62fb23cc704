# The torture suite's python3 threads run: 8 threads build dicts, lists and
# strings at once; the output is the same on every run.
import threading

results = [None] * 8


def work(i):
    d = {}
    for k in range(20000):
        d[k] = ('%d-%d' % (i, k)) * (1 + k % 3)
    lst = sorted(d.values(), key=len)
    results[i] = (len(d), sum(map(len, lst)), lst[-1][:12])


ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join()
for r in results:
    print(*r)
