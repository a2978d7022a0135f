// Benchmarks broken-reg against its peer, docker-registry (CNCF distribution), on loopback: blob
// push and pull MiB/s, server RSS during pushes, manifest req/s and latency, start-up time.
// Both registries run one after the other, never together; figures are printed, never asserted.
import { rm } from 'node:fs/promises'
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
} from './_bench-client.ts'
import {
  createScope,
  hasPeer,
  ROOT,
  sampleRss,
  type Scope,
  startServer,
  type Target,
  TARGETS,
} from './_bench-servers.ts'

const SECTIONS = ['push', 'rss', 'pull', 'manifest', 'startup'] as const
type Section = (typeof SECTIONS)[number]
const REPO = 'broken/prepared/bench'

const USAGE = `Usage: bun scripts/bench.ts [options]

  --target T        binary (dist/broken-reg, the default when built), bun or deno (src/main.ts
                    unbundled); peer or sink to check the bench itself (a second docker-registry,
                    or a null registry that shows the client's ceiling)
  --size-mib N      blob size of the push benchmarks (default 1024)
  --chunk-mib N     PATCH size of the chunked push (default 16)
  --pull-mib N      blob size of the pull benchmarks (default 256)
  --streams N       concurrent streams of the parallel pull (default 8)
  --duration S      seconds of load per manifest benchmark (default 10)
  --connections N   connections of the manifest benchmarks (default 64)
  --rounds N        pull rounds and start-ups, the median is reported (default 5)
  --only LIST       comma-separated subset of ${SECTIONS.join(',')}
  --no-peer         measure broken-reg alone
`

