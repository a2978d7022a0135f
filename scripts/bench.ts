// Benchmarks broken-reg against its peer, docker-registry (CNCF distribution), on loopback: blob
// push and pull MiB/s, server RSS during pushes, manifest req/s and latency, start-up time.
// Measurements alternate between the registries; figures are printed, never asserted.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  createSyntheticBlob,
  loadManifest,
  MiB,
  pullBlob,
  pushChunked,
  pushMonolithic,
  pushSmallImage,
  type SyntheticBlob,
  timeFirstByte,
} from './_bench-client.ts'
import { benchRandom } from './_bench-random.ts'
import { type Figures, fmt, median, printRaw, printReport } from './_bench-report.ts'
import {
  createScope,
  hasPeer,
  removeFilesOver,
  ROOT,
  sampleProcess,
  type Scope,
  type Server,
  startServer,
  type Target,
  TARGETS,
} from './_bench-servers.ts'

const SECTIONS = ['push', 'rss', 'pull', 'manifest', 'startup', 'proxy', 'random'] as const
type Section = (typeof SECTIONS)[number]
const REPO = 'broken/prepared/bench'

const USAGE = `Usage: bun scripts/bench.ts [options]

  --target T        binary (dist/broken-reg, the default when built), bun or deno (src/main.ts
                    unbundled); peer or sink to check the bench itself (a second docker-registry,
                    or a null registry that shows the client's ceiling)
  --size-mib N      blob size of the push benchmarks (default 1024)
  --chunk-mib N     PATCH size of the chunked push (default 16)
  --pull-mib N      blob size of the pull benchmarks (default 256)
  --proxy-mib N     blob size of the proxy benchmark, served by the peer (default 512)
  --streams N       concurrent streams of the parallel pull, 2 or more (default 8)
  --duration S      seconds of load per manifest benchmark (default 10)
  --connections N   connections of the manifest benchmarks (default 64)
  --rounds N        push and pull rounds and start-ups, the median is reported (default 5)
  --only LIST       comma-separated subset of ${SECTIONS.join(',')}
  --no-peer         measure broken-reg alone
`

interface Options {
  target: Target
  sizeMiB: number
  chunkMiB: number
  pullMiB: number
  proxyMiB: number
  streams: number
  duration: number
  connections: number
  rounds: number
  only: Set<Section>
  peer: boolean
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string' },
      'size-mib': { type: 'string', default: '1024' },
      'chunk-mib': { type: 'string', default: '16' },
      'pull-mib': { type: 'string', default: '256' },
      'proxy-mib': { type: 'string', default: '512' },
      streams: { type: 'string', default: '8' },
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '64' },
      rounds: { type: 'string', default: '5' },
      only: { type: 'string', default: SECTIONS.join(',') },
      'no-peer': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) return undefined
  const count = (name: keyof typeof values, min = 1) => {
    const n = Number(values[name])
    if (!Number.isInteger(n) || n < min) {
      throw new RangeError(`--${name} must be an integer >= ${min}`)
    }
    return n
  }
  const target = values.target ?? (existsSync(join(ROOT, 'dist/broken-reg')) ? 'binary' : 'bun')
  if (!(TARGETS as readonly string[]).includes(target)) {
    throw new RangeError(`--target must be one of ${TARGETS.join(', ')}, not "${target}"`)
  }
  const only = new Set(values.only.split(',').map((s) => s.trim()).filter(Boolean))
  for (const s of only) {
    if (!(SECTIONS as readonly string[]).includes(s)) throw new RangeError(`--only: unknown "${s}"`)
  }
  return {
    target: target as Target,
    sizeMiB: count('size-mib'),
    chunkMiB: count('chunk-mib'),
    pullMiB: count('pull-mib'),
    proxyMiB: count('proxy-mib'),
    streams: count('streams', 2),
    duration: count('duration'),
    connections: count('connections'),
    rounds: count('rounds'),
    only: only as Set<Section>,
    peer: !values['no-peer'],
  }
}

interface Blobs {
  mono: SyntheticBlob
  chunked: SyntheticBlob
  pull: SyntheticBlob
  proxied: SyntheticBlob
}

/** A registry under test, running for the whole bench: ours first, then the peer. */
interface Registry {
  label: 'ours' | 'peer'
  target: Target
  server: Server
  dataDir: string
  figures: Figures
}

/**
 * What every section needs. Sections alternate between the registries round by round, so that
 * the load of the machine's other tenants drifts over both alike.
 */
interface Run {
  scope: Scope
  opts: Options
  blobs: Blobs
  registries: Registry[]
}

async function startRegistry(scope: Scope, label: Registry['label'], target: Target) {
  const dataDir = await scope.tempDir(`bench-${target}-`)
  const server = await startServer(scope, target, dataDir)
  console.log(`${label}: ${server.banner} (pid ${server.pid}, ${target})`)
  return { label, target, server, dataDir, figures: new Map() } satisfies Registry
}

