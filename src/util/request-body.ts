// The bytes of a request body. Under node:http the server's own stream is read directly: it is
// faster than the web stream built over it, which matters for multi-GiB blob pushes.
import type { Context } from 'hono'

/** The request body as chunks, or null when there is none. */
export function requestBody(c: Context): AsyncIterable<Uint8Array> | null {
  const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming
  if (incoming && typeof incoming === 'object' && Symbol.asyncIterator in incoming) {
    return incoming as AsyncIterable<Uint8Array>
  }
  return c.req.raw.body
}
