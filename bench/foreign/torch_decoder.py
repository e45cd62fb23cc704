"""A small PyTorch decoder with a KV cache, as people write them: 4 layers,
dim 256, 4 heads, a preallocated cache of batch x seq, a prefill of the whole
prompt, then 4 decoded tokens. `python3 torch_decoder.py BATCH SEQ`.
Random weights (seeded): the memory is what is measured, not the text."""
import sys

import torch

torch.set_num_threads(1)
torch.manual_seed(0)
LAYERS, DIM, HEADS, VOCAB, DECODE = 4, 256, 4, 2000, 4
HD = DIM // HEADS


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = torch.nn.Linear(DIM, 3 * DIM, bias=False)
        self.out = torch.nn.Linear(DIM, DIM, bias=False)
        self.up = torch.nn.Linear(DIM, 4 * DIM, bias=False)
        self.down = torch.nn.Linear(4 * DIM, DIM, bias=False)
        self.n1 = torch.nn.LayerNorm(DIM)
        self.n2 = torch.nn.LayerNorm(DIM)

    def forward(self, x, cache, pos):
        b, t, _ = x.shape
        q, k, v = self.qkv(self.n1(x)).view(b, t, 3, HEADS, HD).permute(2, 0, 3, 1, 4)
        cache[0, :, :, pos:pos + t] = k
        cache[1, :, :, pos:pos + t] = v
        keys, vals = cache[0, :, :, :pos + t], cache[1, :, :, :pos + t]
        scores = q @ keys.transpose(-1, -2) / HD ** 0.5
        if t > 1:
            mask = torch.full((t, pos + t), float("-inf")).triu(pos + 1)
            scores = scores + mask
        att = torch.softmax(scores, dim=-1) @ vals
        x = x + self.out(att.transpose(1, 2).reshape(b, t, DIM))
        return x + self.down(torch.relu(self.up(self.n2(x))))


def main():
    batch, seq = int(sys.argv[1]), int(sys.argv[2])
    emb = torch.nn.Embedding(VOCAB, DIM)
    layers = [Layer() for _ in range(LAYERS)]
    head = torch.nn.Linear(DIM, VOCAB, bias=False)
    cache = torch.zeros(LAYERS, 2, batch, HEADS, seq + DECODE, HD)
    prompt = torch.randint(0, VOCAB, (batch, seq))
    with torch.no_grad():
        x = emb(prompt)
        for i, layer in enumerate(layers):
            x = layer(x, cache[i], 0)
        tok = head(x[:, -1]).argmax(-1, keepdim=True)
        for step in range(DECODE):
            x = emb(tok)
            for i, layer in enumerate(layers):
                x = layer(x, cache[i], seq + step)
            tok = head(x[:, -1]).argmax(-1, keepdim=True)
    print(int(tok.sum()))


if __name__ == "__main__":
    main()
