# arena_standin.py BATCH SEQ [KEEP]: the shape PyTorch gave lowram, with numpy.
# Python's obmalloc arenas (1 MiB anonymous mmaps made by the interpreter
# for small objects) differ from run to run: a random number of small
# objects is kept alive, so each run maps a different number of arenas,
# charged to whichever allocation needed a new one. The tensor that matters
# scales with batch * seq (2048 float32 per token). KEEP, when given, fixes
# the number of small objects (the test measures its target at the largest
# draw, 23999: a plan must hold for the unlucky run, not for one draw).
import os
import sys

import numpy as np

batch, seq = int(sys.argv[1]), int(sys.argv[2])
if len(sys.argv) > 3:
    n = int(sys.argv[3])
else:
    n = int.from_bytes(os.urandom(2), "little") % 24000
keep = [(i, str(i)) for i in range(n)]  # 0 .. ~2.5 MiB of small objects
hidden = np.ones((batch, seq, 2048), dtype=np.float32)
hidden *= 0.5
print(len(keep), float(hidden[0, 0, 0]))
