// Process plumbing for scripts/bench.ts: a cleanup scope, bounded child processes, and the
// registries under test (broken-reg in each target, the docker-registry peer, the null sink).
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'

export const ROOT = join(import.meta.dir, '..')
export const TARGETS = ['binary', 'bun', 'deno', 'peer', 'sink'] as const
export type Target = (typeof TARGETS)[number]

type Output = 'pipe' | 'ignore'
/** A child process of the bench; its stdin is always /dev/null. */
export type Child = Subprocess<'ignore', Output, Output>

/** Undo actions run last-in first-out by close(), which never throws. */
export interface Scope {
  defer: (fn: () => unknown) => void
  spawn: (cmd: string[], output?: { stdout?: Output; stderr?: Output }) => Child
  tempDir: (prefix: string) => Promise<string>
  close: () => Promise<void>
}

/** A scope that kills every process it spawned and removes every temp dir it made. */
export function createScope(): Scope {
  const undo: Array<() => unknown> = []
  const scope: Scope = {
    defer: (fn) => void undo.push(fn),
    spawn(cmd, { stdout = 'ignore', stderr = 'ignore' } = {}) {
      const proc = Bun.spawn(cmd, { cwd: ROOT, stdin: 'ignore', stdout, stderr })
      scope.defer(() => stopProcess(proc))
      return proc
    },
    async tempDir(prefix) {
      const dir = await mkdtemp(join(tmpdir(), prefix))
      scope.defer(() => rm(dir, { recursive: true, force: true }))
      return dir
    },
    async close() {
      for (let fn = undo.pop(); fn; fn = undo.pop()) {
        try {
          await fn()
        } catch (err) {
          console.error('cleanup failed:', err)
        }
      }
    },
  }
  return scope
}

/** SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
export async function stopProcess(proc: Subprocess, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
  await proc.exited
  clearTimeout(timer)
}

/** Runs a command to completion, killed after `timeoutMs`; returns its exit code and output. */
export async function runCommand(scope: Scope, cmd: string[], timeoutMs: number) {
  const proc = scope.spawn(cmd, { stdout: 'pipe', stderr: 'pipe' })
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs)
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  clearTimeout(timer)
  return { code, stdout, stderr }
}

export interface Server {
  label: string
  url: string
  pid: number
  /** The first stdout line of broken-reg, or the peer's version. */
  banner: string
  /** From spawn to the first successful GET /v2/. */
  startupMs: number
  stop: () => Promise<void>
}

const READY_TIMEOUT_MS = 20_000

/** Starts the registry `target` on a loopback port with its data under `dataDir`. */
export function startServer(
  scope: Scope,
  target: Target,
  dataDir: string,
  extraArgs: string[] = [],
): Promise<Server> {
  return target === 'peer'
    ? startPeer(scope, dataDir)
    : startBrokenReg(scope, target, dataDir, extraArgs)
}

/** Whether docker-registry (CNCF distribution, the peer) is on the PATH. */
export const hasPeer = () => Bun.which('docker-registry') !== null

function brokenRegCommand(target: Exclude<Target, 'peer'>): string[] {
  switch (target) {
    case 'binary': {
      const bin = join(ROOT, 'dist/broken-reg')
      if (!existsSync(bin)) throw new Error(`${bin} is missing: run bun scripts/build.ts`)
      return [bin]
    }
    case 'bun':
      return [process.execPath, 'src/main.ts']
    case 'deno':
      return [join(ROOT, 'node_modules/.bin/deno'), 'run', '--allow-all', 'src/main.ts']
    case 'sink':
      return [process.execPath, 'scripts/_bench-sink.ts']
  }
}