function record(r: Registry, key: string, value: number, text: string) {
  r.figures.set(key, value)
  printRaw(key, `${r.label.padEnd(4)}  ${text}`)
}

const roundsText = (values: number[]) =>
  `${values.map(fmt).join(' ')} -> median ${fmt(median(values))}`

// Push MiB/s (the median of the rounds after a warm-up), and the server's CPU time and its peak
// memory over all rounds while it receives the blob.
async function benchPushes({ opts, blobs, registries }: Run) {
  const pushes = {
    mono: (url: string) => pushMonolithic(url, REPO, blobs.mono),
    chunked: (url: string) => pushChunked(url, REPO, blobs.chunked, opts.chunkMiB * MiB),
  }
  for (const [kind, push] of Object.entries(pushes)) {
    const rounds = new Map(
      registries.map((r) => [r, {
        rates: [] as number[],
        cpu: [] as number[],
        rss: 0,
        hwmSinceStart: false,
      }]),
    )
    for (let round = 0; round <= opts.rounds; round++) {
      for (const r of registries) {
        const sampler = sampleProcess(r.server.pid)
        const seconds = await push(r.server.url)
        const proc = sampler.stop()
        const seen = rounds.get(r)!
        seen.rss = Math.max(seen.rss, proc.peakMiB, proc.hwmMiB)
        seen.hwmSinceStart ||= !proc.hwmReset
        if (round > 0) { // round 0 warms up
          seen.rates.push(opts.sizeMiB / seconds)
          seen.cpu.push(proc.cpuSeconds)
        }
        // On this VM the first touch of fresh page cache costs the server more CPU than the
        // push itself (650 MiB/s fell to 230 by the fourth GiB), so each push starts with the
        // memory the last one freed: no registry ever reads these blobs again.
        await removeFilesOver(r.dataDir, opts.sizeMiB * MiB)
      }
    }
    for (const [r, { rates, cpu, rss, hwmSinceStart }] of rounds) {
      r.figures.set(`rss-${kind}`, rss)
      const text = `${opts.sizeMiB} MiB, MiB/s per round: ${roundsText(rates)}; ` +
        `server CPU ${fmt(median(cpu))} s per push; peak RSS ${fmt(rss)} MiB` +
        (hwmSinceStart ? ' (VmHWM since start)' : '')
      record(r, `push-${kind}`, median(rates), text)
    }
  }
}

// Pull MiB/s of one blob on 1 and on N connections: the median of the rounds after a warm-up.
async function benchPulls({ scope, opts, blobs: { pull }, registries }: Run) {
  const urls = new Map<Registry, string>()
  for (const r of registries) {
    await pushMonolithic(r.server.url, REPO, pull)
    urls.set(r, `${r.server.url}/v2/${REPO}/blobs/${pull.digest}`)
  }
  for (const streams of [1, opts.streams]) {
    const rates = new Map(registries.map((r) => [r, [] as number[]]))
    for (let round = 0; round <= opts.rounds; round++) {
      for (const r of registries) {
        const { bytes, seconds } = await pullBlob(scope, urls.get(r)!, pull.size, streams)
        if (round > 0) rates.get(r)!.push(bytes / MiB / seconds) // round 0 warms up
      }
    }
    for (const [r, list] of rates) {
      const text = `${streams} x ${opts.pullMiB} MiB, MiB/s per round: ${roundsText(list)}`
      record(r, `pull-${streams}`, median(list), text)
    }
  }
}

// Manifest GET and HEAD: requests/s and latency under load, on a small pushed image.
async function benchManifests({ scope, opts, registries }: Run) {
  const urls = new Map<Registry, string>()
  for (const r of registries) urls.set(r, await pushSmallImage(r.server.url, REPO, 'bench'))
  for (const method of ['GET', 'HEAD'] as const) {
    const key = `manifest-${method.toLowerCase()}`
    for (const r of registries) {
      const load = await loadManifest(scope, urls.get(r)!, method, opts.connections, opts.duration)
      r.figures.set(`${key}-p50`, load.p50Ms)
      r.figures.set(`${key}-p99`, load.p99Ms)
      const how = `${load.tool}, ${opts.connections} connections, ${opts.duration} s`
      const latency = `p50 ${fmt(load.p50Ms)} ms, p99 ${fmt(load.p99Ms)} ms`
      const counts = `${load.ok} ok, ${load.failed} failed, ${fmt(load.rps)} req/s`
      record(r, key, load.rps, `${how}: ${counts}, ${latency}`)
    }
  }
}

