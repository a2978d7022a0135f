// The proxy in process, against fake upstreams: the edges a real registry rarely shows.
import { describe, expect, test } from 'bun:test'
import { createApp } from '../../../src/app.ts'
import { nativeHasher } from '../../../src/crypto/native.ts'
import { silentLogger } from '../../../src/log.ts'
import { createMemoryStorage } from '../../../src/storage/memory.ts'
import { createUpstreamClient } from '../../../src/upstream/client.ts'
import { blobOf, sha256 } from '../_image.ts'

const UPSTREAM = 'registry.test'
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json'
const DOCKER_IMAGE = 'application/vnd.docker.distribution.manifest.v2+json'

type Handler = (req: Request) => Response | Promise<Response>

/** A proxy whose upstream is `handler`; `now` moves the proxy's clock. */
function proxyOver(handler: Handler, options: { idleTimeoutMs?: number } = {}) {
  let clock = Date.now()
  const storage = createMemoryStorage()
  const client = createUpstreamClient({
    fetch: async (url, init) => await handler(new Request(url, init)),
    credentials: () => undefined,
    insecure: [],
    guard: async () => {},
  })
  const app = createApp({
    storage,
    hasher: nativeHasher,
    log: silentLogger,
    manifestLimit: 4 << 20,
    validate: true,
    upstream: { client, defaultRegistry: UPSTREAM, cacheTtlMs: 1000, now: () => clock, ...options },
  })
  return { app, storage, advance: (ms: number) => void (clock += ms) }
}

const json = (value: unknown, type: string, status = 200, headers: Record<string, string> = {}) => {
  const body = JSON.stringify(value)
  return new Response(body, {
    status,
    headers: { 'Content-Type': type, 'Docker-Content-Digest': sha256(body), ...headers },
  })
}

describe('proxied manifests', () => {
  test('a tag that would address another file is refused before anything is touched', async () => {
    let asked = 0
    const { app, storage } = proxyOver(() => (asked++, json({}, DOCKER_IMAGE)))
    const res = await app.request('/v2/team/app/manifests/..%2F..%2Fbroken%2Fprepared%2Ft')
    expect(res.status).toBe(400)
    expect(asked).toBe(0)
    expect(await storage.listRepositories()).toEqual([])
  })

  test('a cached form the client cannot read is asked for again', async () => {
    const list = { schemaVersion: 2, mediaType: DOCKER_LIST, manifests: [] }
    const image = { schemaVersion: 2, mediaType: DOCKER_IMAGE, config: {}, layers: [] }
    const { app } = proxyOver((req) =>
      req.headers.get('Accept')?.includes(DOCKER_LIST)
        ? json(list, DOCKER_LIST)
        : json(image, DOCKER_IMAGE)
    )
    const first = await app.request('/v2/team/app/manifests/1', {
      headers: { Accept: DOCKER_IMAGE },
    })
    expect(first.headers.get('Content-Type')).toBe(DOCKER_IMAGE)
    const accept = `${DOCKER_LIST}, ${DOCKER_IMAGE}`
    const second = await app.request('/v2/team/app/manifests/1', {
      headers: { Accept: DOCKER_LIST },
    })
    expect(second.headers.get('Content-Type')).toBe(DOCKER_LIST)
    const third = await app.request('/v2/team/app/manifests/1', { headers: { Accept: accept } })
    expect(third.headers.get('Content-Type')).toBe(DOCKER_LIST)
  })

  test('a failing token endpoint still lets a cached tag be served, stale', async () => {
    const image = { schemaVersion: 2, mediaType: DOCKER_IMAGE, config: {}, layers: [] }
    let tokens = 'ok'
    const { app, advance } = proxyOver((req) => {
      const url = new URL(req.url)
      if (url.pathname === '/token') {
        return tokens === 'ok'
          ? Response.json({ token: 't', expires_in: 1 })
          : new Response('', { status: 503 })
      }
      if (req.headers.get('Authorization') !== 'Bearer t') {
        return new Response('', {
          status: 401,
          headers: { 'WWW-Authenticate': `Bearer realm="https://${UPSTREAM}/token",service="s"` },
        })
      }
      return json(image, DOCKER_IMAGE)
    })
    expect((await app.request('/v2/team/app/manifests/1')).status).toBe(200)
    tokens = 'down'
    advance(5000)
    await Bun.sleep(1100) // the token's own lifetime is on the real clock
    const res = await app.request('/v2/team/app/manifests/1')
    expect(res.status).toBe(200)
    expect(res.headers.get('Warning')).toContain('stale')
  })

  test('tags keep the upstream paging under the proxied name', async () => {
    const { app } = proxyOver((req) => {
      expect(new URL(req.url).search).toBe('?n=1')
      return Response.json({ name: 'team/app', tags: ['a'] }, {
        headers: { Link: '</v2/team/app/tags/list?n=1&last=a>; rel="next"' },
      })
    })
    const res = await app.request(`/v2/${UPSTREAM}/team/app/tags/list?n=1`)
    expect(await res.json()).toEqual({ name: `${UPSTREAM}/team/app`, tags: ['a'] })
    expect(res.headers.get('Link')).toBe(
      `</v2/${UPSTREAM}/team/app/tags/list?n=1&last=a>; rel="next"`,
    )
  })
})

describe('proxied blobs', () => {
  const blob = blobOf(300_000, 4)
  const digest = sha256(blob)
  const chunked = () =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(blob.slice())
        controller.close()
      },
    })

  test('a range of a blob whose size the upstream does not send is still 206', async () => {
    const { app } = proxyOver(() => new Response(chunked()))
    const res = await app.request(`/v2/team/app/blobs/${digest}`, {
      headers: { Range: 'bytes=10-19' },
    })
    expect(res.status).toBe(206)
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(blob.subarray(10, 20))
  })

  test('every client of a refused blob gets the upstream answer', async () => {
    const { app } = proxyOver(async () => {
      await Bun.sleep(50)
      return Response.json({ errors: [{ code: 'DENIED', message: 'upstream says no' }] }, {
        status: 403,
      })
    })
    const path = `/v2/team/app/blobs/${digest}`
    const answers = await Promise.all([app.request(path), app.request(path)])
    for (const res of answers) {
      expect(res.status).toBe(403)
      expect(await res.text()).toContain('upstream says no')
    }
  })

  test('a stalled upstream fails the download, and the next request starts afresh', async () => {
    let requests = 0
    const { app, storage } = proxyOver(() => {
      requests++
      if (requests > 1) {
        return new Response(blob, { headers: { 'Content-Length': String(blob.length) } })
      }
      const stalled = new ReadableStream<Uint8Array>({
        start: (controller) => controller.enqueue(blob.slice(0, 1000)),
      })
      return new Response(stalled, { headers: { 'Content-Length': String(blob.length) } })
    }, { idleTimeoutMs: 200 })
    const first = await app.request(`/v2/team/app/blobs/${digest}`)
    // The body breaks off: the client sees an error, not a short blob.
    await expect(first.arrayBuffer()).rejects.toBeDefined()
    const second = await app.request(`/v2/team/app/blobs/${digest}`)
    expect(sha256(new Uint8Array(await second.arrayBuffer()))).toBe(digest)
    expect(requests).toBe(2)
    expect(await storage.statBlob(digest)).toBe(blob.length)
  })
})
