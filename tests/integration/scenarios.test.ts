// Acceptance: the broken/random, broken/error and broken/timeout scenarios of the compiled binary,
// seen by skopeo, docker, ctr and fetch: stable digests, OCI error messages in client output, a
// 256 MiB layer streamed in bounded memory, and delays that end when the client goes away.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  describeIf,
  ensureBinary,
  LAYOUT_TAG,
  makeTempDir,
  NEEDS,
  podman,
  readOciLayout,
  removeDir,
  type RunResult,
  type Server,
  SERVER_COMMANDS,
  sha256,
  skopeo,
  startContainerd,
  startDockerd,
  startScratchServer,
  testIf,
  useDaemon,
  waitFor,
} from './_harness.ts'

const RANDOM = 'broken/random:layers-3_size-1024'
const RANDOM_INDEX = 'broken/random:layers-2_size-1024_platforms-2_format-oci'
const RANDOM_DOCKER = 'broken/random:layers-2_size-2048'
const RANDOM_BIG = 'broken/random:layers-1_size-256m'
const NOT_FOUND = 'broken/error:404'
const NOT_FOUND_MESSAGE = 'Looking for something?'

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json'
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
/** What clients send: every manifest and index type, so the server picks the image's own. */
const ACCEPT_ANY_MANIFEST = [
  DOCKER_MANIFEST,
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  OCI_INDEX,
].join(', ')
const MIB = 1024 * 1024

let tmp: string | undefined
let server: Server | undefined
let copies = 0

const inTmp = (name: string) => join(tmp!, name)

beforeAll(async () => {
  tmp = await makeTempDir('scenarios')
  await ensureBinary()
  server = await startScratchServer(SERVER_COMMANDS.binary)
}, 600_000)

afterAll(async () => {
  await server?.stop()
  await removeDir(tmp)
})

/** `name:tag` → the URL of its manifest on `at`. */
const manifestUrl = (at: Server, ref: string) => {
  const [name, tag] = ref.split(':')
  return `${at.url}/v2/${name}/manifests/${tag}`
}

/** Everything a client printed, for messages that may go to either stream. */
const output = (result: RunResult) => result.stdout + result.stderr

/** Runs skopeo and asserts that it succeeded, showing its stderr if not. */
async function skopeoOk(args: string[]) {
  const result = await skopeo(args)
  expect(result.code, `skopeo ${args.join(' ')}\n${result.stderr}`).toBe(0)
  return result.stdout
}

/** Copies an image with skopeo into a fresh destination of `transport` (`dir` or `oci`). */
async function skopeoCopy(from: Server, ref: string, transport: 'dir' | 'oci', extra: string[]) {
  const dest = inTmp(`copy-${++copies}`)
  await skopeoOk([
    ...['copy', '--src-tls-verify=false', ...extra],
    `docker://${from.hostPort}/${ref}`,
    transport === 'dir' ? `dir:${dest}` : `oci:${dest}:${LAYOUT_TAG}`,
  ])
  return dest
}

interface Descriptor {
  mediaType: string
  digest: string
  size: number
  platform?: { architecture: string; os: string; variant?: string }
}

/**
 * Reads what `skopeo copy ... dir:DIR` wrote: `manifest.json` as the registry served it, and each
 * blob in a file named by its hex digest, whose sha256 is checked here.
 */
async function readDirCopy(dir: string) {
  const manifestBytes = await readFile(join(dir, 'manifest.json'))
  const manifest: { mediaType: string; layers: Descriptor[] } = JSON.parse(
    manifestBytes.toString(),
  )
  for (const layer of manifest.layers) {
    const bytes = await readFile(join(dir, layer.digest.split(':')[1]))
    expect(sha256(bytes), `blob file of ${layer.digest}`).toBe(layer.digest)
    expect(bytes.length).toBe(layer.size)
  }
  return { digest: sha256(manifestBytes), mediaType: manifest.mediaType, layers: manifest.layers }
}

