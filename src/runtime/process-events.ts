// The probes' listeners on `process` (exit, the signals that end a program, ...) that the
// program must not see: signal-exit and many CLIs decide what to do from
// process.listenerCount('SIGINT') or process.listeners('exit'). Each event gets one real
// listener of memtrace's, which calls every probe's function; EventEmitter's listenerCount,
// listeners, rawListeners, eventNames and removeAllListeners (on its prototype, so that
// process keeps its own properties) leave those listeners out when asked about process. Node's
// own removeListener listener, which closes a signal's handler when process.listenerCount()
// reaches 0, is told the truth. Runs inside the traced program: imports only node: and runtime files.
import { EventEmitter } from 'node:events';
import { showSourceOf } from './stand-in.js';

type Listener = (...args: any[]) => void;
type EventName = string | symbol;

const proto = EventEmitter.prototype;
const original = {
  on: proto.on, prependListener: proto.prependListener, removeListener: proto.removeListener,
  listenerCount: proto.listenerCount, listeners: proto.listeners, rawListeners: proto.rawListeners,
  eventNames: proto.eventNames, removeAllListeners: proto.removeAllListeners,
};
/** Every real listener memtrace put on process. */
const hidden = new Set<Listener>();
/** Per event, the probes' functions and the one listener that calls them. */
const events = new Map<EventName, { fns: Listener[]; listener: Listener }>();
/** The event whose count node's own removeListener listener is reading (it gets the true count). */
let truthFor: EventName | undefined;
/** Events the program took a listener off in this turn of the event loop. */
const justRemoved = new Set<EventName>();
let installed = false;

function raw(type: EventName): Listener[] {
  return Reflect.apply(original.rawListeners, process, [type]) as Listener[];
}
function ours(type: EventName): number {
  return events.has(type) || type === 'newListener' || type === 'removeListener' ? raw(type).filter((l) => hidden.has(l)).length : 0;
}

/** Listeners of `type` on process that are the program's (or node's), not memtrace's. */
export function programListenerCount(type: EventName): number {
  return raw(type).length - ours(type);
}

function hide(): void {
  if (installed) return;
  installed = true;
  const stand = (name: keyof typeof original, apply: (self: unknown, args: unknown[], fn: Function) => unknown) => {
    const fn = original[name] as Function;
    const proxy = new Proxy(fn, { apply: (target, self, args) => (self === process ? apply(self, args, target) : Reflect.apply(target, self, args)) });
    showSourceOf(proxy, fn);
    const d = Object.getOwnPropertyDescriptor(proto, name)!;
    Object.defineProperty(proto, name, { ...d, value: proxy });
  };
  stand('listenerCount', (self, args, fn) => {
    const n = Reflect.apply(fn, self, args) as number;
    const type = args[0] as EventName;
    return truthFor === type || args[1] !== undefined ? n : n - ours(type);
  });
  stand('listeners', (self, args, fn) => (Reflect.apply(fn, self, args) as Listener[]).filter((l) => !hidden.has(l)));
  stand('rawListeners', (self, args, fn) => (Reflect.apply(fn, self, args) as Listener[]).filter((l) => !hidden.has(l)));
  stand('eventNames', (self, args, fn) => (Reflect.apply(fn, self, args) as EventName[]).filter((t) => programListenerCount(t) > 0));
  // As node's own (the last listener first, through removeListener), memtrace's kept.
  stand('removeAllListeners', (self, args) => {
    const p = self as NodeJS.Process & { _events: Record<EventName, unknown> };
    const all = args.length === 0 || args[0] === undefined;
    const types = all ? [...Reflect.ownKeys(p._events).filter((t) => t !== 'removeListener'), 'removeListener'] : [args[0] as EventName];
    for (const t of types) {
      const ls = raw(t);
      for (let i = ls.length - 1; i >= 0; i--) if (!hidden.has(ls[i]!)) p.removeListener(t, ls[i]!);
    }
    return self;
  });
  // Node's removeListener listener comes between these two: it reads the true count.
  const tell: Listener = (type: EventName, listener: Listener) => {
    truthFor = type;
    if (hidden.has(listener) || !events.has(type)) return;
    // A signal's emit that reaches memtrace's listener after the program's (a prependOnceListener
    // that took itself off): the program handled it. Cleared once that emit's turn is over.
    justRemoved.add(type);
    queueMicrotask(() => justRemoved.delete(type));
  };
  const untell: Listener = () => { truthFor = undefined; };
  // The program's first listener of an event memtrace listens to: its name moves to the end of
  // eventNames(), where it would have been untraced.
  const reorder: Listener = (type: EventName, listener: Listener) => {
    if (hidden.has(listener) || !events.has(type) || programListenerCount(type) > 0) return;
    const e = (process as unknown as { _events: Record<EventName, unknown> })._events;
    const v = e[type];
    if (v === undefined) return;
    delete e[type];
    e[type] = v;
  };
  for (const l of [tell, untell, reorder]) hidden.add(l);
  Reflect.apply(original.prependListener, process, ['removeListener', tell]);
  Reflect.apply(original.on, process, ['removeListener', untell]);
  Reflect.apply(original.on, process, ['newListener', reorder]);
}

/** Calls `fn` at each `type` event of process, from a listener the program does not see. */
export function onProcess(type: EventName, fn: Listener): void {
  hide();
  let e = events.get(type);
  if (!e) {
    const fns: Listener[] = [];
    const listener: Listener = (...args) => {
      for (const f of fns.slice()) { try { f(...args); } catch { /* never disturb the program */ } }
    };
    e = { fns, listener };
    events.set(type, e);
    hidden.add(listener);
    Reflect.apply(original.on, process, [type, listener]);
  }
  e.fns.push(fn);
}

function forget(type: EventName): void {
  const e = events.get(type);
  if (!e) return;
  events.delete(type);
  Reflect.apply(original.removeListener, process, [type, e.listener]);
  hidden.delete(e.listener);
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const finishers: Array<(sig: NodeJS.Signals) => void> = [];
const spared: Array<(sig: NodeJS.Signals) => void> = [];

/**
 * Calls `finish(sig)` when SIGINT, SIGTERM or SIGHUP would end the program (it has no handler of
 * its own), then re-raises the signal with the default action: the exit status stays the
 * program's. When the program handles the signal itself, `handled(sig)` is called instead and
 * the program decides (its `exit` comes later).
 */
export function beforeSignalDeath(finish: (sig: NodeJS.Signals) => void, handled?: (sig: NodeJS.Signals) => void): void {
  finishers.push(finish);
  if (handled) spared.push(handled);
  if (finishers.length > 1) return;
  for (const s of SIGNALS) {
    onProcess(s, (sig: NodeJS.Signals) => {
      if (programListenerCount(sig) > 0 || justRemoved.has(sig)) {
        for (const f of spared) { try { f(sig); } catch { /* the program decides */ } }
        return;
      }
      for (const f of finishers) { try { f(sig); } catch { /* the program's exit comes first */ } }
      // With no listener left node takes its handler off, and the signal ends the program.
      for (const t of SIGNALS) forget(t);
      process.kill(process.pid, sig);
    });
  }
}
