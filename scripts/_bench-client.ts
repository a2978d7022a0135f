// The client side of scripts/bench.ts: synthetic blobs, blob pushes (monolithic and chunked) with
// fetch, blob pulls with curl, and manifest load with hey (or an in-process loop without it).
import { createHash, randomBytes } from 'node:crypto'
import { runCommand, type Scope } from './_bench-servers.ts'

export const MiB = 1024 * 1024
const BLOCK = MiB
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
const OCTETS = { 'Content-Type': 'application/octet-stream' }

/** A deterministic pseudo-random blob streamed on demand, never held in memory whole. */
export interface SyntheticBlob {
  size: number
  digest: string
  /** Bytes [start, end) as a stream of views into one shared random block. */
  stream: (start?: number, end?: number) => ReadableStream<Uint8Array>
}

// Never written to after this, so views of it can be in flight in any number of requests.
const randomBlock = new Uint8Array(randomBytes(BLOCK))

/**
 * Builds the blob `seed` of `size` bytes and hashes it once to learn its digest. Block i of the
 * blob is the random block rotated by an amount drawn from (seed, i): the blocks differ, yet
 * nothing is copied, which doubles the client's speed over stamping a copy of each block.
 */
export function createSyntheticBlob(size: number, seed: number): SyntheticBlob {
  function* views(start: number, end: number) {
    for (let blockStart = start - (start % BLOCK); blockStart < end; blockStart += BLOCK) {
      const index = blockStart / BLOCK
      const turn = (Math.imul(seed * 65_537 + index + 1, 0x9e3779b1) >>> 0) % BLOCK
      const from = Math.max(start - blockStart, 0)
      const to = Math.min(end - blockStart, BLOCK)
      // Block bytes [0, BLOCK - turn) are random [turn, BLOCK), the rest are random [0, turn).
      const split = BLOCK - turn
      if (from < Math.min(to, split)) {
        yield randomBlock.subarray(turn + from, turn + Math.min(to, split))
      }
      if (Math.max(from, split) < to) {
        yield randomBlock.subarray(Math.max(from, split) - split, to - split)
      }
    }
  }
  const hash = createHash('sha256')
  for (const view of views(0, size)) hash.update(view)
  return {
    size,
    digest: `sha256:${hash.digest('hex')}`,
    stream(start = 0, end = size) {
      const it = views(start, end)
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          const next = it.next()
          if (next.done) controller.close()
          else controller.enqueue(next.value)
        },
      }, { highWaterMark: 0 })
    },
  }
}

/**
 * Opens an upload session with POST.
 * https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#pushing-blobs
 */
async function startUpload(base: string, repo: string): Promise<URL> {
  const res = await expectStatus(
    await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' }),
    202,
    'POST upload',
  )
  return location(res, base)
}

/** Pushes a blob in one PUT; returns the seconds it took, session start included. */
export async function pushMonolithic(base: string, repo: string, blob: SyntheticBlob) {
  const t0 = performance.now()
  const upload = await startUpload(base, repo)
  await putBytes(withDigest(upload, blob.digest), blob.stream(), blob.size, 'PUT blob')
  return (performance.now() - t0) / 1000
}

/** Pushes a blob as PATCH requests of `chunkSize` bytes and a closing PUT; returns seconds. */
export async function pushChunked(
  base: string,
  repo: string,
  blob: SyntheticBlob,
  chunkSize: number,
) {
  const t0 = performance.now()
  let upload = await startUpload(base, repo)
  for (let start = 0; start < blob.size; start += chunkSize) {
    const end = Math.min(start + chunkSize, blob.size)
    const res = await expectStatus(
      await fetch(upload, {
        method: 'PATCH',
        headers: {
          ...OCTETS,
          'Content-Length': String(end - start),
          'Content-Range': `${start}-${end - 1}`,
        },
        body: blob.stream(start, end),
        duplex: 'half',
      } as RequestInit),
      202,
      `PATCH ${start}-${end - 1}`,
    )
    upload = location(res, base)
  }
  await putBytes(withDigest(upload, blob.digest), new Uint8Array(0), 0, 'PUT closing upload')
  return (performance.now() - t0) / 1000
}

