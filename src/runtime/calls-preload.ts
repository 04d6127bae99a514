// What the `--require` preload (preload.cts) loads for `memtrace calls`, when the command is node
// with no ESM loader to come after ours and the runtime addon is built: with the addon's RSS
// thread the start is synchronous, so node runs the main module as untraced (no --import).
import { onMainThread } from './addon.js';
import { startCalls } from './calls-start.js';

if (onMainThread()) void startCalls();
