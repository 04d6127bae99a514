// The number scanner of scan.wat, compiled (248 bytes). Regenerate after editing scan.wat:
//   wat2wasm src/snapshot/scan.wat --output=- | base64 -w0
// (wabt; the test compares this with scan.wat when wat2wasm is on PATH).

/** scan.wasm, base64. */
export const SCAN_WASM = 'AGFzbQEAAAABCAFgA39/fwF/AwIBAAUDAQAxBhADfwFBAAt/AUEAC38BQQALByUFBm1lbW9yeQIAA2N1cgMABWluTnVtAwEDYmFkAwIEc2NhbgAACqEBAZ4BAQR/IwAhBCMBIQUgAiEGQQAkAgJAA0AgACABTw0BIAAtAABBMGshAyAAQQFqIQAgA0EKSQRAIARBCmwgA2ohBEEBIQUMAQsgBQRAIAYgBDYCACAGQQRqIQZBACEEQQAhBQsgA0F8Rg0AIANBWkYNACADQXBGDQAgA0FdRg0AIANBWUYNACAAJAIMAQsLIAQkACAFJAEgBiACa0ECdgs=';

/** Bytes of input the module takes per call; its output area follows them. */
export const SCAN_INPUT_BYTES = 1024 * 1024;

// The few WebAssembly declarations used here (the project's lib is ES2022, without them).
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
};

/** The instantiated scanner's exports. */
export interface WasmScanner {
  memory: { buffer: ArrayBuffer };
  scan(p: number, end: number, out: number): number;
  cur: { value: number };
  inNum: { value: number };
  bad: { value: number };
}

let scanner: WasmScanner | null | undefined;

/** The one scanner instance (parsers are synchronous, so they can share it), or undefined. */
export function wasmScanner(): WasmScanner | undefined {
  if (scanner === undefined) {
    try {
      const mod = new WebAssembly.Module(Buffer.from(SCAN_WASM, 'base64'));
      scanner = new WebAssembly.Instance(mod).exports as unknown as WasmScanner;
    } catch {
      scanner = null;
    }
  }
  return scanner ?? undefined;
}
