"""Writes a tiny llama-architecture GGUF model with random f32 weights, for
bench/foreign (llama.cpp through node-llama-cpp): `tiny_gguf.py OUT`.
GGUF v3 as llama.cpp reads it: header, metadata key/values, tensor infos,
then the tensor data aligned to 32 bytes. The tokenizer is a "llama"
(SentencePiece) vocabulary of <unk>, <s>, </s> and the 256 byte tokens, so
any text tokenizes. The memory of a run, not its text, is what is measured."""
import random
import struct
import sys

DIM, LAYERS, HEADS, KV_HEADS, FF, CTX = 64, 2, 4, 4, 128, 32768
ALIGN = 32
T_U32, T_F32, T_STR, T_ARR, T_I32 = 4, 6, 8, 9, 5


def s(b):
    b = b.encode() if isinstance(b, str) else b
    return struct.pack("<Q", len(b)) + b


def kv(key, typ, val):
    out = s(key) + struct.pack("<I", typ)
    if typ == T_U32:
        return out + struct.pack("<I", val)
    if typ == T_I32:
        return out + struct.pack("<i", val)
    if typ == T_F32:
        return out + struct.pack("<f", val)
    if typ == T_STR:
        return out + s(val)
    sub, items = val
    out += struct.pack("<IQ", sub, len(items))
    for it in items:
        out += s(it) if sub == T_STR else struct.pack({T_F32: "<f", T_I32: "<i"}[sub], it)
    return out


def main():
    tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % i for i in range(256)]
    types = [2, 3, 3] + [6] * 256
    meta = [
        kv("general.architecture", T_STR, "llama"),
        kv("general.name", T_STR, "lowram-tiny"),
        kv("llama.context_length", T_U32, CTX),
        kv("llama.embedding_length", T_U32, DIM),
        kv("llama.block_count", T_U32, LAYERS),
        kv("llama.feed_forward_length", T_U32, FF),
        kv("llama.attention.head_count", T_U32, HEADS),
        kv("llama.attention.head_count_kv", T_U32, KV_HEADS),
        kv("llama.rope.dimension_count", T_U32, DIM // HEADS),
        kv("llama.attention.layer_norm_rms_epsilon", T_F32, 1e-5),
        kv("general.alignment", T_U32, ALIGN),
        kv("tokenizer.ggml.model", T_STR, "llama"),
        kv("tokenizer.ggml.tokens", T_ARR, (T_STR, tokens)),
        kv("tokenizer.ggml.scores", T_ARR, (T_F32, [0.0] * len(tokens))),
        kv("tokenizer.ggml.token_type", T_ARR, (T_I32, types)),
        kv("tokenizer.ggml.bos_token_id", T_U32, 1),
        kv("tokenizer.ggml.eos_token_id", T_U32, 2),
        kv("tokenizer.ggml.unknown_token_id", T_U32, 0),
    ]
    vocab = len(tokens)
    tensors = [("token_embd.weight", [DIM, vocab]), ("output_norm.weight", [DIM]),
               ("output.weight", [DIM, vocab])]
    for i in range(LAYERS):
        p = "blk.%d." % i
        tensors += [(p + "attn_norm.weight", [DIM]), (p + "attn_q.weight", [DIM, DIM]),
                    (p + "attn_k.weight", [DIM, DIM * KV_HEADS // HEADS]),
                    (p + "attn_v.weight", [DIM, DIM * KV_HEADS // HEADS]),
                    (p + "attn_output.weight", [DIM, DIM]), (p + "ffn_norm.weight", [DIM]),
                    (p + "ffn_gate.weight", [DIM, FF]), (p + "ffn_up.weight", [DIM, FF]),
                    (p + "ffn_down.weight", [FF, DIM])]
    rng = random.Random(1)
    infos, data, off = b"", b"", 0
    for name, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        infos += s(name) + struct.pack("<I", len(shape))
        infos += b"".join(struct.pack("<Q", d) for d in shape)
        infos += struct.pack("<IQ", 0, off)  # type 0: f32
        vals = [1.0] * n if name.endswith("norm.weight") else \
            [rng.gauss(0, 0.02) for _ in range(n)]
        blob = struct.pack("<%df" % n, *vals)
        pad = (-len(blob)) % ALIGN
        data += blob + b"\0" * pad
        off += len(blob) + pad
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta)) + b"".join(meta) + infos
    head += b"\0" * ((-len(head)) % ALIGN)
    with open(sys.argv[1], "wb") as f:
        f.write(head + data)


if __name__ == "__main__":
    main()
