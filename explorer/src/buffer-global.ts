/**
 * lib/canonical-reading.ts and lib/merkle.ts build bytes with Node's Buffer (their hot path in the
 * member node). In the browser the same code runs over the `buffer` package, Node's Buffer API in
 * plain JavaScript; this module must be imported before them.
 */
import { Buffer as BrowserBuffer } from "buffer";

const g = globalThis as { Buffer?: unknown };
g.Buffer ??= BrowserBuffer;
