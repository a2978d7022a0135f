// Builds the self-contained binary: `bun scripts/build.ts` for this machine (dist/broken-reg),
// `--all` for every release target, each with a .sha256 file. With DENORT_BIN set it also runs
// `deno compile` (which otherwise downloads its runtime base).
import { createHash } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { basename } from 'node:path'
import process from 'node:process'
import { parseArgs } from 'node:util'

const ENTRY = 'src/main.ts'
const TARGETS = [
  ['bun-linux-x64', 'broken-reg-linux-x64'],
  ['bun-linux-x64-musl', 'broken-reg-linux-x64-musl'],
  ['bun-linux-arm64', 'broken-reg-linux-arm64'],
  ['bun-darwin-x64', 'broken-reg-darwin-x64'],
  ['bun-darwin-arm64', 'broken-reg-darwin-arm64'],
  ['bun-windows-x64', 'broken-reg-windows-x64.exe'],
] as const

const { values } = parseArgs({
  options: { all: { type: 'boolean' }, 'no-bytecode': { type: 'boolean' } },
})

async function run(command: string[], env: Record<string, string> = {}) {
  const child = Bun.spawn(command, {
    stdout: 'inherit',
    stderr: 'inherit',
    env: { ...process.env, ...env },
  })
  if (await child.exited !== 0) throw new Error(`failed: ${command.join(' ')}`)
}

async function writeChecksum(file: string) {
  const hex = createHash('sha256').update(await readFile(file)).digest('hex')
  await writeFile(`${file}.sha256`, `${hex}  ${basename(file)}\n`)
  console.log(`${file}  sha256:${hex}`)
}

/** `bun build --compile` of the entry for one target (or this machine's, without one). */
async function compile(outfile: string, target?: string) {
  const flags = ['--compile', '--minify', '--format=esm', '--sourcemap=none']
  // Bytecode starts the binary in about a third of the time; it must match the target's runtime.
  if (!values['no-bytecode']) flags.push('--bytecode')
  if (target) flags.push(`--target=${target}`)
  await run([process.execPath, 'build', ...flags, ENTRY, '--outfile', outfile])
  await writeChecksum(outfile)
}

await mkdir('dist', { recursive: true })
await compile('dist/broken-reg')
if (values.all) {
  for (const [target, name] of TARGETS) await compile(`dist/${name}`, target)
}
if (process.env.DENORT_BIN) {
  const deno = 'node_modules/.bin/deno'
  const out = 'dist/broken-reg-deno'
  await run([deno, 'compile', '--allow-all', '--output', out, ENTRY])
  await writeChecksum(out)
} else {
  console.log(
    'deno compile skipped: set DENORT_BIN to a denort base binary (it cannot be downloaded here)',
  )
}
