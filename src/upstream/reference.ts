// Which upstream registry and repository a proxied name means, as the original tool routed it:
// the first path component is the host when it contains `.` or `:` or is `localhost`,
// otherwise the default upstream (quay.io) serves the whole name.

/** Docker Hub's name in references, and the host its API answers on. */
export const DOCKER_HUB = 'docker.io'
export const DOCKER_HUB_API = 'registry-1.docker.io'

/** An upstream repository. */
export interface UpstreamRef {
  /** The registry as named in references: `docker.io`, `127.0.0.1:5001`. */
  registry: string
  /** The host:port the API is reached on: `registry-1.docker.io` for Docker Hub. */
  host: string
  /** The repository on that registry: `library/nginx`. */
  repository: string
  /** Where this server caches it: `<registry>/<repository>`, the same for every spelling. */
  cacheName: string
}

/** Splits a proxied repository name into upstream registry and repository. */
export function parseUpstreamName(name: string, defaultRegistry: string): UpstreamRef {
  const slash = name.indexOf('/')
  const first = slash < 0 ? '' : name.slice(0, slash)
  const explicit = first.includes('.') || first.includes(':') || first === 'localhost'
  const registry = normalizeRegistry(explicit ? first : defaultRegistry)
  let repository = explicit ? name.slice(slash + 1) : name
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`
  const host = registry === DOCKER_HUB ? DOCKER_HUB_API : registry
  return { registry, host, repository, cacheName: `${registry}/${repository}` }
}

function normalizeRegistry(registry: string): string {
  const lower = registry.toLowerCase()
  return lower === 'index.docker.io' || lower === DOCKER_HUB_API ? DOCKER_HUB : lower
}

/** Whether a host (with or without port) names this machine. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\](:\d+)?$/, '$1').replace(/^([^:]*):\d+$/, '$1')
  return bare === 'localhost' || bare === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(bare)
}
