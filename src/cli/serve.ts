// `broken-reg serve`: builds config → hasher → storage → app → server, logs where it listens,
// and runs until SIGINT or SIGTERM, letting requests in flight finish.
import { readFile } from 'node:fs/promises'
import { createApp } from '../app.ts'
import { type Config, resolveConfig, SERVE_OPTIONS } from '../config.ts'
import { loadHasher } from '../crypto/index.ts'
import { createLogger } from '../log.ts'
import { loadRuntime } from '../runtime/index.ts'
import { openStorage } from '../storage/index.ts'
import { dockerConfigPaths, loadDockerCredentials } from '../upstream/auth.ts'
import { createUpstreamClient } from '../upstream/client.ts'
import { createHostGuard } from '../upstream/guard.ts'
import { isLoopbackHost } from '../upstream/reference.ts'
import type { Command, Io } from './types.ts'

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Run the registry',
  usage: 'broken-reg serve [options]',
  options: SERVE_OPTIONS,
  async run({ values }, io) {
    const config = resolveConfig(values, io.env)
    const server = await start(config, io)
    io.stdout(
      `listening on ${server.url} runtime=${server.runtime} storage=${config.storage} ` +
        `hasher=${server.hasher}`,
    )
    await io.untilSignal()
    io.stderr('shutting down: finishing requests in flight')
    await server.close()
    return 0
  },
}

/** The app over the configured store and upstreams; `seed` uses it too, without a socket. */
export async function createConfiguredApp(
  config: Config,
  io: Io,
  options: { trustUpstreams?: boolean } = {},
) {
  const log = createLogger(config.logFormat, io.stderr)
  const hasher = await loadHasher(config.hasher)
  const storage = await openStorage(config.storage, config.dataDir)
  const credentials = await loadDockerCredentials(dockerConfigPaths(io.env))
  // The guard keeps remote clients out of the server's network; a local seed needs none.
  const guard = options.trustUpstreams ? async () => {} : createHostGuard({
    allow: config.allowedUpstreams,
    allowLoopback: isLoopbackHost(config.host),
  })
  const client = createUpstreamClient({
    fetch,
    credentials: (registry) => credentials.get(registry),
    insecure: config.insecureUpstreams,
    guard,
  })
  const app = createApp({
    storage,
    hasher,
    log,
    manifestLimit: config.manifestLimit,
    validate: config.validate,
    catalogDelayMs: config.catalogDelayMs,
    catalogFakeRepos: config.catalogFakeRepos,
    warnings: config.warnings,
    upstream: { client, defaultRegistry: config.upstream, cacheTtlMs: config.cacheTtlMs },
  })
  return { app, storage, hasher, manifestLimit: config.manifestLimit, validate: config.validate }
}

async function start(config: Config, io: Io) {
  const runtime = loadRuntime()
  const { app, hasher } = await createConfiguredApp(config, io)
  const tls = config.tls && {
    cert: await readFile(config.tls.certFile, 'utf8'),
    key: await readFile(config.tls.keyFile, 'utf8'),
  }
  const server = await runtime.serve({
    fetch: app.fetch,
    host: config.host,
    port: config.port,
    tls,
  })
  return { ...server, close: server.close, runtime: runtime.name, hasher: hasher.name }
}
