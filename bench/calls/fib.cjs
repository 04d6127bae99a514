// The fib workload as a CommonJS program (most of npm is CommonJS), for the memory `calls` adds
// there: traced through the --require preload, as `memtrace calls` runs a node program.
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
const reps = Number(process.argv[2] ?? 30);
let out = 0;
for (let i = 0; i < reps; i++) out = fib(27);
console.log(JSON.stringify({ result: out, maxRss: process.resourceUsage().maxRSS * 1024 }));
