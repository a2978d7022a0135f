// Acceptance of `broken-reg seed` and `broken-reg gc` in dist/broken-reg: imports of an OCI layout
// and a docker archive, a pre-pull served offline, random images equal to generated ones, gc
// dry-run and real runs over pushed, proxied and stray content, and gc beside pushes in progress.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import {
  BINARY,
  buildLabelledLayout,
  buildOciLayout,
  buildSingleImageLayout,
  ensureBinary,
  type ImageDigests,
  LAYOUT_TAG,
  listTree,
  makeTempDir,
  NEEDS,
  readOciLayout,
  removeDir,
  run,
  serveArgs,
  type Server,
  sha256,
  skopeo,
  startDockerRegistry,
  startScratchServer,
  startServer,
  testIf,
} from './_harness.ts'

const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ')
/** The repository and tag the upstream registries here hold, pulled as `team/app:1`. */
const UPSTREAM_REF = 'team/app:1'

let tmp: string | undefined
let built: { index: ImageDigests; single: ImageDigests }
/** The environment of every broken-reg run: no docker credentials, no BLOB_DIR. */
let env: Record<string, string | undefined>
let dirs = 0
let pulls = 0
/** Everything started here, stopped in reverse order by afterAll. */
const stops: (() => Promise<unknown>)[] = []

const inTmp = (name: string) => join(tmp!, name)
const freshDir = (name: string) => inTmp(`${name}-${++dirs}`)

beforeAll(async () => {
  tmp = await makeTempDir('seed-gc')
  await ensureBinary()
  built = {
    index: await buildOciLayout(inTmp('index')),
    single: await buildSingleImageLayout(inTmp('single')),
  }
  const home = inTmp('home')
  await mkdir(join(home, 'docker'), { recursive: true })
  env = { ...process.env, HOME: home, DOCKER_CONFIG: join(home, 'docker') }
  delete env.REGISTRY_AUTH_FILE
  delete env.BLOB_DIR
}, 600_000)

afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => {})
  await removeDir(tmp)
}, 120_000)

// ---------------------------------------------------------------------------------------------
// broken-reg, upstreams and skopeo

/** Runs `dist/broken-reg ...args` to completion (2 min at most). */
const brokenReg = (args: string[]) => run([BINARY, ...args], { env, timeoutMs: 120_000 })

/** Runs broken-reg and asserts its exit code, showing everything it printed if it differs. */
async function brokenRegExits(code: number, args: string[]) {
  const result = await brokenReg(args)
  const output = `broken-reg ${
    args.join(' ')
  }\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`
  expect(result.code, output).toBe(code)
  return result
}

/** Starts `serve` on a data dir (stopped by afterAll if the test does not stop it). */
async function serve(dataDir: string, extra: string[] = []) {
  const server = await startServer([BINARY, ...serveArgs(dataDir), ...extra], { env })
  stops.push(server.stop)
  return server
}

/** A docker-registry in its own dir under tmp holding the index image as team/app:1. */
async function startUpstream() {
  const dir = freshDir('upstream')
  await mkdir(dir, { recursive: true })
  const registry = await startDockerRegistry(dir)
  stops.push(registry.stop)
  await push(registry, 'index', UPSTREAM_REF)
  return registry
}

/** Runs skopeo and asserts that it succeeded, showing its stderr if not. */
async function skopeoOk(args: string[]) {
  const result = await skopeo(args)
  expect(result.code, `skopeo ${args.join(' ')}\n${result.stderr}`).toBe(0)
  return result.stdout
}

/** Pushes the image of a layout in tmp with every platform and its digests as they are. */
const push = (server: Server, layout: string, ref: string) =>
  skopeoOk([
    ...['copy', '--all', '--preserve-digests', '--dest-tls-verify=false'],
    `oci:${inTmp(layout)}:${LAYOUT_TAG}`,
    `docker://${server.hostPort}/${ref}`,
  ])

/** Pulls an image with every platform into a fresh layout and reads back its digests. */
async function pull(server: Server, ref: string): Promise<ImageDigests> {
  const layout = inTmp(`pull-${++pulls}`)
  await skopeoOk([
    ...['copy', '--all', '--preserve-digests', '--src-tls-verify=false', '--src-no-creds'],
    `docker://${server.hostPort}/${ref}`,
    `oci:${layout}:${LAYOUT_TAG}`,
  ])
  return readOciLayout(layout)
}