// broken-reg picks its own port (--port 0) and announces it on the first stdout line.
async function startBrokenReg(
  scope: Scope,
  target: Exclude<Target, 'peer'>,
  dataDir: string,
  extraArgs: string[],
) {
  const args = ['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...extraArgs]
  const cmd = [...brokenRegCommand(target), ...args]
  const t0 = performance.now()
  const proc = scope.spawn(cmd, { stdout: 'pipe' })
  const banner = await withDeadline(firstLine(proc, target), `${target}: no "listening on" line`)
  const url = /listening on (http:\/\/\S+)/.exec(banner)?.[1]
  if (!url) throw new Error(`${target}: unexpected first line ${JSON.stringify(banner)}`)
  await waitReady(url, proc, target)
  const startupMs = performance.now() - t0
  return server(target, url, proc, banner, startupMs)
}

// docker-registry logs nothing at level error, so give it a free port and poll it.
async function startPeer(scope: Scope, dataDir: string) {
  const port = await freePort()
  const config = join(dataDir, 'config.yml')
  await writeFile(config, peerConfig(join(dataDir, 'storage'), port))
  const t0 = performance.now()
  const proc = scope.spawn(['docker-registry', 'serve', config])
  const url = `http://127.0.0.1:${port}`
  await waitReady(url, proc, 'peer')
  const startupMs = performance.now() - t0
  return server('peer', url, proc, 'docker-registry (CNCF distribution)', startupMs)
}

// The Debian package's own config (in-memory blob descriptor cache, deletes enabled), minus
// auth, health checks and logging so that it does no work broken-reg does not.
const peerConfig = (root: string, port: number) =>
  `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: ${root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
`

function server(label: string, url: string, proc: Subprocess, banner: string, startupMs: number) {
  return { label, url, pid: proc.pid, banner, startupMs, stop: () => stopProcess(proc) }
}

async function firstLine(proc: Child, label: string): Promise<string> {
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let text = ''
  while (!text.includes('\n')) {
    const { done, value } = await reader.read()
    if (done) throw new Error(`${label} exited (code ${await proc.exited}) before printing a line`)
    text += decoder.decode(value, { stream: true })
  }
  // Keep draining so that later stdout writes never block the server.
  void (async () => {
    while (!(await reader.read()).done);
  })().catch(() => {})
  return text.slice(0, text.indexOf('\n'))
}

async function waitReady(url: string, proc: Subprocess, label: string): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${label} exited with code ${proc.exitCode}`)
    try {
      const res = await fetch(`${url}/v2/`)
      await res.arrayBuffer()
      if (res.ok) return
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`${label}: GET ${url}/v2/ never answered`)
    await Bun.sleep(2)
  }
}

function withDeadline<T>(promise: Promise<T>, message: string): Promise<T> {
  let timer: Timer | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), READY_TIMEOUT_MS)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

export interface ProcessReport {
  /** Highest VmRSS seen by sampling every `everyMs`. */
  peakMiB: number
  /** VmHWM at the end: the kernel's peak, reset at the start when clear_refs allows it. */
  hwmMiB: number
  hwmReset: boolean
  samples: number
  /** User plus system CPU time the process used meanwhile. */
  cpuSeconds: number
}

/** Samples a process's resident memory, and counts its CPU time, until stop() is called. */
export function sampleProcess(pid: number, everyMs = 50): { stop: () => ProcessReport } {
  let hwmReset = true
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5') // "5" resets VmHWM to the current RSS
  } catch {
    hwmReset = false
  }
  const cpuStart = cpuSecondsOf(pid)
  let peakMiB = 0
  let samples = 0
  const sample = () => {
    const mem = readMemory(pid)
    peakMiB = Math.max(peakMiB, mem.rssMiB)
    samples++
    return mem
  }
  sample()
  const timer = setInterval(sample, everyMs)
  return {
    stop() {
      clearInterval(timer)
      const { hwmMiB } = sample()
      return { peakMiB, hwmMiB, hwmReset, samples, cpuSeconds: cpuSecondsOf(pid) - cpuStart }
    },
  }
}

function readMemory(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s*(\\d+) kB`, 'm').exec(status)?.[1])
  return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 }
}

// utime and stime are fields 14 and 15 of /proc/PID/stat, in clock ticks (100 per second on
// Linux); the command name in field 2 may hold spaces, so count from its closing parenthesis.
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/**
 * Removes every file of at least `minBytes` under `dir`, freeing its page cache. Removed, not
 * emptied: ext4 flushes a file to disk when it is renamed over an existing one, which would make
 * the next push of the same blob wait for the disk.
 */
export async function removeFilesOver(dir: string, minBytes: number): Promise<void> {
  for (const entry of await readdir(dir, { recursive: true })) {
    const path = join(dir, entry)
    const info = await stat(path)
    if (info.isFile() && info.size >= minBytes) await rm(path)
  }
}
