// Acceptance of the pull-through proxy in dist/broken-reg: upstreams behind htpasswd Basic auth
// and short-lived Bearer tokens, an upstream that stops, a corrupt upstream blob, stale tags
// after --cache-ttl, and one shared download of a large blob for clients that come and go.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as NodeReadableStream } from 'node:stream/web'
import {
  BINARY,
  buildOciLayout,
  describeIf,
  ensureBinary,
  type ImageDigests,
  LAYOUT_TAG,
  makeTempDir,
  type Need,
  NEEDS,
  readOciLayout,
  removeDir,
  serveArgs,
  type Server,
  sha256,
  skopeo,
  startDockerRegistry,
  startServer,
  waitFor,
} from './_harness.ts'

/** The repository every upstream here holds, pulled through broken-reg as `HOST/team/app:1`. */
const REPO = 'team/app'
const TAG = '1'
const USER = 'puller'
const PASS = 'pull-secret'
const NEEDS_HTPASSWD: Need = {
  ok: Bun.which('htpasswd') !== null,
  why: 'htpasswd (apache2-utils) is not installed',
}
const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json'
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json'
const MIB = 1024 * 1024

let tmp: string | undefined
let built: ImageDigests
let dirs = 0
/** Everything started here, stopped in reverse order by afterAll. */
const stops: (() => Promise<unknown>)[] = []

const inTmp = (name: string) => join(tmp!, name)
const freshDir = (name: string) => inTmp(`${name}-${++dirs}`)

beforeAll(async () => {
  tmp = await makeTempDir('proxy')
  await ensureBinary()
  built = await buildOciLayout(inTmp('image'))
}, 600_000)

afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => {})
  await removeDir(tmp)
}, 120_000)

// ---------------------------------------------------------------------------------------------
// Upstreams, the proxy and clients

/** A docker-registry in its own dir under tmp, stopped by afterAll. */
async function startUpstreamRegistry(opts: Parameters<typeof startDockerRegistry>[1] = {}) {
  const dir = freshDir('upstream')
  await mkdir(dir, { recursive: true })
  const registry = await startDockerRegistry(dir, opts)
  stops.push(registry.stop)
  return registry
}

/** A broken-reg proxy with its data dir, credentials and the upstream of names without a host. */
interface Proxy {
  server: Server
  dataDir: string
}

/** Starts the binary proxying `upstream`, with a docker config holding `auths` (if any). */
async function startProxy(
  upstream: string,
  opts: { auths?: Record<string, string>; cacheTtl?: string } = {},
): Promise<Proxy> {
  const dir = freshDir('proxy')
  const dockerConfig = join(dir, 'docker')
  await mkdir(dockerConfig, { recursive: true })
  const auths = Object.fromEntries(
    Object.entries(opts.auths ?? {}).map(([registry, auth]) => [registry, { auth: btoa(auth) }]),
  )
  await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ auths }))
  // Only the docker config written here may hold credentials: no ~/.docker, no auth.json.
  const env: Record<string, string | undefined> = { ...process.env, HOME: dir }
  env.DOCKER_CONFIG = dockerConfig
  delete env.REGISTRY_AUTH_FILE
  delete env.XDG_RUNTIME_DIR
  const dataDir = join(dir, 'data')
  const args = [BINARY, ...serveArgs(dataDir), '--upstream', upstream]
  if (opts.cacheTtl) args.push('--cache-ttl', opts.cacheTtl)
  const server = await startServer(args, { env })
  stops.push(server.stop)
  return { server, dataDir }
}

/** A fake upstream on a free loopback port, stopped by afterAll. It runs on node:http because
 * Bun.serve drops the Content-Length of a streamed body, which every real registry sends. */
