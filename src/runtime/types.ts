// What differs between Bun, Deno and Node: only how the process serves a socket.

/** The options of a listening server. */
export interface ServeOptions {
  fetch: (request: Request, env: unknown) => Response | Promise<Response>
  host: string
  port: number
  tls?: { cert: string; key: string }
}

/** A listening server. */
export interface Server {
  readonly url: string
  readonly port: number
  /** Stops accepting, lets requests in flight finish, and resolves when all are done. */
  close(): Promise<void>
}

/** The runtime the process runs in. */
export interface RuntimeAdapter {
  readonly name: 'bun' | 'deno' | 'node'
  serve(options: ServeOptions): Promise<Server>
}