/** The value of one line `name N` of GET /metrics. */
async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${server!.url}/metrics`)).text()
  const value = new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]
  if (value === undefined) throw new Error(`GET /metrics has no ${name} line:\n${text}`)
  return Number(value)
}

/** The resident set size of a process in bytes, from VmRSS in /proc/<pid>/status. */
function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]
  if (kib === undefined) throw new Error(`/proc/${pid}/status has no VmRSS line`)
  return Number(kib) * 1024
}

describe('broken/random', () => {
  testIf(NEEDS.skopeo)(
    'skopeo pulls layers-3_size-1024 with one digest twice and from a second server',
    async () => {
      const first = await readDirCopy(await skopeoCopy(server!, RANDOM, 'dir', []))
      const second = await readDirCopy(await skopeoCopy(server!, RANDOM, 'dir', []))
      expect(first.mediaType).toBe(DOCKER_MANIFEST)
      expect(first.layers).toHaveLength(3)
      expect(second).toEqual(first)

      const other = await startScratchServer(SERVER_COMMANDS.binary)
      try {
        const elsewhere = await readDirCopy(await skopeoCopy(other, RANDOM, 'dir', []))
        expect(elsewhere).toEqual(first)
      } finally {
        await other.stop()
      }
    },
    120_000,
  )

  testIf(NEEDS.skopeo)(
    'skopeo inspect --raw of layers-3_size-1024 hashes to the Docker-Content-Digest of HEAD',
    async () => {
      const raw = await skopeoOk([
        ...['inspect', '--raw', '--tls-verify=false'],
        `docker://${server!.hostPort}/${RANDOM}`,
      ])
      const head = await fetch(manifestUrl(server!, RANDOM), {
        method: 'HEAD',
        headers: { Accept: ACCEPT_ANY_MANIFEST },
      })
      expect(head.status).toBe(200)
      expect(head.headers.get('Docker-Content-Digest')).toBe(sha256(raw))
    },
    60_000,
  )

  testIf(NEEDS.skopeo)(
    'skopeo copy --all of platforms-2_format-oci gives an OCI index of two platforms',
    async () => {
      const layout = await skopeoCopy(server!, RANDOM_INDEX, 'oci', [
        '--all',
        '--preserve-digests',
      ])
      // readOciLayout checks that every config and layer blob hashes to its name.
      const image = await readOciLayout(layout)
      const index: { mediaType: string; manifests: Descriptor[] } = JSON.parse(
        await readFile(join(layout, 'blobs', ...image.digest.split(':')), 'utf8'),
      )
      expect(index.mediaType).toBe(OCI_INDEX)
      expect(index.manifests).toHaveLength(2)
      // Plain values only: bun 1.4.5's toMatchObject writes its asymmetric matchers into the
      // object it checks.
      const platforms = index.manifests.map(({ platform }) =>
        platform ? `${platform.os}/${platform.architecture}` : 'none'
      )
      expect(platforms).not.toContain('none')
      expect(new Set(platforms).size).toBe(2)
      expect(image.layers).toHaveLength(4)
    },
    120_000,
  )

  test(
    'a 256 MiB layer of layers-1_size-256m streams with its digest and size in bounded memory',
    async () => {
      const pid = server!.pid
      let peak = rssBytes(pid)
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssBytes(pid))
      }, 50)
      try {
        // The first manifest request generates the image, which may take a few seconds.
        const res = await fetch(manifestUrl(server!, RANDOM_BIG), {
          headers: { Accept: DOCKER_MANIFEST },
        })
        expect(res.status).toBe(200)
        const manifest: { layers: Descriptor[] } = await res.json()
        expect(manifest.layers).toHaveLength(1)
        const [layer] = manifest.layers
        expect(layer.size).toBeGreaterThanOrEqual(256 * MIB)

        const blob = await fetch(`${server!.url}/v2/broken/random/blobs/${layer.digest}`)
        expect(blob.status).toBe(200)
        const hash = createHash('sha256')
        let bytes = 0
        for await (const chunk of blob.body!) {
          hash.update(chunk)
          bytes += chunk.length
        }
        expect(bytes).toBe(layer.size)
        expect(`sha256:${hash.digest('hex')}`).toBe(layer.digest)
      } finally {
        clearInterval(sampler)
      }
      peak = Math.max(peak, rssBytes(pid))
      expect(peak / MIB).toBeLessThan(400)
    },
    180_000,
  )
})

describe('broken/error', () => {
  const cases = [
    ['404', NOT_FOUND_MESSAGE],
    ['403', 'Fakereg: Access to this resource is forbidden'],
  ]
  for (const [status, message] of cases) {
    testIf(NEEDS.skopeo)(
      `skopeo inspect of broken/error:${status} fails with "${message}"`,
      async () => {
        const result = await skopeo([
          ...['inspect', '--tls-verify=false'],
          `docker://${server!.hostPort}/broken/error:${status}`,
        ])
        expect(result.code, output(result)).not.toBe(0)
        expect(result.stderr).toContain(message)
      },
      60_000,
    )
  }
})

describeIf(NEEDS.dockerd)('docker', () => {
  const dockerd = useDaemon('dockerd', startDockerd)

  test('docker pull of broken/random:layers-2_size-2048 gives an image of two layers', async () => {
    const ref = `${server!.hostPort}/${RANDOM_DOCKER}`
    const pull = await dockerd().docker(['pull', ref])
    expect(pull.code, output(pull)).toBe(0)
    const inspect = await dockerd().docker(['image', 'inspect', ref])
    expect(inspect.code, inspect.stderr).toBe(0)
    const [image] = JSON.parse(inspect.stdout)
    expect(image.RootFS.Layers).toHaveLength(2)
  }, 120_000)

  test('docker pull of broken/error:404 fails with the registry message', async () => {
    const result = await dockerd().docker(['pull', `${server!.hostPort}/${NOT_FOUND}`])
    expect(result.code, output(result)).not.toBe(0)
    expect(output(result)).toContain(NOT_FOUND_MESSAGE)
  }, 120_000)
})

