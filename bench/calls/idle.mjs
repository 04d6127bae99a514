// CPU the process spends over 1 s of sleep: with a trace on, that is the RSS publisher thread.
const c0 = process.cpuUsage();
const t0 = performance.now();
await new Promise((r) => setTimeout(r, 1000));
const c = process.cpuUsage(c0);
console.log(JSON.stringify({ cpuPercent: ((c.user + c.system) / 1000 / (performance.now() - t0)) * 100 }));
