import sys
import numpy as np
batch, seq = int(sys.argv[1]), int(sys.argv[2])
d, layers, vocab = 64, 2, 512
rng = np.random.default_rng(0)
W = [rng.standard_normal((d, d), dtype=np.float32) for _ in range(4 * layers)]
emb = rng.standard_normal((vocab, d), dtype=np.float32)
kv = np.zeros((layers, 2, batch, seq, d), dtype=np.float32)
tokens = rng.integers(0, vocab, size=(batch, seq))
x = emb[tokens]
for l in range(layers):
    q = x @ W[4*l]; k = x @ W[4*l+1]; v = x @ W[4*l+2]
    kv[l, 0] = k; kv[l, 1] = v
    s = q @ k.transpose(0, 2, 1) / np.sqrt(d)
    s = np.exp(s - s.max(-1, keepdims=True)); s /= s.sum(-1, keepdims=True)
    x = x + (s @ v) @ W[4*l+3]
print(float(x.sum()))