describeIf(NEEDS.containerd)('containerd', () => {
  const containerd = useDaemon('ctrd', startContainerd)

  test(
    'ctr images pull of broken/random:layers-2_size-2048 stores and unpacks every blob',
    async () => {
      const ref = `${server!.hostPort}/${RANDOM_DOCKER}`
      const pull = await containerd().ctr([
        ...['images', 'pull', '--plain-http', '--snapshotter', 'native', ref],
      ])
      expect(pull.code, output(pull)).toBe(0)
      expect(pull.stdout).toContain('unpacking')

      const head = await fetch(manifestUrl(server!, RANDOM_DOCKER), {
        method: 'HEAD',
        headers: { Accept: ACCEPT_ANY_MANIFEST },
      })
      const digest = head.headers.get('Docker-Content-Digest')
      const list = await containerd().ctr(['images', 'ls'])
      const row = list.stdout.split('\n').find((line) => line.startsWith(`${ref} `))
      expect(row, list.stdout).toContain(`${digest}`)
      // `images check` counts the config and both layers in the content store, and looks for
      // the unpacked snapshot.
      const check = await containerd().ctr([
        ...['images', 'check', '--snapshotter', 'native', `name==${ref}`],
      ])
      expect(check.code, output(check)).toBe(0)
      expect(check.stdout).toMatch(/ complete \(3\/3\) .* true\s*$/)
    },
    120_000,
  )

  test('ctr images pull of broken/error:404 fails as "not found"', async () => {
    const ref = `${server!.hostPort}/${NOT_FOUND}`
    const result = await containerd().ctr(['images', 'pull', '--plain-http', ref])
    expect(result.code, output(result)).not.toBe(0)
    // containerd resolves with HEAD, whose 404 has no body, and gives up without a GET, so the
    // registry's message cannot reach it: it reports the status as "not found".
    expect(output(result)).toContain(`failed to resolve reference "${ref}": ${ref}: not found`)
  }, 120_000)
})

describe('broken/timeout', () => {
  test('GET broken/timeout:dur-2s answers 408 TIMEOUT after at least 2 s', async () => {
    const started = performance.now()
    const res = await fetch(manifestUrl(server!, 'broken/timeout:dur-2s'))
    const body = await res.json()
    const elapsed = performance.now() - started
    expect(res.status).toBe(408)
    expect(body.errors[0]).toMatchObject({
      code: 'TIMEOUT',
      message: 'Timeout duration has elapsed!',
    })
    expect(elapsed).toBeGreaterThanOrEqual(2000)
  }, 30_000)

  test('a client aborting broken/timeout:dur-1h after 0.5 s leaves no pending work', async () => {
    const inFlightBefore = await metric('broken_reg_requests_in_flight')
    expect(await metric('broken_reg_pending_delays')).toBe(0)

    const abort = new AbortController()
    const started = Date.now()
    const request = fetch(manifestUrl(server!, 'broken/timeout:dur-1h'), {
      signal: abort.signal,
    }).then(
      (res) => `answered ${res.status}`,
      (err: Error) => err.name,
    )
    await waitFor(
      'broken_reg_pending_delays 1',
      async () => (await metric('broken_reg_pending_delays')) === 1 || undefined,
      5_000,
    )
    // The request has reached its delay; the client gives up half a second after sending it.
    await Bun.sleep(Math.max(0, started + 500 - Date.now()))
    abort.abort()
    expect(await request).toBe('AbortError')

    await waitFor('the delay to end and in-flight requests to return to before', async () => {
      const pending = await metric('broken_reg_pending_delays')
      const inFlight = await metric('broken_reg_requests_in_flight')
      return (pending === 0 && inFlight === inFlightBefore) || undefined
    }, 5_000)
  }, 30_000)
})

describeIf(NEEDS.podman)('podman', () => {
  test(
    'podman pull of broken/random succeeds, of broken/error:404 fails with the message',
    async () => {
      const dir = await makeTempDir('podman')
      try {
        const good = await podman(dir, [
          'pull',
          '--tls-verify=false',
          `${server!.hostPort}/${RANDOM_DOCKER}`,
        ])
        expect(good.code, output(good)).toBe(0)
        const bad = await podman(dir, [
          'pull',
          '--tls-verify=false',
          `${server!.hostPort}/${NOT_FOUND}`,
        ])
        expect(bad.code).not.toBe(0)
        expect(bad.stderr).toContain(NOT_FOUND_MESSAGE)
      } finally {
        await removeDir(dir)
      }
    },
    120_000,
  )
})