/** The JSON objects a `--json` run printed, one a line; fails on a line that is not JSON. */
function jsonLines(stdout: string): Record<string, unknown>[] {
  const lines = stdout.split('\n').filter((line) => line.trim() !== '')
  return lines.map((line) => {
    try {
      return JSON.parse(line)
    } catch {
      throw new Error(`Not a JSON line: ${line}\n--- stdout ---\n${stdout}`)
    }
  })
}

/** Where the fs storage keeps a blob: blobs/sha256/<xx>/<hex>. */
const blobFile = (dataDir: string, digest: string) => {
  const hex = digest.slice('sha256:'.length)
  return join(dataDir, 'blobs/sha256', hex.slice(0, 2), hex)
}

/** Every digest of an image as ImageDigests lists it, the top one first. */
const digestsOf = (image: ImageDigests) => [
  ...new Set([image.digest, ...image.manifests, ...image.configs, ...image.layers]),
]

// ---------------------------------------------------------------------------------------------

describe('broken-reg seed', () => {
  testIf(NEEDS.skopeo)(
    'seed import of an OCI layout serves the index with every digest unchanged',
    async () => {
      const data = freshDir('data')
      const { stdout } = await brokenRegExits(0, [
        ...['seed', 'import', inTmp('index'), '--as', 'team/app:v1', '--data-dir', data],
      ])
      expect(stdout).toContain(`ok broken/prepared/team/app:v1: ${built.index.digest}`)
      const server = await serve(data)
      expect(await pull(server, 'broken/prepared/team/app:v1')).toEqual(built.index)
      expect(await server.stop()).toBe(0)
    },
    120_000,
  )

  testIf(NEEDS.skopeo)(
    'seed import of a docker archive keeps the config digest and the layer diff_ids',
    async () => {
      const archive = inTmp('image.tar')
      await skopeoOk([
        'copy',
        `oci:${inTmp('single')}:${LAYOUT_TAG}`,
        `docker-archive:${archive}:team/img:v1`,
      ])
      const unpacked = freshDir('archive')
      await mkdir(unpacked)
      const untar = await run(['tar', '-xf', archive, '-C', unpacked])
      expect(untar.code, untar.stderr).toBe(0)
      const [entry] = JSON.parse(await readFile(join(unpacked, 'manifest.json'), 'utf8'))
      const configBytes = await readFile(join(unpacked, entry.Config))
      const configDigest = sha256(configBytes)
      const diffIds: string[] = JSON.parse(configBytes.toString()).rootfs.diff_ids
      expect(diffIds).toHaveLength(2)

      const data = freshDir('data')
      await brokenRegExits(0, ['seed', 'import', archive, '--as', 'arch:v1', '--data-dir', data])
      const server = await serve(data)
      const ref = `docker://${server.hostPort}/broken/prepared/arch:v1`
      const manifest = JSON.parse(await skopeoOk(['inspect', '--raw', '--tls-verify=false', ref]))
      expect(manifest.config.digest).toBe(configDigest)
      const config = await skopeoOk(['inspect', '--config', '--raw', '--tls-verify=false', ref])
      expect(sha256(config)).toBe(configDigest)
      expect(JSON.parse(config).rootfs.diff_ids).toEqual(diffIds)

      // dir: keeps the manifest and every blob as the registry sends them, named by hex digest.
      const copy = freshDir('dir')
      await skopeoOk(['copy', '--src-tls-verify=false', '--src-no-creds', ref, `dir:${copy}`])
      const pulled = JSON.parse(await readFile(join(copy, 'manifest.json'), 'utf8'))
      expect(pulled.config.digest).toBe(configDigest)
      const layerDiffIds = await Promise.all(
        pulled.layers.map(async (layer: { digest: string }) => {
          const bytes = await readFile(join(copy, layer.digest.slice('sha256:'.length)))
          expect(sha256(bytes)).toBe(layer.digest)
          const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b
          return sha256(gzipped ? gunzipSync(bytes) : bytes)
        }),
      )
      expect(layerDiffIds).toEqual(diffIds)
      expect(await server.stop()).toBe(0)
    },
    120_000,
  )

  testIf(NEEDS.skopeo, NEEDS.dockerRegistry)(
    'seed pull caches an upstream image that serve answers after the upstream stops',
    async () => {
      const upstream = await startUpstream()
      const data = freshDir('data')
      const { stdout } = await brokenRegExits(0, [
        ...['seed', 'pull', '--upstream', upstream.hostPort, UPSTREAM_REF, '--data-dir', data],
      ])
      expect(stdout).toContain(built.index.digest)
      expect(existsSync(join(data, 'repositories', upstream.hostPort, 'team/app'))).toBe(true)
      await upstream.stop() // docker-registry exits 143 on SIGTERM
      const server = await serve(data, ['--upstream', upstream.hostPort])
      expect(await pull(server, UPSTREAM_REF)).toEqual(built.index)
      expect(await server.stop()).toBe(0)
    },
    120_000,
  )

  test(
    'seed random stores the image a fresh server generates, and --json prints JSON lines',
    async () => {
      const tag = 'layers-2_size-4k'
      const data = freshDir('data')
      const { stdout } = await brokenRegExits(0, [
        'seed',
        'random',
        '--json',
        tag,
        '--data-dir',
        data,
      ])
      const lines = jsonLines(stdout)
      expect(lines).toEqual([
        {
          item: `broken/random:${tag}`,
          ok: true,
          result: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
          bytes: expect.any(Number),
          seconds: expect.any(Number),
        },
        { done: 1, failed: 0, bytes: expect.any(Number) },
      ])
      const head = async (server: Server) => {
        const res = await fetch(`${server.url}/v2/broken/random/manifests/${tag}`, {
          method: 'HEAD',
          headers: { Accept: MANIFEST_ACCEPT },
        })
        expect(res.status).toBe(200)
        return res.headers.get('Docker-Content-Digest')
      }
      const seeded = await serve(data)
      const fresh = await startScratchServer([BINARY])
      stops.push(fresh.stop)
      const digest = await head(fresh)
      expect(digest).toBe(lines[0].result as string)
      expect(await head(seeded)).toBe(digest)
      expect(await seeded.stop()).toBe(0)
      expect(await fresh.stop()).toBe(0)
    },
    60_000,
  )

  test('seed reports a failing item, stores the rest and exits 1; bad usage exits 2', async () => {
    const data = freshDir('data')
    const { stdout } = await brokenRegExits(1, [
      ...['seed', 'random', '--json', 'layers-x_size-1k', 'layers-1_size-1k', '--data-dir', data],
    ])
    expect(jsonLines(stdout)).toEqual([
      { item: 'broken/random:layers-x_size-1k', ok: false, error: expect.any(String) },
      expect.objectContaining({ item: 'broken/random:layers-1_size-1k', ok: true }),
      { done: 1, failed: 1, bytes: expect.any(Number) },
    ])
    await brokenRegExits(2, ['seed', '--data-dir', data])
    await brokenRegExits(2, ['seed', 'import', inTmp('index'), '--data-dir', data])
    await brokenRegExits(2, ['gc', '--data-dir', data, '--grace', '5x'])
  }, 60_000)
})

