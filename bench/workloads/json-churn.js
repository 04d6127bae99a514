// A CPU- and allocation-heavy workload: builds records, serialises and parses them, keeps some.
// Prints its own running time and CPU time, so a benchmark can leave out the tracer's start-up
// (and, with CPU time, the waits for a core that other work on the machine causes).
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const N = Number(process.argv[2] ?? 12);
const kept = [];
let check = 0;
for (let round = 0; round < N; round++) {
  const rows = [];
  for (let i = 0; i < 40_000; i++) rows.push({ id: i, name: `row-${round}-${i}`, score: (i * 7919) % 1000, tags: ['a', 'b', String(i % 13)] });
  const text = JSON.stringify(rows);
  const back = JSON.parse(text);
  check += back.length + text.length;
  if (round % 3 === 0) kept.push(back);
}
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ check, kept: kept.length, ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 }));