async function serveFake(handler: (req: Request) => Response | Promise<Response>) {
  const server = createServer(async (incoming, outgoing) => {
    try {
      const headers = new Headers()
      for (const [name, value] of Object.entries(incoming.headers)) {
        if (typeof value === 'string') headers.set(name, value)
      }
      const req = new Request(`http://127.0.0.1${incoming.url}`, {
        method: incoming.method,
        headers,
      })
      const res = await handler(req)
      outgoing.writeHead(res.status, Object.fromEntries(res.headers))
      if (!res.body || req.method === 'HEAD') {
        await res.body?.cancel()
        return void outgoing.end()
      }
      await pipeline(Readable.fromWeb(res.body as unknown as NodeReadableStream), outgoing)
    } catch (err) {
      outgoing.destroy(err as Error)
    }
  })
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening))
  const { port } = server.address() as AddressInfo
  const stop = () =>
    new Promise<void>((closed) => {
      server.close(() => closed())
      server.closeAllConnections()
    })
  stops.push(stop)
  return { url: `http://127.0.0.1:${port}`, hostPort: `127.0.0.1:${port}`, stop }
}

/** Passes a request on to `origin`, keeping what a registry reads and everything it answers. */
async function forward(req: Request, origin: string): Promise<Response> {
  const url = new URL(req.url)
  const headers = new Headers()
  for (const name of ['Accept', 'Range']) {
    const value = req.headers.get(name)
    if (value) headers.set(name, value)
  }
  const res = await fetch(`${origin}${url.pathname}${url.search}`, {
    method: req.method,
    headers,
    redirect: 'manual',
    decompress: false,
  } as RequestInit)
  const body = req.method === 'HEAD' ? null : res.body
  return new Response(body, { status: res.status, headers: res.headers })
}

/** Passes a body on at about `bytesPerSecond`, calling `done` once the last byte has gone. */
function paced(body: ReadableStream<Uint8Array>, bytesPerSecond: number, done: () => void) {
  const started = Date.now()
  let sent = 0
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      async transform(chunk, controller) {
        sent += chunk.byteLength
        const due = started + (sent / bytesPerSecond) * 1000
        if (due > Date.now()) await Bun.sleep(due - Date.now())
        controller.enqueue(chunk)
      },
      flush: done,
    }),
  )
}

/** Runs skopeo and asserts that it succeeded, showing its stderr if not. */
async function skopeoOk(args: string[]) {
  const result = await skopeo(args)
  expect(result.code, `skopeo ${args.join(' ')}\n${result.stderr}`).toBe(0)
  return result.stdout
}

/** Pushes the test image with every platform and its digests to `hostPort/team/app:1`. */
const pushImage = (hostPort: string, creds?: string) =>
  skopeoOk([
    ...['copy', '--all', '--preserve-digests', '--dest-tls-verify=false'],
    ...(creds ? ['--dest-creds', creds] : []),
    `oci:${inTmp('image')}:${LAYOUT_TAG}`,
    `docker://${hostPort}/${REPO}:${TAG}`,
  ])

/** The skopeo command line that pulls `ref` from a server into a fresh layout. */
function pullArgs(server: Server, ref: string) {
  const layout = freshDir('pull')
  const args = [
    ...['copy', '--all', '--preserve-digests', '--src-tls-verify=false', '--src-no-creds'],
    `docker://${server.hostPort}/${ref}`,
    `oci:${layout}:${LAYOUT_TAG}`,
  ]
  return { layout, args }
}

/** Pulls `ref` with every platform through a server and reads back the digests. */
async function pullThrough(server: Server, ref: string): Promise<ImageDigests> {
  const { layout, args } = pullArgs(server, ref)
  await skopeoOk(args)
  return readOciLayout(layout)
}

/** Where the fs storage keeps a blob: blobs/sha256/<xx>/<hex>. */
function blobFile(dataDir: string, digest: string) {
  const hex = digest.slice('sha256:'.length)
  return join(dataDir, 'blobs', 'sha256', hex.slice(0, 2), hex)
}

