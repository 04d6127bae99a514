// The JSON workload's application code: what a service does with a document it receives.
function words(text) {
  return String(text ?? '').toLowerCase().split(/[^a-z0-9]+/).filter((w) => w.length > 2);
}

function summarize(pkg) {
  const deps = Object.keys(pkg.dependencies ?? {});
  return {
    name: pkg.name,
    version: pkg.version,
    license: typeof pkg.license === 'string' ? pkg.license : 'unknown',
    deps,
    keywords: [...new Set([...(pkg.keywords ?? []), ...words(pkg.description)])].sort(),
    scripts: Object.entries(pkg.scripts ?? {}).map(([k, v]) => `${k}: ${v}`),
  };
}

function index(records) {
  const byKeyword = new Map();
  for (const r of records) {
    for (const k of r.keywords) {
      let list = byKeyword.get(k);
      if (!list) byKeyword.set(k, (list = []));
      list.push(r.name);
    }
  }
  return Object.fromEntries([...byKeyword].sort(([a], [b]) => (a < b ? -1 : 1)));
}

export function transform(text) {
  const pkgs = JSON.parse(text);
  const records = pkgs.map(summarize);
  const dependents = {};
  for (const r of records) for (const d of r.deps) (dependents[d] ??= []).push(r.name);
  return JSON.stringify({ records, dependents, keywords: index(records) });
}
