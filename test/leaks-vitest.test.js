// assertNoLeaks under vitest: a leaking test fails with the report as its message (the holder by
// its variable name, the site on the spec file's line through vite's source maps), a bounded
// control passes. The module holds a counter next to the Map, so the path names both locals the
// context slot can be (V8 writes no names for this kind of context, nor an edge for a small integer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, tmp } from './helpers.js';

test('vitest: assertNoLeaks fails the leaking test with the report and passes the bounded one', () => {
  const out = join(tmp(), 'vitest.json');
  const r = spawnSync(process.execPath, [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--root', join(root, 'test/fixtures/leaks/vitest'), '--reporter=json', `--outputFile=${out}`],
    { encoding: 'utf8', timeout: 300_000, env: { ...process.env, CI: '1' } });
  assert.equal(r.status, 1, `vitest exits 1 for the one failing test\n${r.stderr.slice(-3000)}`);
  const results = Object.fromEntries(JSON.parse(readFileSync(out, 'utf8')).testResults.flatMap((f) => f.assertionResults).map((a) => [a.title, a]));
  assert.equal(results['a bounded list at capacity'].status, 'passed', results['a bounded list at capacity'].failureMessages.join('\n'));
  const leak = results['a session store that never forgets'];
  assert.equal(leak.status, 'failed');
  const message = leak.failureMessages.join('\n');
  assert.match(message, /LeakError: memtrace leaks: 1 leak found in 4 measured iterations after 2 warm-up/);
  assert.match(message, /Map \(\d+ entries\): \+40 entries\/iteration/);
  assert.match(message, /allocated in openSession \(test\/fixtures\/leaks\/vitest\/sessions\.spec\.mjs:8:/);
  assert.match(message, /context → sessions or n \(variable\) → Map \(\d+ entries\) → value of key "s\d+" → Object/);
});