/** GETs a URL and hashes the body as it arrives; `error` is set when reading it failed. */
async function fetchHashed(url: string) {
  const res = await fetch(url)
  const hash = createHash('sha256')
  let received = 0
  let error: unknown
  try {
    for await (const chunk of res.body!) {
      hash.update(chunk)
      received += chunk.byteLength
    }
  } catch (err) {
    error = err
  }
  const length = res.headers.get('Content-Length')
  return {
    status: res.status,
    contentLength: length === null ? undefined : Number(length),
    received,
    digest: `sha256:${hash.digest('hex')}`,
    error,
  }
}

/** Pushes a blob to a registry with the OCI distribution API: POST, then one monolithic PUT. */
async function pushBlob(registryUrl: string, repo: string, bytes: Uint8Array<ArrayBuffer>) {
  const started = await fetch(`${registryUrl}/v2/${repo}/blobs/uploads/`, { method: 'POST' })
  await started.body?.cancel()
  expect(started.status).toBe(202)
  const location = new URL(started.headers.get('Location')!, registryUrl)
  location.searchParams.set('digest', sha256(bytes))
  const put = await fetch(location, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: bytes,
  })
  expect(put.status, await put.text()).toBe(201)
  return sha256(bytes)
}

// ---------------------------------------------------------------------------------------------

describeIf(NEEDS.skopeo, NEEDS.dockerRegistry, NEEDS_HTPASSWD)('htpasswd Basic upstream', () => {
  let upstream: Server

  beforeAll(async () => {
    upstream = await startUpstreamRegistry({ htpasswd: { user: USER, pass: PASS } })
    await pushImage(upstream.hostPort, `${USER}:${PASS}`)
  }, 300_000)

  test('skopeo pulls through with credentials from DOCKER_CONFIG, digests unchanged', async () => {
    const { server } = await startProxy(upstream.hostPort, {
      auths: { [upstream.hostPort]: `${USER}:${PASS}` },
    })
    expect(await pullThrough(server, `${REPO}:${TAG}`)).toEqual(built)
  }, 300_000)

  test('without credentials the 401 is passed on and skopeo says unauthorized', async () => {
    const { server } = await startProxy(upstream.hostPort)
    const res = await fetch(`${server.url}/v2/${REPO}/manifests/${TAG}`, {
      headers: { Accept: INDEX_TYPE },
    })
    const body = await res.text()
    expect({ status: res.status, body }).toEqual({
      status: 401,
      body: expect.stringContaining('UNAUTHORIZED'),
    })
    const pulled = await skopeo(pullArgs(server, `${REPO}:${TAG}`).args)
    expect(pulled.code).not.toBe(0)
    expect(pulled.stderr).toMatch(/unauthorized/i)
  }, 300_000)
})

describeIf(NEEDS.skopeo, NEEDS.dockerRegistry)('Bearer upstream with 1 s tokens', () => {
  const TOKEN_MS = 1000
  // Longer than a token lives, so the second platform's requests need a new token.
  const BLOB_DELAY_MS = 1200
  let fake: Awaited<ReturnType<typeof serveFake>>
  const tokens = new Map<string, number>()
  let refusedExpired = 0

  beforeAll(async () => {
    const registry = await startUpstreamRegistry()
    await pushImage(registry.hostPort)
    fake = await serveFake(async (req) => {
      const url = new URL(req.url)
      if (url.pathname === '/token') {
        const basic = `Basic ${btoa(`${USER}:${PASS}`)}`
        if (req.headers.get('Authorization') !== basic) return new Response(null, { status: 401 })
        const token = `token-${tokens.size + 1}`
        tokens.set(token, Date.now())
        return Response.json({ token, expires_in: TOKEN_MS / 1000 })
      }
      const bearer = /^Bearer (\S+)$/.exec(req.headers.get('Authorization') ?? '')?.[1]
      const issuedAt = bearer === undefined ? undefined : tokens.get(bearer)
      if (issuedAt === undefined || Date.now() - issuedAt >= TOKEN_MS) {
        if (issuedAt !== undefined) refusedExpired++
        const challenge = `Bearer realm="${fake.url}/token",service="test",` +
          `scope="repository:${REPO}:pull"`
        return Response.json(
          { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] },
          { status: 401, headers: { 'WWW-Authenticate': challenge } },
        )
      }
      if (url.pathname.includes('/blobs/')) await Bun.sleep(BLOB_DELAY_MS)
      return forward(req, registry.url)
    })
  }, 300_000)

  test('a pull that outlives its token fetches another and keeps every digest', async () => {
    const { server } = await startProxy(fake.hostPort, {
      auths: { [fake.hostPort]: `${USER}:${PASS}` },
    })
    expect(await pullThrough(server, `${REPO}:${TAG}`)).toEqual(built)
    expect(tokens.size, `tokens issued (${refusedExpired} expired ones refused)`)
      .toBeGreaterThanOrEqual(2)
  }, 300_000)
})