interface Options {
  target: Target
  sizeMiB: number
  chunkMiB: number
  pullMiB: number
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
  const count = (name: keyof typeof values) => {
    const n = Number(values[name])
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name} must be a positive integer`)
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
    streams: count('streams'),
    duration: count('duration'),
    connections: count('connections'),
    rounds: count('rounds'),
    only: only as Set<Section>,
    peer: !values['no-peer'],
  }
}

/** One registry's figures, by metric key. */
type Figures = Map<string, number>

interface Blobs {
  mono: SyntheticBlob
  chunked: SyntheticBlob
  pull: SyntheticBlob
}

async function benchRegistry(scope: Scope, target: Target, opts: Options, blobs: Blobs) {
  const figures: Figures = new Map()
  const dataDir = await scope.tempDir(`bench-${target}-`)
  const server = await startServer(scope, target, dataDir)
  console.log(`\n${server.label}: ${server.banner} (pid ${server.pid})`)
  const base = server.url
  try {
    if (opts.only.has('push') || opts.only.has('rss')) {
      const chunkSize = opts.chunkMiB * MiB
      const pushes = {
        mono: () => pushMonolithic(base, REPO, blobs.mono),
        chunked: () => pushChunked(base, REPO, blobs.chunked, chunkSize),
      }
      for (const [kind, push] of Object.entries(pushes)) {
        const rss = sampleRss(server.pid)
        const seconds = await push()
        const mem = rss.stop()
        const mibs = opts.sizeMiB / seconds
        figures.set(`push-${kind}`, mibs)
        figures.set(`rss-${kind}`, Math.max(mem.peakMiB, mem.hwmMiB))
        const hwm = `VmHWM ${fmt(mem.hwmMiB)} MiB${mem.hwmReset ? '' : ' (since start)'}`
        raw(
          `push-${kind}`,
          `${opts.sizeMiB} MiB in ${fmt(seconds)} s = ${fmt(mibs)} MiB/s; ` +
            `VmRSS peak ${fmt(mem.peakMiB)} MiB over ${mem.samples} samples, ${hwm}`,
        )
      }
    }
    if (opts.only.has('pull')) {
      const { pull } = blobs
      await pushMonolithic(base, REPO, pull)
      const url = `${base}/v2/${REPO}/blobs/${pull.digest}`
      for (const streams of [1, opts.streams]) {
        const rates: number[] = []
        await pullBlob(scope, url, pull.size, streams) // warm-up: the first round is often slow
        for (let i = 0; i < opts.rounds; i++) {
          const { bytes, seconds } = await pullBlob(scope, url, pull.size, streams)
          rates.push(bytes / MiB / seconds)
        }
        figures.set(`pull-${streams === 1 ? 1 : 'n'}`, median(rates))
        raw(
          `pull-${streams}`,
          `${streams} x ${opts.pullMiB} MiB, MiB/s per round: ` +
            `${rates.map(fmt).join(' ')} -> median ${fmt(median(rates))}`,
        )
      }
    }
    if (opts.only.has('manifest')) {
      const url = await pushSmallImage(base, REPO, 'bench')
      for (const method of ['GET', 'HEAD'] as const) {
        const r = await loadManifest(scope, url, method, opts.connections, opts.duration)
        const key = `manifest-${method.toLowerCase()}`
        figures.set(key, r.rps)
        figures.set(`${key}-p50`, r.p50Ms)
        figures.set(`${key}-p99`, r.p99Ms)
        raw(
          key,
          `${r.tool}, ${opts.connections} connections, ${opts.duration} s: ${r.ok} ok, ` +
            `${r.failed} failed, ${fmt(r.rps)} req/s, p50 ${fmt(r.p50Ms)} ms, p99 ${
              fmt(r.p99Ms)
            } ms`,
        )
      }
    }
  } finally {
    await server.stop()
    await rm(dataDir, { recursive: true, force: true }) // free the disk before the next registry
  }
  if (opts.only.has('startup')) {
    const times: number[] = []
    for (let i = 0; i < opts.rounds; i++) {
      const dir = await scope.tempDir(`bench-${target}-start-`)
      const s = await startServer(scope, target, dir)
      times.push(s.startupMs)
      await s.stop()
    }
    figures.set('startup', median(times))
    raw(
      'startup',
      `spawn to first GET /v2/, ms: ${times.map(fmt).join(' ')} -> median ` +
        fmt(median(times)),
    )
  }
  return figures
}

// The table: what each metric is, and the spec's target for it.
interface Metric {
  key: string
  label: string
  unit: string
  /** A minimum ratio ours/peer, or a maximum for our own figure. */
  target?: { minRatio: number } | { max: number }
}

function metrics(opts: Options): Metric[] {
  const pull = (streams: number | string) => `pull ${streams} stream${streams === 1 ? '' : 's'}`
  const manifest = (m: string): Metric[] => [
    {
      key: `manifest-${m}`,
      label: `manifest ${m.toUpperCase()}`,
      unit: 'req/s',
      target: { minRatio: 10 },
    },
    { key: `manifest-${m}-p50`, label: `  p50 latency`, unit: 'ms' },
    { key: `manifest-${m}-p99`, label: `  p99 latency`, unit: 'ms', target: { max: 20 } },
  ]
  return [
    { key: 'push-mono', label: 'push monolithic', unit: 'MiB/s', target: { minRatio: 3 } },
    { key: 'push-chunked', label: 'push chunked', unit: 'MiB/s', target: { minRatio: 3 } },
    { key: 'rss-mono', label: 'peak RSS, monolithic', unit: 'MiB', target: { max: 200 } },
    { key: 'rss-chunked', label: 'peak RSS, chunked', unit: 'MiB', target: { max: 200 } },
    { key: 'pull-1', label: pull(1), unit: 'MiB/s', target: { minRatio: 1.3 } },
    { key: 'pull-n', label: pull(opts.streams), unit: 'MiB/s', target: { minRatio: 1.3 } },
    ...manifest('get'),
    ...manifest('head'),
    { key: 'startup', label: 'start-up', unit: 'ms', target: { max: 50 } },
  ]
}

function report(opts: Options, ours: Figures, peer: Figures | undefined) {
  const rows = metrics(opts).filter((m) => ours.has(m.key))
  const ratioOf = (m: Metric) => {
    const p = peer?.get(m.key)
    return p ? ours.get(m.key)! / p : undefined
  }
  const verdict = (m: Metric) => {
    if (!m.target) return ['', '']
    if ('max' in m.target) {
      return [`< ${m.target.max} ${m.unit}`, ours.get(m.key)! < m.target.max ? 'ok' : 'MISS']
    }
    const ratio = ratioOf(m)
    const status = ratio === undefined ? '?' : ratio >= m.target.minRatio ? 'ok' : 'MISS'
    return [`>= ${m.target.minRatio}x`, status]
  }
  const table = [
    ['metric', 'unit', `ours (${opts.target})`, 'peer', 'ours/peer', 'target', ''],
    ...rows.map((m) => {
      const ratio = ratioOf(m)
      const peerValue = peer?.get(m.key)
      return [
        m.label,
        m.unit,
        fmt(ours.get(m.key)!),
        peerValue === undefined ? '-' : fmt(peerValue),
        ratio === undefined ? '-' : `${fmt(ratio)}x`,
        ...verdict(m),
      ]
    }),
  ]
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)))
  console.log()
  for (const row of table) {
    console.log(
      row.map((cell, i) => i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))
        .join('  ').trimEnd(),
    )
  }
  const ratios = rows.filter((m) => m.target && 'minRatio' in m.target && ratioOf(m) !== undefined)
  if (ratios.length > 0) {
    console.log()
    console.log(
      ratios.map((m) =>
        `${m.key.replace('-n', `-${opts.streams}`)} ${fmt(ratioOf(m)!)}x` +
        ` (${verdict(m).join(' ')})`
      ).join('  '),
    )
  }
}

function raw(key: string, text: string) {
  console.log(`  ${key.padEnd(14)} ${text}`)
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  const digits = Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2
  return n.toFixed(digits)
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

function createBlobs(opts: Options): Blobs {
  const t0 = performance.now()
  const pushing = opts.only.has('push') || opts.only.has('rss')
  const pushSize = pushing ? opts.sizeMiB * MiB : 0
  const blobs = {
    mono: createSyntheticBlob(pushSize, 1),
    chunked: createSyntheticBlob(pushSize, 2),
    pull: createSyntheticBlob(opts.only.has('pull') ? opts.pullMiB * MiB : 0, 3),
  }
  console.log(`hashed the synthetic blobs in ${fmt((performance.now() - t0) / 1000)} s`)
  return blobs
}

async function main(scope: Scope, opts: Options) {
  const blobs = createBlobs(opts)
  const ours = await benchRegistry(scope, opts.target, opts, blobs)
  let peer: Figures | undefined
  if (!opts.peer) console.log('\npeer skipped (--no-peer)')
  else if (!hasPeer()) console.log('\npeer skipped: docker-registry is not installed')
  else peer = await benchRegistry(scope, 'peer', opts, blobs)
  report(opts, ours, peer)
}

const opts = parseOptions(Bun.argv.slice(2))
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
