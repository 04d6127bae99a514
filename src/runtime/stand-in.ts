// A function memtrace puts in place of one of node's own (a proxy that samples its calls) must
// look like the original to the program: its source, and the frames of an error it throws.
// Runs inside the traced program: imports nothing.

const originals = new WeakMap<object, object>();
const rewrites: Array<(source: string) => string> = [];
let installed = false;

/**
 * Makes Function.prototype.toString of `standIn` read the source of `original`. The replacement
 * toString looks native (same name, length and attributes; its own source reads `[native code]`)
 * and passes every other function on to the toString it replaced.
 */
export function showSourceOf(standIn: object, original: object): void {
  originals.set(standIn, original);
  installToString();
}

/** Passes every source Function.prototype.toString gives through `rewrite` (e.g. to take out probes). */
export function rewriteSources(rewrite: (source: string) => string): void {
  rewrites.push(rewrite);
  installToString();
}

// One replacement serves every stand-in and rewrite: toString is replaced once per process.
function installToString(): void {
  if (installed) return;
  installed = true;
  const previous = Function.prototype.toString;
  const replacement = {
    toString(this: unknown): string {
      if (this === replacement) return Reflect.apply(previous, previous, []) as string;
      const target = (typeof this === 'function' && originals.get(this)) || this;
      let source = Reflect.apply(previous, target, []) as string;
      for (const rewrite of rewrites) source = rewrite(source);
      return source;
    },
  }.toString;
  const d = Object.getOwnPropertyDescriptor(Function.prototype, 'toString')!;
  Object.defineProperty(Function.prototype, 'toString', { ...d, value: replacement });
}

/**
 * Takes the lines naming `moduleUrl` out of a thrown error's stack, so an error thrown through a
 * stand-in reads as if the original had been called directly. The stack is formatted now (with
 * the program's own Error.prepareStackTrace); one that is not a string is left as it is.
 */
export function hideFramesOf(error: unknown, moduleUrl: string): void {
  if (typeof error !== 'object' || error === null) return;
  try {
    const stack = (error as { stack?: unknown }).stack;
    // An ES module's frames name its URL, a CommonJS script's (the probe's bundle) its path.
    const path = moduleUrl.startsWith('file://') ? decodeURIComponent(moduleUrl.slice(7)) : moduleUrl;
    const ours = (l: string) => l.includes(moduleUrl) || l.includes(path);
    if (typeof stack !== 'string' || !ours(stack)) return;
    (error as { stack: string }).stack = stack.split('\n').filter((l) => !ours(l)).join('\n');
  } catch {
    // a stack that cannot be read or written stays as it is
  }
}