describeIf(NEEDS.skopeo, NEEDS.dockerRegistry)('upstream stopped after a pull', () => {
  let proxy: Proxy

  beforeAll(async () => {
    const upstream = await startUpstreamRegistry()
    await pushImage(upstream.hostPort)
    proxy = await startProxy(upstream.hostPort)
    expect(await pullThrough(proxy.server, `${REPO}:${TAG}`)).toEqual(built)
    await upstream.stop()
  }, 300_000)

  test('skopeo pulls the cached tag again with every digest unchanged', async () => {
    expect(await pullThrough(proxy.server, `${REPO}:${TAG}`)).toEqual(built)
  }, 300_000)

  test('skopeo pulls the cached index by digest with every digest unchanged', async () => {
    expect(await pullThrough(proxy.server, `${REPO}@${built.digest}`)).toEqual(built)
  }, 300_000)

  test('a tag never pulled answers an error, not 200', async () => {
    const res = await fetch(`${proxy.server.url}/v2/${REPO}/manifests/never-pulled`, {
      headers: { Accept: INDEX_TYPE },
    })
    const body = await res.text()
    expect(res.status, body).toBeGreaterThanOrEqual(400)
  }, 60_000)
})

describe('corrupt upstream blob', () => {
  const layer = randomBytes(3 * MIB)
  const corrupt = Buffer.from(layer)
  corrupt[corrupt.length >> 1] ^= 0xff
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: {} }))
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha256(config),
      size: config.length,
    },
    layers: [{
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: sha256(layer),
      size: layer.length,
    }],
  }))
  /** Requests the fake answered, by path. */
  const seen = new Map<string, number>()
  const blobPath = (digest: string) => `/v2/${REPO}/blobs/${digest}`
  let proxy: Proxy

  beforeAll(async () => {
    const routes = new Map<
      string,
      { bytes: Uint8Array<ArrayBuffer>; type: string; digest: string }
    >([
      [`/v2/${REPO}/manifests/${TAG}`, {
        bytes: manifest,
        type: MANIFEST_TYPE,
        digest: sha256(manifest),
      }],
      [`/v2/${REPO}/manifests/${sha256(manifest)}`, {
        bytes: manifest,
        type: MANIFEST_TYPE,
        digest: sha256(manifest),
      }],
      [blobPath(sha256(config)), {
        bytes: config,
        type: 'application/octet-stream',
        digest: sha256(config),
      }],
      // The layer's bytes differ from its digest in one byte.
      [blobPath(sha256(layer)), {
        bytes: corrupt,
        type: 'application/octet-stream',
        digest: sha256(layer),
      }],
    ])
    const fake = await serveFake((req) => {
      const { pathname } = new URL(req.url)
      seen.set(pathname, (seen.get(pathname) ?? 0) + 1)
      const route = routes.get(pathname)
      if (!route) {
        return Response.json({ errors: [{ code: 'NOT_FOUND', message: pathname }] }, {
          status: 404,
        })
      }
      const headers = {
        'Content-Type': route.type,
        'Content-Length': String(route.bytes.length),
        'Docker-Content-Digest': route.digest,
      }
      return new Response(req.method === 'HEAD' ? null : route.bytes, { headers })
    })
    proxy = await startProxy(fake.hostPort)
  }, 300_000)

  test('the manifest and the intact config come through with their digests', async () => {
    const res = await fetch(`${proxy.server.url}/v2/${REPO}/manifests/${TAG}`, {
      headers: { Accept: MANIFEST_TYPE },
    })
    const bytes = new Uint8Array(await res.arrayBuffer())
    expect({ status: res.status, digest: sha256(bytes) }).toEqual({
      status: 200,
      digest: sha256(manifest),
    })
    const got = await fetchHashed(`${proxy.server.url}${blobPath(sha256(config))}`)
    expect({ status: got.status, digest: got.digest, error: got.error }).toEqual({
      status: 200,
      digest: sha256(config),
      error: undefined,
    })
  }, 60_000)

  test('a GET of the corrupt layer fails for the client and is not cached', async () => {
    const url = `${proxy.server.url}${blobPath(sha256(layer))}`
    const first = await fetchHashed(url)
    const failed = (r: typeof first) =>
      r.status !== 200 || r.error !== undefined ||
      (r.contentLength !== undefined && r.received < r.contentLength)
    const show = (r: typeof first) => JSON.stringify({ ...r, error: String(r.error) })
    expect(failed(first), `first GET: ${show(first)}`).toBe(true)
    expect(first.digest).not.toBe(sha256(layer))
    expect(existsSync(blobFile(proxy.dataDir, sha256(layer)))).toBe(false)

    const second = await fetchHashed(url)
    expect(failed(second), `second GET: ${show(second)}`).toBe(true)
    expect(seen.get(blobPath(sha256(layer)))).toBe(2)
    expect(existsSync(blobFile(proxy.dataDir, sha256(layer)))).toBe(false)
  }, 120_000)
})

