// The OCI Distribution API for the repositories that accept pushes: dispatches a parsed route
// and method to its handler.
import type { Context } from 'hono'
import { deleteBlob, getBlob } from './blobs.ts'
import { jsonResponse } from './constants.ts'
import { RegistryError } from './errors.ts'
import { listCatalog, listReferrers, listTags } from './lists.ts'
import { deleteManifest, getManifest, putManifest } from './manifests.ts'
import type { Route } from './routes.ts'
import type { RegistryDeps } from './types.ts'
import { createUploads } from './uploads.ts'

export type { RegistryDeps } from './types.ts'
export { parseRoute, type Route } from './routes.ts'
export { RegistryError } from './errors.ts'

type Handler = (c: Context) => Promise<Response>

/** Builds the handler of every repository-level endpoint over one set of dependencies. */
export function createRegistry(deps: RegistryDeps) {
  const uploads = createUploads(deps)

  /** The handlers of a route, by method; HEAD is served by GET. */
  const handlersOf = (route: Route): Record<string, Handler> => {
    switch (route.kind) {
      case 'base':
        return { GET: async () => jsonResponse({}) }
      case 'catalog':
        return { GET: (c) => listCatalog(c, deps) }
      case 'tags':
        return { GET: (c) => listTags(c, deps, route.name) }
      case 'manifest': {
        const { name, reference } = route
        return {
          GET: (c) => getManifest(c, deps, name, reference),
          PUT: (c) => putManifest(c, deps, name, reference),
          DELETE: (c) => deleteManifest(c, deps, name, reference),
        }
      }
      case 'blob':
        return {
          GET: (c) => getBlob(c, deps, route.name, route.digest),
          DELETE: (c) => deleteBlob(c, deps, route.name, route.digest),
        }
      case 'upload': {
        const { name, id } = route
        if (id === undefined) return { POST: (c) => uploads.start(c, name) }
        return {
          GET: (c) => uploads.status(c, name, id),
          PATCH: (c) => uploads.patch(c, name, id),
          PUT: (c) => uploads.put(c, name, id),
          DELETE: (c) => uploads.cancel(c, name, id),
        }
      }
      case 'referrers':
        return { GET: (c) => listReferrers(c, deps, route.name, route.digest) }
    }
  }

  return {
    /** Answers one request for a parsed route. */
    handle(c: Context, route: Route): Promise<Response> {
      const handlers = handlersOf(route)
      const handler = handlers[c.req.method === 'HEAD' ? 'GET' : c.req.method]
      if (!handler) {
        throw new RegistryError('UNSUPPORTED', {
          message: `${c.req.method} is not supported here; use ${Object.keys(handlers).join(', ')}`,
          headers: { Allow: Object.keys(handlers).join(', ') },
        })
      }
      return handler(c)
    },
  }
}