async function putBytes(
  url: URL,
  body: ReadableStream<Uint8Array> | Uint8Array,
  size: number,
  what: string,
) {
  const headers = { ...OCTETS, 'Content-Length': String(size) }
  const init = { method: 'PUT', headers, body, duplex: 'half' } as RequestInit
  await expectStatus(await fetch(url, init), 201, what)
}

/** Pushes a config, one layer and an OCI manifest tagged `tag`; returns the manifest's URL. */
export async function pushSmallImage(base: string, repo: string, tag: string): Promise<string> {
  const layer = createSyntheticBlob(64 * 1024, 0xfeed)
  const configJson = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  })
  const config = smallBlob(new TextEncoder().encode(configJson))
  for (const blob of [config, layer]) await pushMonolithic(base, repo, blob)
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor('application/vnd.oci.image.config.v1+json', config),
    layers: [descriptor('application/vnd.oci.image.layer.v1.tar', layer)],
  })
  const url = `${base}/v2/${repo}/manifests/${tag}`
  const put = { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: manifest }
  await expectStatus(await fetch(url, put), 201, 'PUT manifest')
  const got = await expectStatus(
    await fetch(url, { headers: { Accept: OCI_MANIFEST } }),
    200,
    'GET manifest',
  )
  if ((await got.text()) !== manifest) throw new Error('GET manifest: bytes differ from the PUT')
  return url
}

function smallBlob(bytes: Uint8Array<ArrayBuffer>): SyntheticBlob {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
  return { size: bytes.byteLength, digest, stream: () => new Response(bytes).body! }
}

const descriptor = (mediaType: string, { digest, size }: SyntheticBlob) => ({
  mediaType,
  digest,
  size,
})

const location = (res: Response, base: string) => new URL(res.headers.get('Location') ?? '', base)

function withDigest(upload: URL, digest: string): URL {
  const url = new URL(upload)
  url.searchParams.set('digest', digest)
  return url
}

async function expectStatus(res: Response, status: number, what: string): Promise<Response> {
  if (res.status === status) return res
  const body = (await res.text()).slice(0, 300)
  throw new Error(`${what}: expected ${status}, got ${res.status} ${body}`)
}

export interface PullResult {
  bytes: number
  seconds: number
}

/**
 * Downloads `url` on `streams` parallel connections with one curl process, to /dev/null. curl
 * reaches 2 GiB/s on loopback with little CPU, where fetch in Bun tops out near 1.1-1.4 GiB/s
 * and a curl process per stream spawned from Bun is much slower. Time is the slowest transfer's
 * own time_total, so the process start-up is not counted.
 */
/** Time to the first byte and to the last of one GET of `url` (curl's own timings). */
export async function timeFirstByte(scope: Scope, url: string, size: number) {
  const format = '%{http_code} %{size_download} %{time_starttransfer} %{time_total}'
  const cmd = ['curl', '--silent', '--show-error', '--max-time', '300', '--output', '/dev/null']
  const { code, stdout, stderr } = await runCommand(
    scope,
    [...cmd, '--write-out', format, url],
    310_000,
  )
  const [status, bytes, first, total] = stdout.trim().split(' ').map(Number)
  if (code !== 0 || status !== 200 || bytes !== size) {
    throw new Error(`curl ${url} failed (exit ${code}): ${stdout.trim()} ${stderr.trim()}`)
  }
  return { firstByteMs: first * 1000, seconds: total }
}

