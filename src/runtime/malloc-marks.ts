// Loaded into a node program traced by `memtrace malloc` (NODE_OPTIONS --import), before its
// main module: tells the interposer where start-up ends and where the program begins to exit, and passes the program's marks
// (`mark()` from memtrace/mark) to it. The channel is an open() of DIR/mark-LABEL in memtrace's
// private directory, which the interposer (it hooks open) takes as a mark and fails with ENOENT:
// no fd, no file, nothing the program can see. Imports only node: and runtime files.
import { openSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { subscribeMarks } from './marks.js';
import { onProcess } from './process-events.js';

/** The labels of the marks placed when the main module is about to run and when the program begins to exit. */
export const MAIN_MARK = 'memtrace:main', EXIT_MARK = 'memtrace:exit';

const dir = process.env.MEMTRACE_MALLOC_DIR;
function send(label: string): void {
  try { openSync(`${dir}/mark-${encodeURIComponent(label).slice(0, 300)}`, 'r'); } catch { /* taken as a mark */ }
}
if (dir && isMainThread) {
  send(MAIN_MARK);
  subscribeMarks((label) => send(label));
  // what is still allocated here is the program's; after it node's teardown frees its heap
  onProcess('exit', () => send(EXIT_MARK));
}
