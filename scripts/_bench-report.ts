// The output of scripts/bench.ts: raw lines while measuring, then one table comparing broken-reg
// with the peer against the spec's targets, and one line of ratios.

/** One registry's figures, by metric key. */
export type Figures = Map<string, number>

interface Metric {
  key: string
  label: string
  unit: string
  /** The spec's target: a minimum ratio ours/peer, or a maximum for our own figure. */
  target?: { minRatio: number } | { max: number }
}

function metrics(streams: number): Metric[] {
  const manifest = (method: string): Metric[] => {
    const key = `manifest-${method.toLowerCase()}`
    return [
      { key, label: `manifest ${method}`, unit: 'req/s', target: { minRatio: 10 } },
      { key: `${key}-p50`, label: '  p50 latency', unit: 'ms' },
      { key: `${key}-p99`, label: '  p99 latency', unit: 'ms', target: { max: 20 } },
    ]
  }
  return [
    { key: 'push-mono', label: 'push monolithic', unit: 'MiB/s', target: { minRatio: 3 } },
    { key: 'push-chunked', label: 'push chunked', unit: 'MiB/s', target: { minRatio: 3 } },
    { key: 'rss-mono', label: 'peak RSS, monolithic', unit: 'MiB', target: { max: 200 } },
    { key: 'rss-chunked', label: 'peak RSS, chunked', unit: 'MiB', target: { max: 200 } },
    { key: 'pull-1', label: 'pull 1 stream', unit: 'MiB/s', target: { minRatio: 1.3 } },
    {
      key: `pull-${streams}`,
      label: `pull ${streams} streams`,
      unit: 'MiB/s',
      target: { minRatio: 1.3 },
    },
    ...manifest('GET'),
    ...manifest('HEAD'),
    { key: 'startup', label: 'start-up', unit: 'ms', target: { max: 50 } },
    {
      key: 'proxy-first-byte',
      label: 'proxied blob, first byte',
      unit: 'ms',
      target: { max: 1000 },
    },
    { key: 'proxy-uncached', label: 'proxied blob, uncached', unit: 'MiB/s' },
    { key: 'proxy-cached', label: 'proxied blob, cached', unit: 'MiB/s' },
    { key: 'random-gzip', label: 'random layer generated', unit: 'MiB/s' },
  ]
}

/** Prints one raw measurement as it is made. */
export function printRaw(key: string, text: string) {
  console.log(`  ${key.padEnd(14)} ${text}`)
}

/** Prints the comparison table and the line of ratios. */
export function printReport(label: string, streams: number, ours: Figures, peer?: Figures) {
  const rows = metrics(streams).filter((m) => ours.has(m.key))
  const ratio = (m: Metric) => {
    const p = peer?.get(m.key)
    return p ? ours.get(m.key)! / p : undefined
  }
  const verdict = (m: Metric): [string, string] => {
    if (!m.target) return ['', '']
    if ('max' in m.target) {
      return [`< ${m.target.max} ${m.unit}`, ours.get(m.key)! < m.target.max ? 'ok' : 'MISS']
    }
    const r = ratio(m)
    return [
      `>= ${m.target.minRatio}x`,
      r === undefined ? '?' : r >= m.target.minRatio ? 'ok' : 'MISS',
    ]
  }
  const orDash = (n: number | undefined, suffix = '') => n === undefined ? '-' : fmt(n) + suffix
  const table = [
    ['metric', 'unit', label, 'peer', 'ours/peer', 'target', ''],
    ...rows.map((m) => [
      m.label,
      m.unit,
      fmt(ours.get(m.key)!),
      orDash(peer?.get(m.key)),
      orDash(ratio(m), 'x'),
      ...verdict(m),
    ]),
  ]
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)))
  const align = (cell: string, i: number) =>
    i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])
  console.log()
  for (const row of table) console.log(row.map(align).join('  ').trimEnd())
  const ratios = rows.filter((m) => m.target && 'minRatio' in m.target && ratio(m) !== undefined)
  if (ratios.length === 0) return
  const summary = ratios.map((m) => `${m.key} ${fmt(ratio(m)!)}x (${verdict(m).join(' ')})`)
  console.log(`\n${summary.join('  ')}`)
}

/** Three significant figures or so: 1234, 56.7, 8.90. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  return n.toFixed(Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2)
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
