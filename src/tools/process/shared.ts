/** Layout of the memory shared between monitorProcess() and its sampling thread. */
export const SLOT = {
  /** Int32 index: seqlock counter of the V8 figures (odd while being written). */
  SEQ: 0,
  /** Int32 index: set to 1 by the main thread to ask for a final flush. */
  FLUSH: 1,
  /** Int32 index: set to 1 by the sampling thread once the log is complete. */
  ACK: 2,
  /** Byte offset of the Float64 figures: [epochMs, heapUsed, heapTotal, external, arrayBuffers]. */
  F64_OFFSET: 16,
  /** Total bytes. */
  BYTES: 16 + 5 * 8,
} as const;

/** What the sampling thread is started with. */
export interface WorkerInit {
  pid: number;
  intervalMs: number;
  output: string;
  children: boolean;
  detail: boolean;
  v8: boolean;
  staleMs: number;
  t0: number;
  shared: SharedArrayBuffer;
}
