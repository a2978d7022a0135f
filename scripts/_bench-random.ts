// Throughput of the random layer generator: MiB/s of a gzip layer streamed and SHA-256 hashed as a
// registry stores it, under this runtime and (from Bun) under Deno. `bun scripts/_bench-random.ts`
// [--size 1g] [--compression gzip|zstd|none] [--seconds 60] [--json]; figures are printed only.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { nativeHasher } from '../src/crypto/native.ts'
import { randomLayer } from '../src/images/random.ts'
import { parseSize } from '../src/util/size.ts'

const MiB = 1024 * 1024

/** One measurement: the first pass also hashes the tar for the diffID, a repeat pass does not. */
export interface RandomFigures {
  runtime: string
  bytes: number
  firstMiBs: number
  repeatMiBs: number
  complete: boolean
}

/** Streams one layer twice within `seconds` in total, hashing the output as a blob store would. */
export async function benchRandom(
  size: number,
  compression: 'gzip' | 'none' | 'zstd',
  seconds: number,
): Promise<RandomFigures> {
  const spec = { salt: 'bench', layers: 1, size, format: 'oci', platforms: 0, compression } as const
  const layer = randomLayer(spec, 0, 0, nativeHasher)
  const deadline = performance.now() + seconds * 1000
  const pass = async (until: number) => {
    const hash = createHash('sha256')
    let bytes = 0
    const start = performance.now()
    const reader = layer.stream().getReader()
    while (performance.now() < until) {
      const { done, value } = await reader.read()
      if (done) break
      hash.update(value)
      bytes += value.byteLength
    }
    await reader.cancel()
    hash.digest('hex')
    return { bytes, mibs: bytes / MiB / ((performance.now() - start) / 1000) }
  }
  const first = await pass(performance.now() + (deadline - performance.now()) / 2)
  const repeat = await pass(deadline)
  return {
    runtime: runtimeName(),
    bytes: first.bytes,
    firstMiBs: first.mibs,
    repeatMiBs: repeat.mibs,
    complete: first.bytes === layer.size && repeat.bytes === layer.size,
  }
}

function runtimeName(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } }
  if (g.Bun) return `bun ${g.Bun.version}`
  if (g.Deno) return `deno ${g.Deno.version.deno}`
  return `node ${process.version}`
}

function print(f: RandomFigures, compression: string) {
  const note = f.complete ? '' : ' (stopped at the time limit)'
  console.log(
    `  ${f.runtime.padEnd(12)} ${compression} ${(f.bytes / MiB).toFixed(0)} MiB: ` +
      `${f.firstMiBs.toFixed(0)} MiB/s first pass (with diffID), ` +
      `${f.repeatMiBs.toFixed(0)} MiB/s repeat${note}`,
  )
}

async function main(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: 'string', default: '1g' },
      compression: { type: 'string', default: 'gzip' },
      seconds: { type: 'string', default: '60' },
      json: { type: 'boolean', default: false },
      'this-runtime-only': { type: 'boolean', default: false },
    },
  })
  const compression = values.compression as 'gzip' | 'none' | 'zstd'
  const seconds = Number(values.seconds)
  const figures = [await benchRandom(parseSize(values.size), compression, seconds)]
  if ('Bun' in globalThis && !values['this-runtime-only']) {
    // The same script under Deno, from the project root so deno.json applies.
    const self = fileURLToPath(import.meta.url)
    const root = dirname(dirname(self))
    const args = ['run', '--allow-all', self, ...argv, '--json', '--this-runtime-only']
    const child = spawnSync(join(root, 'node_modules/.bin/deno'), args, {
      cwd: root,
      encoding: 'utf8',
      timeout: (seconds + 30) * 1000,
    })
    if (child.status === 0) figures.push(JSON.parse(child.stdout) as RandomFigures)
    else console.error(`deno run failed: ${child.error ?? child.stderr}`)
  }
  if (values.json) console.log(JSON.stringify(figures.length === 1 ? figures[0] : figures))
  else for (const f of figures) print(f, compression)
}

if ((import.meta as { main?: boolean }).main) await main(process.argv.slice(2))
