// Detects the runtime. Every runtime serves through node:http (see node-http.ts): it is the one
// path where socket-level faults behave alike under Bun, Deno and Node.
import { serveNodeHttp } from './node-http.ts'
import type { RuntimeAdapter } from './types.ts'

export type { RuntimeAdapter, ServeOptions, Server } from './types.ts'

/** The adapter of the runtime this process runs in. */
export function loadRuntime(): RuntimeAdapter {
  const g = globalThis as { Bun?: unknown; Deno?: unknown }
  const name = g.Bun ? 'bun' : g.Deno ? 'deno' : 'node'
  return { name, serve: serveNodeHttp }
}
