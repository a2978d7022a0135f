// Speed of `broken-reg gc` over a large store: blobs, manifests, tags and links written straight
// into a temp data dir (the tree drawn in src/storage/fs.ts), all older than the grace period.
// `bun scripts/_bench-gc.ts [--blobs 100000] [--manifests 3000] [--binary dist/broken-reg]`.
import { spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'

const ROOT = resolve(import.meta.dirname!, '..')
const REPOSITORIES = 30
/** Links to blobs no manifest refers to, which gc removes with the blobs. */
const STRAY_LINKS = 5000
/** Files are written this many at a time. */
const PARALLEL = 64
/** Backdated by two days: outside the default grace (1h) and upload TTL (24h). */
const AGE_MS = 2 * 24 * 3600 * 1000
const GC_TIMEOUT_MS = 10 * 60 * 1000

const { values } = parseArgs({
  options: {
    blobs: { type: 'string', default: '100000' },
    manifests: { type: 'string', default: '3000' },
    binary: { type: 'string', default: join(ROOT, 'dist/broken-reg') },
  },
})
const totalBlobs = Number(values.blobs)
const manifestCount = Number(values.manifests)
if (!(totalBlobs >= manifestCount * 4) || !(manifestCount >= REPOSITORIES)) {
  throw new RangeError(
    `--blobs must be at least 4 × --manifests, --manifests at least ${REPOSITORIES}`,
  )
}
if (!existsSync(values.binary)) throw new Error(`${values.binary} is missing: bun scripts/build.ts`)

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex')

/** Runs `task` over `items`, PARALLEL at a time. */
async function pool<T>(items: T[], task: (item: T) => Promise<void>) {
  let next = 0
  const worker = async () => {
    while (next < items.length) await task(items[next++])
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker))
}

/** A file to write, already backdated. */
interface Entry {
  path: string
  data: Uint8Array | string
}

/** The store: manifests of a config and two layers in REPOSITORIES repositories, two in three
 * tagged, and unreferenced blobs to fill up to `totalBlobs`, STRAY_LINKS of them linked. */
function planStore(dir: string) {
  const files: Entry[] = []
  const blob = (bytes: Uint8Array | string) => {
    const hex = sha256(bytes)
    files.push({ path: join(dir, 'blobs/sha256', hex.slice(0, 2), hex), data: bytes })
    return `sha256:${hex}`
  }
  const repo = (i: number) => `bench/repo-${String(i % REPOSITORIES).padStart(2, '0')}`
  const link = (name: string, digest: string) =>
    files.push({
      path: join(dir, 'repositories', name, '_layers/sha256', digest.slice(7)),
      data: '',
    })
  let tags = 0
  for (let i = 0; i < manifestCount; i++) {
    const name = repo(i)
    const descriptor = (mediaType: string, bytes: Uint8Array | string) => {
      const digest = blob(bytes)
      link(name, digest)
      return {
        mediaType,
        digest,
        size: typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length,
      }
    }
    const config = descriptor(
      'application/vnd.oci.image.config.v1+json',
      JSON.stringify({ image: i }),
    )
    const layers = [0, 1].map(() =>
      descriptor('application/vnd.oci.image.layer.v1.tar+gzip', randomBytes(256))
    )
    const mediaType = 'application/vnd.oci.image.manifest.v1+json'
    const bytes = JSON.stringify({ schemaVersion: 2, mediaType, config, layers })
    const digest = blob(bytes)
    link(name, digest)
    const record = { mediaType, size: Buffer.byteLength(bytes), origin: 'push' }
    files.push({
      path: join(dir, 'repositories', name, '_manifests/revisions/sha256', digest.slice(7)),
      data: JSON.stringify(record),
    })
    if (i % 3 !== 2) {
      files.push({
        path: join(dir, 'repositories', name, '_manifests/tags', `t${i}`),
        data: digest,
      })
      tags++
    }
  }
  const stray: string[] = []
  for (let i = manifestCount * 4; i < totalBlobs; i++) stray.push(blob(randomBytes(200)))
  for (let i = 0; i < Math.min(STRAY_LINKS, stray.length); i++) link(repo(i), stray[i])
  return { files, stray: stray.length, strayLinks: Math.min(STRAY_LINKS, stray.length), tags }
}

/** Files under blobs/sha256/<xx>/. */
const countBlobs = async (dir: string) =>
  (await readdir(join(dir, 'blobs/sha256'), { recursive: true })).filter((f) => f.includes('/'))
    .length

/** Runs `gc` with --json; returns its summary and the wall-clock seconds of the whole process. */
function runGc(dataDir: string, extra: string[]) {
  const started = performance.now()
  const result = spawnSync(values.binary, ['gc', '--data-dir', dataDir, '--json', ...extra], {
    encoding: 'utf8',
    maxBuffer: 1024 * 1024 * 1024,
    timeout: GC_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  })
  const wall = (performance.now() - started) / 1000
  if (result.status !== 0) {
    throw new Error(
      `gc ${extra.join(' ')} exited ${result.status ?? result.signal}: ${result.stderr}`,
    )
  }
  const lines = result.stdout.trimEnd().split('\n')
  const summary = JSON.parse(lines.at(-1)!) as {
    removed: number
    bytesFreed: number
    seconds: number
  }
  return { ...summary, wall }
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'broken-reg-bench-gc-'))
  try {
    const started = performance.now()
    const { files, stray, strayLinks, tags } = planStore(dir)
    const parents = [...new Set(files.map((f) => dirname(f.path)))]
    await pool(parents, (path) => mkdir(path, { recursive: true }).then(() => {}))
    const old = new Date(Date.now() - AGE_MS)
    await pool(files, async (f) => {
      await writeFile(f.path, f.data)
      await utimes(f.path, old, old)
    })
    await mkdir(join(dir, 'tmp'), { recursive: true })
    const blobCount = await countBlobs(dir)
    console.log(
      `store: ${blobCount} blobs, ${manifestCount} manifests (${tags} tagged) in ` +
        `${REPOSITORIES} repositories, ` +
        `${files.length} files, written in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    )
    const report = (label: string, r: ReturnType<typeof runGc>, expected: number) => {
      const items = blobCount + manifestCount
      console.log(
        `${label.padEnd(12)} ${r.wall.toFixed(2)} s wall (${r.seconds.toFixed(2)} s in gc), ` +
          `${Math.round(items / r.wall)} blobs+manifests/s scanned, ${r.removed} removals ` +
          `(${Math.round(r.removed / r.wall)}/s), ${(r.bytesFreed / 1024 / 1024).toFixed(1)} MiB`,
      )
      if (r.removed !== expected) console.log(`  !! expected ${expected} removals`)
    }
    // What the store holds beyond what the manifests use: the stray blobs and their links.
    const expected = stray + strayLinks
    report('gc --dry-run', runGc(dir, ['--dry-run']), expected)
    report('gc', runGc(dir, []), expected)
    report('gc again', runGc(dir, []), 0)
    const left = await countBlobs(dir)
    console.log(`blobs left: ${left} (expected ${manifestCount * 4})`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