describeIf(NEEDS.skopeo, NEEDS.dockerRegistry)('stale tags after --cache-ttl', () => {
  test('with the upstream down, a tag past its TTL answers 200 with a stale Warning', async () => {
    const upstream = await startUpstreamRegistry()
    await pushImage(upstream.hostPort)
    const { server } = await startProxy(upstream.hostPort, { cacheTtl: '1s' })
    const getTag = () =>
      fetch(`${server.url}/v2/${REPO}/manifests/${TAG}`, { headers: { Accept: INDEX_TYPE } })
    const fresh = await getTag()
    await fresh.body?.cancel()
    expect({ status: fresh.status, warning: fresh.headers.get('Warning') }).toEqual({
      status: 200,
      warning: null,
    })
    await upstream.stop()

    // Within the TTL the cached tag is served as it is; the first other answer is the one to check.
    const later = await waitFor('an answer other than a plain 200', async () => {
      const res = await getTag()
      const body = new Uint8Array(await res.arrayBuffer())
      if (res.status === 200 && !res.headers.has('Warning')) return undefined
      return { res, body }
    }, 30_000)
    expect({
      status: later.res.status,
      warning: later.res.headers.get('Warning'),
      digest: sha256(later.body),
    }).toEqual({
      status: 200,
      warning: expect.stringContaining('stale'),
      digest: built.digest,
    })
  }, 300_000)
})

describeIf(NEEDS.skopeo, NEEDS.dockerRegistry)('revalidation after --cache-ttl', () => {
  test('a tag past its TTL is checked with a HEAD; an unchanged digest needs no GET', async () => {
    const upstream = await startUpstreamRegistry()
    await pushImage(upstream.hostPort)
    const seen: string[] = []
    const fake = await serveFake((req) => {
      const path = new URL(req.url).pathname
      if (path.includes('/manifests/')) seen.push(`${req.method} ${path}`)
      return forward(req, upstream.url)
    })
    const { server } = await startProxy(fake.hostPort, { cacheTtl: '1s' })
    const getTag = async () => {
      const res = await fetch(`${server.url}/v2/${REPO}/manifests/${TAG}`, {
        headers: { Accept: INDEX_TYPE },
      })
      return { status: res.status, digest: sha256(new Uint8Array(await res.arrayBuffer())) }
    }
    expect(await getTag()).toEqual({ status: 200, digest: built.digest })
    expect(seen).toEqual([`GET /v2/${REPO}/manifests/${TAG}`])
    // The TTL itself is under test: real time has to pass.
    await Bun.sleep(1100)
    expect(await getTag()).toEqual({ status: 200, digest: built.digest })
    expect(seen).toEqual([`GET /v2/${REPO}/manifests/${TAG}`, `HEAD /v2/${REPO}/manifests/${TAG}`])
  }, 300_000)
})