// Start-up: spawn to the first successful GET /v2/, each time in a new empty data dir.
async function benchStartup({ scope, opts, registries }: Run) {
  const times = new Map(registries.map((r) => [r, [] as number[]]))
  for (let round = 0; round < opts.rounds; round++) {
    for (const r of registries) {
      const server = await startServer(scope, r.target, await scope.tempDir('bench-start-'))
      times.get(r)!.push(server.startupMs)
      await server.stop()
    }
  }
  for (const [r, list] of times) {
    record(r, 'startup', median(list), `ms: ${roundsText(list)}`)
  }
}

// Through the proxy: the peer holds a blob (512 MiB by default) and a second broken-reg pulls it
// through; first-byte latency and MiB/s uncached, then cached (to compare with pull-1).
async function benchProxy({ scope, opts, blobs: { proxied }, registries }: Run) {
  const [ours, peer] = registries
  if (!peer) return console.log('proxy skipped: it needs the peer as its upstream')
  // Names under broken/ are never proxied: the blob lives in an ordinary repository upstream.
  const repo = 'bench/proxied'
  await pushMonolithic(peer.server.url, repo, proxied)
  const upstream = new URL(peer.server.url).host
  const proxy = await startServer(scope, opts.target, await scope.tempDir('bench-proxy-'), [
    '--upstream',
    upstream,
  ])
  const url = `${proxy.url}/v2/${repo}/blobs/${proxied.digest}`
  const first = await timeFirstByte(scope, url, proxied.size)
  const uncached = proxied.size / MiB / first.seconds
  record(
    ours,
    'proxy-first-byte',
    first.firstByteMs,
    `first byte after ${fmt(first.firstByteMs)} ms`,
  )
  record(
    ours,
    'proxy-uncached',
    uncached,
    `${fmt(proxied.size / MiB)} MiB at ${fmt(uncached)} MiB/s`,
  )
  const rates: number[] = []
  for (let round = 0; round < opts.rounds; round++) {
    const { bytes, seconds } = await pullBlob(scope, url, proxied.size, 1)
    rates.push(bytes / MiB / seconds)
  }
  record(ours, 'proxy-cached', median(rates), `cached, MiB/s per round: ${roundsText(rates)}`)
  await proxy.stop()
}

// The random layer generator in this process: MiB/s of a gzip layer produced and hashed.
async function benchGenerator({ opts, registries: [ours] }: Run) {
  const figures = await benchRandom(opts.sizeMiB * MiB, 'gzip', 30)
  const text = `${fmt(figures.bytes / MiB)} MiB gzip layer on ${figures.runtime}: ` +
    `${fmt(figures.firstMiBs)} MiB/s with its diffID, ${fmt(figures.repeatMiBs)} MiB/s again`
  record(ours, 'random-gzip', figures.firstMiBs, text)
}

function createBlobs(opts: Options): Blobs {
  const t0 = performance.now()
  const pushSize = opts.only.has('push') || opts.only.has('rss') ? opts.sizeMiB * MiB : 0
  const blobs = {
    mono: createSyntheticBlob(pushSize, 1),
    chunked: createSyntheticBlob(pushSize, 2),
    pull: createSyntheticBlob(opts.only.has('pull') ? opts.pullMiB * MiB : 0, 3),
    proxied: createSyntheticBlob(opts.only.has('proxy') ? opts.proxyMiB * MiB : 0, 4),
  }
  console.log(`hashed the synthetic blobs in ${fmt((performance.now() - t0) / 1000)} s`)
  return blobs
}

async function main(scope: Scope, opts: Options) {
  const blobs = createBlobs(opts)
  const registries = [await startRegistry(scope, 'ours', opts.target)]
  if (!opts.peer) console.log('peer skipped (--no-peer)')
  else if (!hasPeer()) console.log('peer skipped: docker-registry is not installed')
  else registries.push(await startRegistry(scope, 'peer', 'peer'))
  const run = { scope, opts, blobs, registries }
  if (opts.only.has('push') || opts.only.has('rss')) await benchPushes(run)
  if (opts.only.has('pull')) await benchPulls(run)
  if (opts.only.has('manifest')) await benchManifests(run)
  if (opts.only.has('proxy')) await benchProxy(run)
  if (opts.only.has('random')) await benchGenerator(run)
  for (const r of registries) await r.server.stop() // idle, yet no company for the start-ups
  if (opts.only.has('startup')) await benchStartup(run)
  const [ours, peer] = registries
  printReport(`ours (${opts.target})`, opts.streams, ours.figures, peer?.figures)
}

let opts: Options | undefined
try {
  opts = parseOptions(Bun.argv.slice(2))
} catch (err) {
  console.error(`${err instanceof Error ? err.message : err}\n\n${USAGE}`)
  process.exit(2)
}
if (!opts) {
  console.log(USAGE)
} else {
  const scope = createScope()
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => void scope.close().finally(() => process.exit(130)))
  }
  try {
    await main(scope, opts)
  } catch (err) {
    console.error(`bench failed: ${err instanceof Error ? err.message : err}`)
    process.exitCode = 1
  } finally {
    await scope.close()
  }
}
