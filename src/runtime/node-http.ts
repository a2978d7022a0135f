// Serves the app through node:http (or node:https) with @hono/node-server. Responses whose body
// is a marked file range skip the web-stream machinery and go from the file to the socket.
import { createAdaptorServer } from '@hono/node-server'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { open } from 'node:fs/promises'
import { createServer as createHttpServer, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { fileBodyOf } from '../util/file-body.ts'
import { sendFile } from './send-file.ts'
import type { ServeOptions, Server } from './types.ts'

/** How long a shutdown waits for requests in flight before it cuts their connections. */
const DRAIN_MS = 10_000

/** Starts listening; resolves once the socket is bound. */
export async function serveNodeHttp(options: ServeOptions): Promise<Server> {
  const fetch = async (request: Request, env: { outgoing: ServerResponse }) => {
    const response = await options.fetch(request, env)
    const file = fileBodyOf(response)
    if (!file) return response
    const handle = await open(file.path).catch(() => undefined)
    // Gone since the app looked (gc removed it): asked again, the app knows, and says so.
    if (!handle) return request.method === 'GET' ? options.fetch(request, env) : response
    sendFile(env.outgoing, response.status, Object.fromEntries(response.headers), handle, file)
    return RESPONSE_ALREADY_SENT
  }
  const server = createAdaptorServer(
    {
      fetch: fetch as never,
      hostname: options.host,
      ...(options.tls
        ? { createServer: createHttpsServer, serverOptions: options.tls }
        : { createServer: createHttpServer }),
    } as Parameters<typeof createAdaptorServer>[0],
  )
  const http = server as import('node:http').Server
  // Long pushes and deliberately slow answers must not be cut by the server's own timers.
  http.requestTimeout = 0
  http.timeout = 0
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  const host = options.host.includes(':') ? `[${options.host}]` : options.host
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => http.closeAllConnections?.(), DRAIN_MS)
        // Connections go idle as their last answers finish; keep-alive must not hold them open.
        const sweep = setInterval(() => http.closeIdleConnections?.(), 50)
        server.close(() => {
          clearTimeout(force)
          clearInterval(sweep)
          resolve()
        })
        http.closeIdleConnections?.()
      }),
  }
}
