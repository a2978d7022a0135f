// createApp(deps): the Hono app, built from injected adapters only, so it runs in any runtime
// and in tests without a socket. It routes `/v2/` requests: broken/prepared to the registry,
// broken/<scenario> to its scenario, anything else is not served (yet).
import { Hono } from 'hono'
import { createStats, mountAdmin } from './admin/index.ts'
import type { Logger } from './log.ts'
import { API_VERSION, HEADER, jsonResponse, PREPARED_REPOSITORY } from './registry/constants.ts'
import { createRegistry, parseRoute, RegistryError } from './registry/index.ts'
import type { RegistryDeps, Route } from './registry/index.ts'
import {
  createScenarioRunner,
  findScenario,
  SCENARIO_PREFIX,
  SCENARIOS,
} from './scenarios/index.ts'
import { createProxy, type ProxyOptions } from './upstream/proxy.ts'
import { sleep } from './util/sleep.ts'

/** A `Warning: 299` header added to responses with a probability, as the original's option. */
export interface WarningRule {
  probability: number
  message: string
}

/** Everything the app needs from outside. */
export interface AppDeps extends RegistryDeps {
  log: Logger
  /** Stall `/v2/_catalog` this long (V2_CATALOG_DELAY). */
  catalogDelayMs?: number
  /** Answer `/v2/_catalog` with this many fabricated repositories (V2_CATALOG_NUM_REPOS). */
  catalogFakeRepos?: number
  warnings?: WarningRule[]
  /** Source of randomness for warnings; Math.random unless a test pins it. */
  random?: () => number
  /** The pull-through cache of upstream registries; without it other names are unknown. */
  upstream?: ProxyOptions
}

/** Builds the registry's HTTP application. */
export function createApp(deps: AppDeps): Hono {
  const { log, warnings = [], random = Math.random } = deps
  const registry = createRegistry(deps)
  const stats = createStats()
  const runScenario = createScenarioRunner(deps, registry.handle, stats)
  const proxy = deps.upstream && createProxy(deps, deps.upstream)
  const app = new Hono()

  app.use('*', async (c, next) => {
    const started = performance.now()
    stats.requestsInFlight++
    try {
      await next()
    } finally {
      stats.requestsInFlight--
      stats.requestsTotal++
    }
    c.res.headers.set(HEADER.apiVersion, API_VERSION)
    const roll = warnings.length ? random() : 1
    for (const w of warnings) {
      if (w.probability > roll) c.res.headers.append('Warning', `299 - "${w.message}"`)
    }
    log.info('request', {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      bytes: Number(c.res.headers.get('Content-Length') ?? 0),
      ms: Math.round((performance.now() - started) * 10) / 10,
    })
  })

  mountAdmin(app, stats)

  app.all('/v2/*', async (c) => {
    const route = parseRoute(c.req.path)
    if (!route) {
      throw new RegistryError('NOT_FOUND', { message: `No endpoint at ${c.req.path}` })
    }
    if (route.kind === 'catalog') return catalog(c.req.raw.signal, () => registry.handle(c, route))
    if (!('name' in route) || isPrepared(route.name)) return registry.handle(c, route)
    const scenario = findScenario(route.name)
    if (scenario) return runScenario(c, scenario, route)
    const readable = c.req.method === 'GET' || c.req.method === 'HEAD'
    if (proxy && readable && !route.name.startsWith(SCENARIO_PREFIX)) return proxy.handle(c, route)
    return outsidePrepared(c.req.method, route)
  })
  app.all('/v2', () => jsonResponse({}))

  /** The catalog, stalled and fabricated as the original tool's environment asked. */
  async function catalog(signal: AbortSignal, correct: () => Promise<Response>) {
    if (deps.catalogDelayMs) await sleep(deps.catalogDelayMs, signal)
    const count = deps.catalogFakeRepos ?? 0
    if (count <= 0) return correct()
    const repositories = Array.from({ length: count }, (_, i) => `/repo/path${i}`)
    return jsonResponse({ repositories: [...repositories, '/repo/last'] })
  }

  app.notFound((c) => {
    const e = new RegistryError('NOT_FOUND', { message: `No endpoint at ${c.req.path}` })
    return jsonResponse(e.toBody(), e.status)
  })
  app.onError((err, c) => {
    // A client that went away during a delay gets no answer; 499 is for the log alone.
    if (err instanceof Error && err.name === 'AbortError') {
      return new Response(null, { status: 499 })
    }
    const e = err instanceof RegistryError ? err : new RegistryError('UNKNOWN', {}, err)
    if (e.code === 'UNKNOWN') {
      log.error('unhandled', { method: c.req.method, path: c.req.path }, err)
    }
    return jsonResponse(e.toBody(), e.status, e.extra.headers)
  })
  return app
}

const isPrepared = (name: string) =>
  name === PREPARED_REPOSITORY || name.startsWith(`${PREPARED_REPOSITORY}/`)

/** Repositories outside broken/prepared take no pushes; unknown scenarios are named as such. */
function outsidePrepared(method: string, route: Route & { name: string }): never {
  if (method !== 'GET' && method !== 'HEAD') {
    throw new RegistryError('UNSUPPORTED', {
      message: `Pushes go to ${PREPARED_REPOSITORY} or below it (${PREPARED_REPOSITORY}/<name>), ` +
        `not to ${route.name}`,
      detail: { name: route.name },
    })
  }
  const hint = route.name.startsWith(SCENARIO_PREFIX)
    ? `; scenarios are ${SCENARIOS.map((s) => SCENARIO_PREFIX + s.name).join(', ')}`
    : ''
  throw new RegistryError('NAME_UNKNOWN', {
    message: `Repository ${route.name} is not known to this registry${hint}`,
    detail: { name: route.name },
  })
}
