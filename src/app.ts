// createApp(deps): the Hono app, built from injected adapters only, so it runs in any runtime
// and in tests without a socket.
import { Hono } from 'hono'
import type { Logger } from './log.ts'
import { createRegistry, parseRoute, RegistryError } from './registry/index.ts'
import type { RegistryDeps, Route } from './registry/index.ts'
import { API_VERSION, HEADER, jsonResponse, PREPARED_REPOSITORY } from './registry/constants.ts'

/** Everything the app needs from outside. */
export interface AppDeps extends RegistryDeps {
  log: Logger
}

/** Builds the registry's HTTP application. */
export function createApp(deps: AppDeps): Hono {
  const { log } = deps
  const registry = createRegistry(deps)
  const app = new Hono()

  app.use('*', async (c, next) => {
    const started = performance.now()
    await next()
    c.res.headers.set(HEADER.apiVersion, API_VERSION)
    log.info('request', {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      bytes: Number(c.res.headers.get('Content-Length') ?? 0),
      ms: Math.round((performance.now() - started) * 10) / 10,
    })
  })

  app.all('/v2/*', (c) => {
    const route = parseRoute(c.req.path)
    if (!route) {
      throw new RegistryError('NOT_FOUND', { message: `No endpoint at ${c.req.path}` })
    }
    if ('name' in route && !isPrepared(route.name)) return outsidePrepared(c.req.method, route)
    return registry.handle(c, route)
  })
  app.all('/v2', () => jsonResponse({}))

  app.notFound((c) => {
    const e = new RegistryError('NOT_FOUND', { message: `No endpoint at ${c.req.path}` })
    return jsonResponse(e.toBody(), e.status)
  })
  app.onError((err, c) => {
    const e = err instanceof RegistryError ? err : new RegistryError('UNKNOWN', {}, err)
    if (e.code === 'UNKNOWN') log.error('unhandled', { method: c.req.method, path: c.req.path }, err)
    return jsonResponse(e.toBody(), e.status, e.extra.headers)
  })
  return app
}

const isPrepared = (name: string) =>
  name === PREPARED_REPOSITORY || name.startsWith(`${PREPARED_REPOSITORY}/`)

/** Repositories outside `broken/prepared` take no pushes, and hold nothing yet. */
function outsidePrepared(method: string, route: Route & { name: string }): never {
  if (method !== 'GET' && method !== 'HEAD') {
    throw new RegistryError('UNSUPPORTED', {
      message: `Pushes go to ${PREPARED_REPOSITORY} or below it (${PREPARED_REPOSITORY}/<name>), ` +
        `not to ${route.name}`,
      detail: { name: route.name },
    })
  }
  throw new RegistryError('NAME_UNKNOWN', {
    message: `Repository ${route.name} is not known to this registry`,
    detail: { name: route.name },
  })
}
