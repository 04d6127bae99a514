// What a probe does when the program is about to die of a signal it does not handle: write
// what it holds, then die of the same signal (the exit status stays the program's).

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Calls `finish(sig)` when SIGINT, SIGTERM or SIGHUP would end the program (it has no handler of
 * its own), then re-raises the signal with the default action. When the program handles the
 * signal itself, `handled(sig)` is called instead and the program decides (its `exit` comes later).
 */
export function beforeSignalDeath(finish: (sig: NodeJS.Signals) => void, handled?: (sig: NodeJS.Signals) => void): void {
  const onSignal = (sig: NodeJS.Signals) => {
    if (process.listenerCount(sig) > 1) { handled?.(sig); return; }
    try { finish(sig); } catch { /* the program's exit comes first */ }
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    process.kill(process.pid, sig);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
}
