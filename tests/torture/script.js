// The torture suite's node run: objects, Map, JSON, Buffer, typed arrays,
// promises and timers.
'use strict';
const a = [];
for (let i = 0; i < 100000; i++) a.push({ i, s: 'x' + i });
const m = new Map(a.map((o) => [o.s, o.i]));
const j = JSON.stringify(a.slice(0, 1000));
const b = Buffer.alloc(1 << 20, 7);
const f = new Float64Array(1 << 16).map((_, i) => i / 2);
let sum = 0;
for (const v of f) sum += v;
new Promise((res) => setTimeout(res, 5)).then(() => {
  console.log(a.length, m.size, j.length, b.reduce((x, y) => x + y, 0), sum);
  console.log(JSON.parse(j)[999].s);
});
