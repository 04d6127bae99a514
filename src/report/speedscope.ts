// The speedscope file format (https://www.speedscope.app/file-format-schema.json): sampled
// profiles weighted in bytes, the frames shared between them.

/** One stack of a profile, outermost frame first, and its weight in bytes. */
export interface WeightedStack {
  frames: string[];
  bytes: number;
}

/** Sampled profiles in bytes as one speedscope file; stacks of no weight are left out. */
export function speedscopeBytes(name: string, exporter: string, profiles: Array<{ name: string; stacks: WeightedStack[] }>): Record<string, unknown> {
  const frames: Array<{ name: string }> = [];
  const ids = new Map<string, number>();
  const frameId = (f: string) => {
    let id = ids.get(f);
    if (id === undefined) { id = frames.length; frames.push({ name: f }); ids.set(f, id); }
    return id;
  };
  return {
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    exporter,
    name,
    activeProfileIndex: 0,
    shared: { frames },
    profiles: profiles.map((p) => {
      const kept = p.stacks.filter((s) => s.bytes > 0);
      const weights = kept.map((s) => Math.round(s.bytes));
      return { type: 'sampled', name: p.name, unit: 'bytes', startValue: 0, endValue: weights.reduce((a, b) => a + b, 0), samples: kept.map((s) => s.frames.map(frameId)), weights };
    }),
  };
}
