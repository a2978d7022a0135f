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
import type { Command } from './types.ts'

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

async function start(config: Config, io: Parameters<Command['run']>[1]) {
  const log = createLogger(config.logFormat, io.stderr)
  const runtime = loadRuntime()
  const hasher = await loadHasher(config.hasher)
  const storage = await openStorage(config.storage, config.dataDir)
  const credentials = await loadDockerCredentials(dockerConfigPaths(io.env))
  const client = createUpstreamClient({
    fetch,
    credentials: (registry) => credentials.get(registry),
    insecure: config.insecureUpstreams,
    guard: createHostGuard({
      allow: config.allowedUpstreams,
      allowLoopback: isLoopbackHost(config.host),
    }),
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
  const tls = config.tls && {
    cert: await readFile(config.tls.certFile, 'utf8'),
    key: await readFile(config.tls.keyFile, 'utf8'),
  }
  const server = await runtime.serve({ fetch: app.fetch, host: config.host, port: config.port, tls })
  return { ...server, close: server.close, runtime: runtime.name, hasher: hasher.name }
}
