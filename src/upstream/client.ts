// The HTTP client of upstream registries: scheme choice, the host guard, redirects (without
// leaking credentials to another origin) and authentication by challenge.
import { RegistryError } from '../registry/errors.ts'
import {
  basicAuth,
  type Challenge,
  createTokenCache,
  type Credentials,
  type Fetch,
  parseChallenge,
} from './auth.ts'
import { isLoopbackHost, type UpstreamRef } from './reference.ts'

const MAX_REDIRECTS = 5

/** What the client needs from outside. */
export interface UpstreamClientOptions {
  fetch: Fetch
  credentials: (registry: string) => Credentials | undefined
  /** Hosts reached over plain HTTP; loopback hosts always are. */
  insecure: readonly string[]
  /** Throws for hosts the server must not reach. */
  guard: (host: string) => Promise<void>
}

/** A client that sends authenticated requests to upstream repositories. */
export type UpstreamClient = ReturnType<typeof createUpstreamClient>

/** Creates the upstream client. */
export function createUpstreamClient(options: UpstreamClientOptions) {
  const tokens = createTokenCache((url, init) => guarded(new URL(String(url)), init))
  // The last challenge of each repository, so later requests authenticate up front.
  const challenges = new Map<string, Challenge>()
  const insecure = new Set(options.insecure.map((h) => h.toLowerCase()))

  const schemeOf = (host: string) =>
    insecure.has(host.toLowerCase()) || isLoopbackHost(host) ? 'http' : 'https'

  async function guarded(url: URL, init?: RequestInit) {
    await options.guard(url.host)
    try {
      return await options.fetch(url, init)
    } catch (err) {
      throw new RegistryError('UNAVAILABLE', {
        status: 502,
        message: `Upstream ${url.host} is unreachable: ${(err as Error).message}`,
        detail: { host: url.host },
      })
    }
  }

  /** Sends a request, following redirects itself so credentials stay with their origin. */
  async function send(url: URL, init: RequestInit, authorization?: string): Promise<Response> {
    for (let hop = 0;; hop++) {
      const headers = new Headers(init.headers)
      if (authorization) headers.set('Authorization', authorization)
      const res = await guarded(url, { ...init, headers, redirect: 'manual' })
      const location = res.headers.get('Location')
      if (res.status < 300 || res.status >= 400 || !location || hop === MAX_REDIRECTS) return res
      await res.body?.cancel()
      const next = new URL(location, url)
      if (next.origin !== url.origin) authorization = undefined
      url = next
    }
  }

  async function authorization(ref: UpstreamRef, challenge: Challenge | undefined, fresh: boolean) {
    if (!challenge) return undefined
    const credentials = options.credentials(ref.registry)
    if (challenge.scheme === 'basic') return credentials && basicAuth(credentials)
    if (challenge.scheme !== 'bearer') return undefined
    if (fresh) tokens.forget(challenge)
    const token = tokens.cached(challenge) ?? await tokens.fetch(challenge, credentials)
    return `Bearer ${token}`
  }

  return {
    /** Sends `method` to `/v2/<repository>/<path>` of the upstream, authenticating as asked. */
    async request(ref: UpstreamRef, path: string, init: RequestInit = {}): Promise<Response> {
      const url = new URL(`${schemeOf(ref.host)}://${ref.host}/v2/${ref.repository}/${path}`)
      const key = `${ref.host}/${ref.repository}`
      let res = await send(url, init, await authorization(ref, challenges.get(key), false))
      if (res.status !== 401) return res
      const challenge = parseChallenge(res.headers.get('WWW-Authenticate'))
      if (!challenge) return res
      if (challenge.scheme === 'bearer') {
        challenge.params.scope ??= `repository:${ref.repository}:pull`
      }
      challenges.set(key, challenge)
      const retry = await authorization(ref, challenge, true)
      if (!retry) return res
      await res.body?.cancel()
      res = await send(url, init, retry)
      return res
    },
  }
}
