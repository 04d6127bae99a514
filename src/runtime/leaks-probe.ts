// Loaded into a program run by `memtrace leaks -- node …` (NODE_OPTIONS, through the verified
// channel: channel.ts). Iterations end at each `mark('iteration')` of the program, or when memtrace
// sends `measure` (memtrace drives them: --http, --every). At each boundary it measures (see
// leaks-measure.ts) and sends the figures; marks go to memtrace too. It writes nothing to the
// program's stdio, defines no global, and never keeps the event loop alive: while allocation
// tracking is on (it would), an unref'd check ends tracking as soon as nothing else is left.
import { Measurer, type BoundaryRecord, type MeasureConfig } from './leaks-measure.js';
import { withChannel, type Channel } from './channel.js';
import { subscribeMarks } from './marks.js';
import { onProcess } from './process-events.js';

/** What memtrace asks of the probe (the channel's config). */
export interface LeaksProbeConfig extends MeasureConfig {
  /** The mark label that ends an iteration; null when memtrace drives the iterations. */
  label: string | null;
  dir: string;
}

function start(channel: Channel): void {
  const config = channel.config as LeaksProbeConfig;
  const measurer = new Measurer(config, (text) => channel.send({ ev: 'note', text }));
  // Made before tracking starts, so that it is not among the objects born while measuring.
  const idle = setInterval(() => {
    if (!measurer.tracking) return;
    // Tracking keeps the loop alive; when nothing of the program's is left, let it end.
    if (process.getActiveResourcesInfo().length === 0) {
      measurer.stop();
      clearInterval(idle);
      channel.send({ ev: 'idle', seen: measurer.seen });
    }
  }, 200);
  idle.unref();
  const sent = (rec: BoundaryRecord | undefined): BoundaryRecord | undefined => {
    if (!rec) return rec;
    channel.send(rec as unknown as Record<string, unknown>);
    if (measurer.finished) {
      clearInterval(idle);
      channel.send({ ev: 'done', inlineMaps: measurer.inlineSourceMaps() });
    }
    return rec;
  };
  sent(measurer.begin());
  subscribeMarks((label, t) => {
    channel.send({ ev: 'mark', label, epoch: t });
    if (config.label !== null && label === config.label) sent(measurer.iterationEnded());
  });
  channel.onCommand('measure', () => sent(measurer.iterationEnded()) ?? null);
  onProcess('exit', (code) => {
    measurer.stop();
    channel.send({ ev: 'exit', code, seen: measurer.seen });
  });
}

withChannel(start);
