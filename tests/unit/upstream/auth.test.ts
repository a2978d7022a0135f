// parseChallenge(), loadDockerCredentials() and createTokenCache(): reading `WWW-Authenticate`,
// docker config files, and keeping Bearer tokens until they expire (with an injected clock).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  basicAuth,
  type Challenge,
  createTokenCache,
  loadDockerCredentials,
  parseChallenge,
} from '../../../src/upstream/auth.ts'
import { tempDir } from '../_app.ts'

describe('parseChallenge()', () => {
  test('reads a Bearer challenge with realm, service and scope', () => {
    const header = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",' +
      'scope="repository:library/nginx:pull"'
    expect(parseChallenge(header)).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: 'repository:library/nginx:pull',
      },
    })
  })

  test('keeps commas and escaped quotes inside quoted values', () => {
    const header = 'Bearer realm="https://r.example/token",scope="repository:a/b:pull,push",' +
      'error="say \\"no\\", twice"'
    expect(parseChallenge(header)?.params).toEqual({
      realm: 'https://r.example/token',
      scope: 'repository:a/b:pull,push',
      error: 'say "no", twice',
    })
  })

  test('reads a Basic challenge and lower-cases scheme and keys', () => {
    expect(parseChallenge('Basic Realm="Registry Realm"')).toEqual({
      scheme: 'basic',
      params: { realm: 'Registry Realm' },
    })
  })

  test('reads unquoted values and spaces around `=` and `,`', () => {
    expect(parseChallenge('Bearer realm = "https://r.example/t" , service=reg')?.params).toEqual({
      realm: 'https://r.example/t',
      service: 'reg',
    })
  })

  test('returns undefined for a missing or empty header', () => {
    expect(parseChallenge(null)).toBeUndefined()
    expect(parseChallenge('')).toBeUndefined()
  })
})

describe('loadDockerCredentials()', () => {
  let dir = ''
  let remove = async () => {}
  const at = (name: string) => join(dir, name)
  const writeConfig = (name: string, auths: Record<string, unknown>) =>
    writeFile(at(name), JSON.stringify({ auths }))

  beforeAll(async () => {
    ;({ dir, remove } = await tempDir())
  })
  afterAll(() => remove())

  test('decodes base64 `auth` entries, splitting at the first colon', async () => {
    await writeConfig('auth.json', { 'quay.io': { auth: btoa('robot:pa:ss') } })
    const found = await loadDockerCredentials([at('auth.json')])
    expect(found.get('quay.io')).toEqual({ username: 'robot', password: 'pa:ss' })
  })

  test('reads `username` and `password` entries', async () => {
    await writeConfig('plain.json', { 'ghcr.io': { username: 'me', password: 'secret' } })
    const found = await loadDockerCredentials([at('plain.json')])
    expect(found.get('ghcr.io')).toEqual({ username: 'me', password: 'secret' })
  })

  test('keys https://index.docker.io/v1/ as docker.io and URLs by host:port', async () => {
    await writeConfig('hub.json', {
      'https://index.docker.io/v1/': { auth: btoa('hubuser:hubpass') },
      'http://127.0.0.1:5001/': { auth: btoa('local:pass') },
    })
    const found = await loadDockerCredentials([at('hub.json')])
    expect(Object.fromEntries(found)).toEqual({
      'docker.io': { username: 'hubuser', password: 'hubpass' },
      '127.0.0.1:5001': { username: 'local', password: 'pass' },
    })
  })

  test('the first file naming a registry wins; later files add other registries', async () => {
    await writeConfig('first.json', { 'quay.io': { auth: btoa('first:one') } })
    await writeConfig('second.json', {
      'quay.io': { auth: btoa('second:two') },
      'ghcr.io': { auth: btoa('other:three') },
    })
    const found = await loadDockerCredentials([at('first.json'), at('second.json')])
    expect(Object.fromEntries(found)).toEqual({
      'quay.io': { username: 'first', password: 'one' },
      'ghcr.io': { username: 'other', password: 'three' },
    })
  })

  test('skips files that do not exist', async () => {
    await writeConfig('present.json', { 'quay.io': { auth: btoa('u:p') } })
    const found = await loadDockerCredentials([at('missing.json'), at('present.json')])
    expect(Object.fromEntries(found)).toEqual({ 'quay.io': { username: 'u', password: 'p' } })
  })

  test('names the file it cannot parse', async () => {
    await writeFile(at('broken.json'), '{ not json')
    await expect(loadDockerCredentials([at('broken.json')])).rejects.toThrow(at('broken.json'))
  })
})