// ---------------------------------------------------------------------------------------------

/** One gc action as `--json` prints it. */
interface GcLine {
  kind: string
  repository?: string
  target: string
  bytes: number
  reason: string
  dryRun: boolean
}

/** Runs gc with `--json`; returns its actions and its summary. */
async function gc(dataDir: string, args: string[]) {
  const { stdout } = await brokenRegExits(0, ['gc', '--data-dir', dataDir, '--json', ...args])
  const lines = jsonLines(stdout)
  const summary = lines.at(-1) as {
    removed: number
    bytesFreed: number
    dryRun: boolean
    seconds: number
  }
  expect(summary).toEqual({
    removed: lines.length - 1,
    bytesFreed: expect.any(Number),
    dryRun: args.includes('--dry-run'),
    seconds: expect.any(Number),
  })
  return { actions: lines.slice(0, -1) as unknown as GcLine[], summary }
}

const describeAction = (a: { kind: string; repository?: string; target: string }) =>
  `${a.kind} ${a.repository ?? '-'} ${a.target}`

describe('broken-reg gc', () => {
  testIf(NEEDS.skopeo, NEEDS.dockerRegistry)(
    'gc --dry-run lists a stray blob and an expired proxy cache, changing nothing; gc removes them',
    async () => {
      const upstream = await startUpstream()
      const data = freshDir('data')
      await brokenRegExits(0, [
        ...['seed', 'pull', '--upstream', upstream.hostPort, UPSTREAM_REF, '--data-dir', data],
      ])
      let server = await serve(data)
      await push(server, 'single', 'broken/prepared/gc/app:v1')
      const stray = randomBytes(3000)
      const strayDigest = sha256(stray)
      const res = await fetch(
        `${server.url}/v2/broken/prepared/gc/app/blobs/uploads/?digest=${strayDigest}`,
        { method: 'POST', body: stray, headers: { 'Content-Type': 'application/octet-stream' } },
      )
      expect(res.status).toBe(201)
      expect(await server.stop()).toBe(0)
      await Bun.sleep(20) // max-age 0s expires what was pulled strictly before now

      const cache = `${upstream.hostPort}/team/app`
      const cached = digestsOf(built.index)
      const sizes = new Map<string, number>([[strayDigest, stray.length]])
      for (const digest of cached) sizes.set(digest, (await stat(blobFile(data, digest))).size)
      const expected = [
        { kind: 'tag', repository: cache, target: '1' },
        ...[built.index.digest, ...built.index.manifests].map((target) => ({
          kind: 'manifest',
          repository: cache,
          target,
        })),
        ...cached.map((target) => ({ kind: 'link', repository: cache, target })),
        { kind: 'link', repository: 'broken/prepared/gc/app', target: strayDigest },
        ...[...cached, strayDigest].map((target) => ({ kind: 'blob', target })),
      ].map(describeAction).sort()
      const bytesFreed = [...sizes.values()].reduce((n, size) => n + size, 0)
      const args = ['--grace', '0s', '--max-age', '0s']

      const before = await listTree(data)
      const dry = await gc(data, [...args, '--dry-run'])
      expect(dry.actions.map(describeAction).sort()).toEqual(expected)
      expect(dry.actions.every((a) => a.dryRun === true)).toBe(true)
      for (const a of dry.actions.filter((a) => a.kind === 'blob')) {
        expect(a.bytes, a.target).toBe(sizes.get(a.target)!)
      }
      expect(dry.summary.bytesFreed).toBe(bytesFreed)
      expect(await listTree(data)).toEqual(before)

      const real = await gc(data, args)
      expect(real.actions.map(describeAction).sort()).toEqual(expected)
      expect(real.actions.every((a) => a.dryRun === false)).toBe(true)
      expect(real.summary.bytesFreed).toBe(bytesFreed)
      for (const digest of [...cached, strayDigest]) {
        expect(existsSync(blobFile(data, digest)), digest).toBe(false)
      }
      for (const digest of digestsOf(built.single)) {
        expect(existsSync(blobFile(data, digest)), digest).toBe(true)
      }
      expect((await gc(data, args)).actions).toEqual([])

      server = await serve(data)
      expect(await pull(server, 'broken/prepared/gc/app:v1')).toEqual(built.single)
      expect(await server.stop()).toBe(0)
    },
    180_000,
  )

  testIf(NEEDS.skopeo)(
    'gc --untagged running over and over beside pushes loses none of the pushed images',
    async () => {
      const data = freshDir('data')
      const server = await serve(data)
      const images: ImageDigests[] = []
      for (let i = 0; i < 150; i++) {
        images.push(await buildLabelledLayout(inTmp(`race-${i}`), `race ${i}`))
      }
      const deadline = Date.now() + 20_000
      // Each loop stops the other when it ends, also when it fails.
      let running = true
      const gcRuns: { removed: number }[] = []

      const pushLoop = async () => {
        const pushed: number[] = []
        try {
          for (let i = 0; running && i < images.length && Date.now() < deadline; i++) {
            await push(server, `race-${i}`, `broken/prepared/race:t${i}`)
            expect(await pull(server, `broken/prepared/race:t${i}`)).toEqual(images[i])
            pushed.push(i)
          }
        } finally {
          running = false
        }
        return pushed
      }
      const gcLoop = async () => {
        // The default grace (1h) keeps blobs of a push whose manifest has not arrived yet.
        try {
          while (running && gcRuns.length < 500) {
            gcRuns.push((await gc(data, ['--untagged'])).summary)
          }
        } finally {
          running = false
        }
      }
      const [pushed] = await Promise.all([pushLoop(), gcLoop()])
      expect(pushed.length).toBeGreaterThanOrEqual(5)
      expect(gcRuns.length).toBeGreaterThanOrEqual(2)
      expect(gcRuns.filter((run) => run.removed !== 0)).toEqual([])
      for (const i of pushed) {
        expect(await pull(server, `broken/prepared/race:t${i}`)).toEqual(images[i])
      }
      expect(await readdir(join(data, 'repositories/broken/prepared/race/_manifests/tags')))
        .toHaveLength(pushed.length)
      expect(await server.stop()).toBe(0)
    },
    180_000,
  )
})
