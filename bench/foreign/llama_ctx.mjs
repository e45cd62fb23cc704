// llama.cpp through node-llama-cpp (npm), as an app embeds it: load the
// model, make a context of CTX tokens, evaluate a prompt and 8 tokens.
// `node llama_ctx.mjs MODEL CTX` with NODE_PATH-free import from
// LOWRAM_FOREIGN_CACHE (where ./run.sh foreign installed it).
const cache = process.env.LOWRAM_FOREIGN_CACHE;
const { getLlama } = await import(`${cache}/node_modules/node-llama-cpp/dist/index.js`);
const [model_path, ctx] = process.argv.slice(2);
const llama = await getLlama({ gpu: false, build: "never", logLevel: "error", progressLogs: false });
const model = await llama.loadModel({ modelPath: model_path, useMmap: true });
const context = await model.createContext({ contextSize: Number(ctx), batchSize: 512,
                                            threads: 1 });
const seq = context.getSequence();
const prompt = model.tokenize("lowram measures what a context costs.");
let n = 0;
for await (const tok of seq.evaluate(prompt, { temperature: 0 })) {
  if (++n >= 8) break;
}
console.log(n);
await context.dispose();
await model.dispose();
await llama.dispose();