describe('createTokenCache()', () => {
  const challenge: Challenge = {
    scheme: 'bearer',
    params: { realm: 'https://auth.example/token', service: 'reg', scope: 'repository:a/b:pull' },
  }

  /** A token endpoint that hands out tok-1, tok-2, … and records what it was asked. */
  function tokenEndpoint(expiresIn: number) {
    const asked: { url: string; authorization: string | null }[] = []
    const fetchImpl = (async (url: string | URL | Request, init?: RequestInit) => {
      asked.push({
        url: String(url),
        authorization: new Headers(init?.headers).get('Authorization'),
      })
      return Response.json({ token: `tok-${asked.length}`, expires_in: expiresIn })
    }) as typeof fetch
    return { asked, fetchImpl }
  }

  test('asks the realm with service, scope and Basic credentials', async () => {
    const { asked, fetchImpl } = tokenEndpoint(60)
    const tokens = createTokenCache(fetchImpl, () => 0)
    expect(await tokens.fetch(challenge, { username: 'u', password: 'p' })).toBe('tok-1')
    const url = new URL(asked[0].url)
    expect(url.origin + url.pathname).toBe('https://auth.example/token')
    expect(url.searchParams.get('service')).toBe('reg')
    expect(url.searchParams.getAll('scope')).toEqual(['repository:a/b:pull'])
    expect(asked[0].authorization).toBe(basicAuth({ username: 'u', password: 'p' }))
  })

  test('caches a token until it expires, then the caller fetches a new one', async () => {
    let clock = 1_000_000
    const { asked, fetchImpl } = tokenEndpoint(60)
    const tokens = createTokenCache(fetchImpl, () => clock)
    const get = async () => tokens.cached(challenge) ?? await tokens.fetch(challenge)

    expect(await get()).toBe('tok-1')
    clock += 30_000
    expect(tokens.cached(challenge)).toBe('tok-1')
    expect(await get()).toBe('tok-1')
    expect(asked).toHaveLength(1)

    clock += 30_000 // 60 s after the token was issued: expired
    expect(tokens.cached(challenge)).toBeUndefined()
    expect(await get()).toBe('tok-2')
    expect(asked).toHaveLength(2)
  })

  test('a token without expires_in lives the spec default of 60 s', async () => {
    let clock = 0
    const fetchImpl =
      (async () => Response.json({ access_token: 'plain' })) as unknown as typeof fetch
    const tokens = createTokenCache(fetchImpl, () => clock)
    expect(await tokens.fetch(challenge)).toBe('plain')
    clock = 30_000
    expect(tokens.cached(challenge)).toBe('plain')
    clock = 60_000
    expect(tokens.cached(challenge)).toBeUndefined()
  })

  test('keeps tokens apart by scope', async () => {
    const { fetchImpl } = tokenEndpoint(60)
    const tokens = createTokenCache(fetchImpl, () => 0)
    const other = { ...challenge, params: { ...challenge.params, scope: 'repository:c/d:pull' } }
    await tokens.fetch(challenge)
    expect(tokens.cached(other)).toBeUndefined()
    expect(await tokens.fetch(other)).toBe('tok-2')
    expect(tokens.cached(challenge)).toBe('tok-1')
  })

  test('forget() drops a cached token', async () => {
    const { fetchImpl } = tokenEndpoint(60)
    const tokens = createTokenCache(fetchImpl, () => 0)
    await tokens.fetch(challenge)
    tokens.forget(challenge)
    expect(tokens.cached(challenge)).toBeUndefined()
  })

  test('names the endpoint when it refuses or sends no token', async () => {
    const refusing = (async () => new Response('no', { status: 401 })) as unknown as typeof fetch
    await expect(createTokenCache(refusing).fetch(challenge)).rejects.toThrow(
      'Token endpoint https://auth.example/token answered 401',
    )
    const empty = (async () => Response.json({})) as unknown as typeof fetch
    await expect(createTokenCache(empty).fetch(challenge)).rejects.toThrow('sent no token')
  })
})