describeIf(NEEDS.dockerRegistry)('one shared download of a 64 MiB blob', () => {
  const REPO_BIG = 'team/big'
  // A 64 MiB blob takes about 2 s upstream, so a second client surely comes while it runs.
  const UPSTREAM_BYTES_PER_SECOND = 32 * MIB
  const big = randomBytes(64 * MIB)
  const other = randomBytes(64 * MIB)
  /** Blob GETs the upstream answered, by digest, and when it sent the last byte of each. */
  const blobGets = new Map<string, number>()
  const sentAt = new Map<string, number>()
  let proxy: Proxy

  beforeAll(async () => {
    const registry = await startUpstreamRegistry()
    await pushBlob(registry.url, REPO_BIG, big)
    await pushBlob(registry.url, REPO_BIG, other)
    const fake = await serveFake(async (req) => {
      const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(new URL(req.url).pathname)?.[1]
      const res = await forward(req, registry.url)
      if (!digest || req.method !== 'GET' || !res.body) return res
      blobGets.set(digest, (blobGets.get(digest) ?? 0) + 1)
      const body = paced(res.body, UPSTREAM_BYTES_PER_SECOND, () => sentAt.set(digest, Date.now()))
      return new Response(body, { status: res.status, headers: res.headers })
    })
    proxy = await startProxy(fake.hostPort)
  }, 300_000)

  test(
    'a second client joins the running download: one upstream GET, both sha256 right',
    async () => {
      const digest = sha256(big)
      const url = `${proxy.server.url}/v2/${REPO_BIG}/blobs/${digest}`
      const first = fetchHashed(url)
      await waitFor('the upstream GET of the blob', () => blobGets.get(digest), 60_000)
      const secondStartedAt = Date.now()
      const second = fetchHashed(url)
      const [a, b] = await Promise.all([first, second])
      const outcome = (r: typeof a) => ({ status: r.status, digest: r.digest, error: r.error })
      const expected = { status: 200, digest, error: undefined }
      expect([outcome(a), outcome(b)]).toEqual([expected, expected])
      expect(secondStartedAt, 'the second GET started before the upstream sent its last byte')
        .toBeLessThan(sentAt.get(digest)!)
      expect(blobGets.get(digest)).toBe(1)
    },
    300_000,
  )

  test('a client leaving after 1 MiB still lets the blob be cached for the next', async () => {
    const digest = sha256(other)
    const url = `${proxy.server.url}/v2/${REPO_BIG}/blobs/${digest}`
    const abort = new AbortController()
    const res = await fetch(url, { signal: abort.signal })
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    let received = 0
    while (received < MIB) {
      const { value, done } = await reader.read()
      if (done) break
      received += value.byteLength
    }
    abort.abort()
    await reader.cancel().catch(() => {})
    expect(received).toBeGreaterThanOrEqual(MIB)
    expect(sentAt.has(digest), 'the upstream was still sending when the client left').toBe(false)

    const committed = await waitFor(
      'the blob in the data dir',
      () => existsSync(blobFile(proxy.dataDir, digest)) || undefined,
      120_000,
    ).catch(() => false)
    const again = await fetchHashed(url)
    expect({
      committed,
      status: again.status,
      digest: again.digest,
      upstreamGets: blobGets.get(digest),
    }).toEqual({ committed: true, status: 200, digest, upstreamGets: 1 })
  }, 300_000)
})
