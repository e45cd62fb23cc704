# bench/python: pure-Python churn for overhead.sh. Function calls that
# allocate through malloc (bytearrays and lists past obmalloc's 512 bytes)
# and calls that allocate nothing (the profile function's own cost).
import sys


def leaf(i):
    return bytearray(600 + (i & 255))


def mid(i):
    b = leaf(i)
    lst = [i] * 80
    return len(b) + len(lst)


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
total = 0
for i in range(n):
    total += mid(i)
print(total, fib(22))
