// Credentials and tokens for upstream registries: docker config files, `WWW-Authenticate`
// challenges, the Bearer token flow with a cache of tokens until they expire, and Basic.
// https://distribution.github.io/distribution/spec/auth/token/
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { RegistryError } from '../registry/errors.ts'
import { DOCKER_HUB } from './reference.ts'

/** A username and password (or token) for one registry. */
export interface Credentials {
  username: string
  password: string
}

/** A parsed `WWW-Authenticate` challenge. */
export interface Challenge {
  scheme: string
  params: Record<string, string>
}

/** Parses `Bearer realm="…",service="…",scope="…"`; undefined for a header it cannot read. */
export function parseChallenge(header: string | null): Challenge | undefined {
  const match = header && /^\s*(\w+)\s*(.*)$/s.exec(header)
  if (!match) return undefined
  const params: Record<string, string> = {}
  for (
    const [, key, quoted, bare] of match[2].matchAll(
      /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g,
    )
  ) {
    params[key.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare
  }
  return { scheme: match[1].toLowerCase(), params }
}

/** Where docker, podman and skopeo keep credentials, in the order they are read. */
export function dockerConfigPaths(env: Record<string, string | undefined>): string[] {
  const home = env.HOME ?? env.USERPROFILE ?? ''
  return [
    env.REGISTRY_AUTH_FILE,
    env.DOCKER_CONFIG && join(env.DOCKER_CONFIG, 'config.json'),
    home && join(home, '.docker', 'config.json'),
    env.XDG_RUNTIME_DIR && join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'),
  ].filter((p): p is string => Boolean(p))
}

/** Reads `auths` entries from the first docker config files that exist, keyed by registry. */
export async function loadDockerCredentials(paths: string[]): Promise<Map<string, Credentials>> {
  const found = new Map<string, Credentials>()
  for (const path of paths) {
    let config: { auths?: Record<string, { auth?: string; username?: string; password?: string }> }
    try {
      config = JSON.parse(await readFile(path, 'utf8'))
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') continue
      throw new Error(`Cannot read credentials from ${path}: ${(err as Error).message}`)
    }
    for (const [key, entry] of Object.entries(config.auths ?? {})) {
      const registry = registryOfAuthKey(key)
      if (found.has(registry)) continue
      const decoded = entry.auth ? atob(entry.auth) : undefined
      const colon = decoded?.indexOf(':') ?? -1
      const username = decoded ? decoded.slice(0, colon) : entry.username
      const password = decoded ? decoded.slice(colon + 1) : entry.password
      if (username !== undefined && password !== undefined) {
        found.set(registry, { username, password })
      }
    }
  }
  return found
}

/** `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/` → `host:5000`. */
function registryOfAuthKey(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '').toLowerCase()
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? DOCKER_HUB : host
}

/** A Basic `Authorization` header value. */
export const basicAuth = ({ username, password }: Credentials) =>
  `Basic ${btoa(`${username}:${password}`)}`

interface CachedToken {
  token: string
  expiresAt: number
}

/** The part of `fetch` the upstream code uses. */
export type Fetch = (input: URL, init?: RequestInit) => Promise<Response>

/** Tokens from Bearer token endpoints, cached per realm, service and scope until they expire. */
export function createTokenCache(fetchImpl: Fetch, now: () => number = Date.now) {
  const tokens = new Map<string, CachedToken>()
  const keyOf = (c: Challenge) =>
    `${c.params.realm}|${c.params.service ?? ''}|${c.params.scope ?? ''}`

  return {
    /** A token still valid for this challenge, if one is cached. */
    cached(challenge: Challenge): string | undefined {
      const hit = tokens.get(keyOf(challenge))
      return hit && hit.expiresAt > now() ? hit.token : undefined
    },
    /** Forgets a token the registry refused. */
    forget(challenge: Challenge) {
      tokens.delete(keyOf(challenge))
    },
    /**
     * Asks the token endpoint for a token, with credentials when there are some. A refusal is
     * UNAUTHORIZED; any other failure UNAVAILABLE, so a cached copy can still be served.
     */
    async fetch(challenge: Challenge, credentials?: Credentials): Promise<string> {
      const { realm, service, scope } = challenge.params
      const fail = (message: string, status = 502) =>
        new RegistryError(status === 401 ? 'UNAUTHORIZED' : 'UNAVAILABLE', {
          status: status as 502,
          message,
        })
      if (!realm) throw fail('Bearer challenge without a realm')
      let url: URL
      try {
        url = new URL(realm)
      } catch {
        throw fail(`Bearer challenge with an invalid realm "${realm}"`)
      }
      if (service) url.searchParams.set('service', service)
      for (const s of (scope ?? '').split(' ').filter(Boolean)) url.searchParams.append('scope', s)
      const headers: Record<string, string> = {}
      if (credentials) headers.Authorization = basicAuth(credentials)
      const res = await fetchImpl(url, { headers })
      const endpoint = `Token endpoint ${url.origin}${url.pathname}`
      if (!res.ok) {
        const refused = res.status === 401 || res.status === 403
        throw fail(`${endpoint} answered ${res.status}`, refused ? 401 : 502)
      }
      const body = await res.json().catch(() => ({})) as {
        token?: string
        access_token?: string
        expires_in?: number
      }
      const token = body.token ?? body.access_token
      if (!token) throw fail(`${endpoint} sent no token`)
      // The spec's default lifetime is 60 s; renew a little early so a pull never sends a stale one.
      const lifetime = (body.expires_in ?? 60) * 1000
      tokens.set(keyOf(challenge), { token, expiresAt: now() + lifetime * 0.9 })
      return token
    },
  }
}