export async function pullBlob(
  scope: Scope,
  url: string,
  size: number,
  streams: number,
): Promise<PullResult> {
  const flags = `--silent --show-error --parallel --parallel-immediate --parallel-max ${streams}`
  const cmd = [
    'curl',
    ...flags.split(' '),
    ...['--max-time', '120', '--write-out', '%{http_code} %{size_download} %{time_total}\\n'],
    ...Array.from({ length: streams }, () => ['--output', '/dev/null', url]).flat(),
  ]
  const { code, stdout, stderr } = await runCommand(scope, cmd, 130_000)
  const transfers = stdout.trim().split('\n').map((line) => line.split(' ').map(Number))
  const bad = transfers.filter(([status, bytes]) => status !== 200 || bytes !== size)
  if (code !== 0 || transfers.length !== streams || bad.length > 0) {
    throw new Error(`curl ${url} failed (exit ${code}): ${stdout.trim()} ${stderr.trim()}`)
  }
  return { bytes: size * streams, seconds: Math.max(...transfers.map(([, , s]) => s)) }
}

export interface LoadResult {
  /** Successful (2xx) responses per second. */
  rps: number
  p50Ms: number
  p99Ms: number
  ok: number
  failed: number
  tool: 'hey' | 'fetch loop'
}

/** Hammers `url` with `method` on `connections` connections for `seconds`. */
export function loadManifest(
  scope: Scope,
  url: string,
  method: 'GET' | 'HEAD',
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  if (Bun.which('hey')) return heyLoad(scope, url, method, connections, seconds)
  return fetchLoad(url, method, connections, seconds)
}

async function heyLoad(
  scope: Scope,
  url: string,
  method: string,
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  const flags = `-z ${seconds}s -c ${connections} -m ${method} -t 10`
  const cmd = ['hey', ...flags.split(' '), '-H', `Accept: ${OCI_MANIFEST}`, url]
  const { code, stdout, stderr } = await runCommand(scope, cmd, (seconds + 30) * 1000)
  if (code !== 0) throw new Error(`hey exited with ${code}: ${stderr.trim()}`)
  return parseHey(stdout)
}

// hey counts failures in its Requests/sec, so the rate comes from the 2xx status lines.
function parseHey(out: string): LoadResult {
  const seconds = (label: string) => Number(new RegExp(`${label}\\s+([\\d.]+) secs`).exec(out)?.[1])
  const total = seconds('Total:')
  let ok = 0
  let failed = 0
  for (const [, status, count] of out.matchAll(/\[(\d+)\]\s+(\d+) responses/g)) {
    if (status.startsWith('2')) ok += Number(count)
    else failed += Number(count)
  }
  const errors = /Error distribution:\n([\s\S]*)/.exec(out)?.[1] ?? ''
  for (const [, count] of errors.matchAll(/\[(\d+)\]/g)) failed += Number(count)
  if (!(total > 0)) throw new Error(`cannot parse hey output:\n${out}`)
  return {
    rps: ok / total,
    p50Ms: seconds('50% in') * 1000,
    p99Ms: seconds('99% in') * 1000,
    ok,
    failed,
    tool: 'hey',
  }
}

// Without hey: `connections` fetch loops, bounded by time and by a request count.
async function fetchLoad(
  url: string,
  method: string,
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  const maxRequests = 2_000_000
  const latencies: number[] = []
  let failed = 0
  const t0 = performance.now()
  const deadline = t0 + seconds * 1000
  const worker = async () => {
    while (performance.now() < deadline && latencies.length + failed < maxRequests) {
      const start = performance.now()
      try {
        const res = await fetch(url, { method, headers: { Accept: OCI_MANIFEST } })
        await res.arrayBuffer()
        if (res.ok) latencies.push(performance.now() - start)
        else failed++
      } catch {
        failed++
      }
    }
  }
  await Promise.all(Array.from({ length: connections }, worker))
  const elapsed = (performance.now() - t0) / 1000
  latencies.sort((a, b) => a - b)
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]
  return {
    rps: latencies.length / elapsed,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    ok: latencies.length,
    failed,
    tool: 'fetch loop',
  }
}
