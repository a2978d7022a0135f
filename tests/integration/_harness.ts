// Integration-test harness: starts broken-reg and real clients (skopeo, dockerd, containerd,
// docker-registry) privately on 127.0.0.1, and writes OCI image layouts by hand (no network).
import { afterAll, beforeAll, describe, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { type AddressInfo, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'

/** The repository root, where package.json and deno.json live. */
export const ROOT = resolve(import.meta.dir, '../..')
/** The compiled server that `bun scripts/build.ts` writes. */
export const BINARY = join(ROOT, 'dist/broken-reg')
const BUN = join(ROOT, 'node_modules/.bin/bun')
const DENO = join(ROOT, 'node_modules/.bin/deno')

/** How to run the server: unbundled under Bun or Deno (from ROOT), or the compiled binary. */
export const SERVER_COMMANDS = {
  bun: [BUN, 'src/main.ts'],
  deno: [DENO, 'run', '--allow-all', 'src/main.ts'],
  binary: [BINARY],
}

/** Arguments for `serve` on a free loopback port, storing in `dataDir`. */
export function serveArgs(dataDir: string): string[] {
  return ['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir]
}

// ---------------------------------------------------------------------------------------------
// Clients present on this machine, and tests that skip (saying why) when one is missing

/** Whether skopeo is installed. */
export const hasSkopeo = Bun.which('skopeo') !== null
/** Whether a private dockerd can run: dockerd and the docker CLI are installed and we are root. */
export const hasDockerd = Bun.which('dockerd') !== null && Bun.which('docker') !== null &&
  process.getuid?.() === 0
/** Whether a private containerd can run: containerd and ctr are installed and we are root. */
export const hasContainerd = Bun.which('containerd') !== null && Bun.which('ctr') !== null &&
  process.getuid?.() === 0
/** Whether podman is installed (it needs no daemon). */
export const hasPodman = Bun.which('podman') !== null
/** Whether the Debian `docker-registry` (CNCF Distribution 2.8) is installed. */
export const hasDockerRegistry = Bun.which('docker-registry') !== null
/** Whether the Deno binary from node_modules is there. */
export const hasDeno = existsSync(DENO)

/** A client that some tests need: whether it is usable here and, if not, why. */
export interface Need {
  ok: boolean
  why: string
}

/** The clients tests can ask for with testIf() and describeIf(). */
export const NEEDS = {
  skopeo: { ok: hasSkopeo, why: 'skopeo is not installed' },
  dockerd: {
    ok: hasDockerd,
    why: 'dockerd and docker must be installed and the tests run as root',
  },
  containerd: {
    ok: hasContainerd,
    why: 'containerd and ctr must be installed and the tests run as root',
  },
  dockerRegistry: { ok: hasDockerRegistry, why: 'docker-registry is not installed' },
  podman: { ok: hasPodman, why: 'podman is not installed' },
  deno: { ok: hasDeno, why: `${DENO} is missing` },
} satisfies Record<string, Need>

const skipNote = (needs: Need[]) => {
  const unmet = needs.filter((need) => !need.ok).map((need) => need.why)
  return unmet.length ? ` (skipped: ${unmet.join('; ')})` : ''
}

/** `test`, skipped with the reason in its title unless every need is met. */
export function testIf(...needs: Need[]) {
  const note = skipNote(needs)
  return (title: string, fn: () => Promise<void>, timeoutMs?: number) =>
    test.skipIf(note !== '')(title + note, fn, timeoutMs)
}

/** `describe`, skipped with the reason in its title unless every need is met. */
export function describeIf(...needs: Need[]) {
  const note = skipNote(needs)
  return (title: string, fn: () => void) => describe.skipIf(note !== '')(title + note, fn)
}

// ---------------------------------------------------------------------------------------------
// Temp dirs, ports, polling and processes

/** Creates a fresh directory in the system temp dir; names stay short so unix sockets fit. */
export const makeTempDir = (name: string) => mkdtemp(join(tmpdir(), `broken-reg-${name}-`))

/** Removes a directory tree; does nothing for `undefined` or a missing directory. */
export const removeDir = async (dir: string | undefined) => {
  if (dir) await rm(dir, { recursive: true, force: true })
}

/** Finds a free TCP port on 127.0.0.1 (for clients that cannot listen on port 0 and report). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolvePort(port))
    })
  })
}

/** Calls `probe` until it returns a value other than `undefined`; throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`)
    }
    await Bun.sleep(50)
  }
}

/** Exit code of a finished command and everything it printed. */
export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

/** Where and how the harness runs a command; `timeoutMs` is the deadline of each helper. */
export interface SpawnOptions {
  cwd?: string
  env?: Record<string, string | undefined>
  timeoutMs?: number
}

// bun test itself kills the children of a test that times out; afterAll hooks stop the rest.
const spawnChild = (cmd: string[], { cwd, env }: SpawnOptions, killAfterMs?: number) =>
  Bun.spawn(cmd, {
    cwd: cwd ?? ROOT,
    env: env ?? process.env,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    timeout: killAfterMs,
    killSignal: 'SIGKILL',
  })

/** Runs a command to completion (killed after `timeoutMs`, default 5 min) and collects output. */
export async function run(cmd: string[], opts: SpawnOptions = {}): Promise<RunResult> {
  const child = spawnChild(cmd, opts, opts.timeoutMs ?? 300_000)
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ])
  return { code, stdout, stderr }
}

/** A long-running child process whose output is collected as it comes. */
interface Daemon {
  /** The process id of the child. */
  pid: number
  /** How it ended (`code 1`, `signal SIGKILL`), or undefined while it runs. */
  ended(): string | undefined
  stdout(): string
  stderr(): string
  /** Sends SIGTERM (SIGKILL after 20 s) and resolves to the exit code (128 + signal if killed). */
  stop(): Promise<number>
}

async function collect(stream: ReadableStream<Uint8Array>, append: (text: string) => void) {
  const decoder = new TextDecoder()
  for await (const chunk of stream) append(decoder.decode(chunk, { stream: true }))
}

function spawnDaemon(cmd: string[], opts: SpawnOptions): Daemon {
  const child = spawnChild(cmd, opts)
  const out = { stdout: '', stderr: '' }
  void collect(child.stdout, (text) => (out.stdout += text))
  void collect(child.stderr, (text) => (out.stderr += text))
  const ended = () =>
    child.exitCode !== null
      ? `code ${child.exitCode}`
      : child.signalCode !== null
      ? `signal ${child.signalCode}`
      : undefined
  return {
    pid: child.pid,
    ended,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    async stop() {
      if (!ended()) child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      const code = await child.exited
      clearTimeout(timer)
      return code
    },
  }
}

/** Spawns a daemon and waits until `ready` returns a value; on failure stops it and says why. */
async function launch<T>(
  cmd: string[],
  what: string,
  ready: (daemon: Daemon) => T | undefined | Promise<T | undefined>,
  opts: SpawnOptions & { timeoutMs: number },
): Promise<{ daemon: Daemon; value: T }> {
  const daemon = spawnDaemon(cmd, opts)
  try {
    const value = await waitFor(what, () => {
      const ended = daemon.ended()
      if (ended) throw new Error(`It exited (${ended}) before ${what}`)
      return ready(daemon)
    }, opts.timeoutMs)
    return { daemon, value }
  } catch (err) {
    await daemon.stop()
    const output = `--- stdout ---\n${daemon.stdout()}\n--- stderr ---\n${daemon.stderr()}`
    throw new Error(`${cmd.join(' ')}: ${(err as Error).message}\n${output}`)
  }
}

// ---------------------------------------------------------------------------------------------
// broken-reg

/** A running registry: its base URL, its `host:port` for image references, and how to stop it. */
export interface Server {
  url: string
  hostPort: string
  /** The process id of the server (for /proc/<pid>/status). */
  pid: number
  /** SIGTERM, then the exit code (0 for a clean shutdown). */
  stop(): Promise<number>
  stderr(): string
}

/** Starts a server command and waits (default 20 s) for `listening on URL` as its first line. */
export async function startServer(cmd: string[], opts: SpawnOptions = {}): Promise<Server> {
  const { daemon, value: url } = await launch(cmd, 'a "listening on URL" line on stdout', (d) => {
    const stdout = d.stdout()
    if (!stdout.includes('\n')) return undefined
    const line = stdout.slice(0, stdout.indexOf('\n'))
    const url = /listening on (\S+)/.exec(line)?.[1]
    if (!url) throw new Error(`Its first stdout line is not "listening on URL": ${line}`)
    return url
  }, { timeoutMs: 20_000, ...opts })
  const hostPort = new URL(url).host
  return { url, hostPort, pid: daemon.pid, stop: daemon.stop, stderr: daemon.stderr }
}

/** Starts `serve` with a fresh temp data dir, which stop() removes. */
export async function startScratchServer(command: string[]): Promise<Server> {
  const dataDir = await makeTempDir('data')
  try {
    const server = await startServer([...command, ...serveArgs(dataDir)])
    const stop = () => server.stop().finally(() => removeDir(dataDir))
    return { ...server, stop }
  } catch (err) {
    await removeDir(dataDir)
    throw err
  }
}

let building: Promise<void> | undefined

/** Builds dist/broken-reg once per test process if it is missing or older than a file in src/. */
export function ensureBinary(): Promise<void> {
  building ??= buildIfStale()
  return building
}

async function buildIfStale() {
  const binary = await stat(BINARY).catch(() => undefined)
  const sources = await readdir(join(ROOT, 'src'), { recursive: true })
  const mtimes = await Promise.all(
    sources.map(async (f) => (await stat(join(ROOT, 'src', f))).mtimeMs),
  )
  if (binary && binary.mtimeMs >= Math.max(...mtimes)) return
  const result = await run([BUN, 'scripts/build.ts'])
  if (result.code !== 0 || !(await stat(BINARY).catch(() => undefined))) {
    throw new Error(
      `bun scripts/build.ts failed (exit ${result.code}, ${BINARY} expected):\n` +
        result.stdout + result.stderr,
    )
  }
}

// ---------------------------------------------------------------------------------------------
// skopeo, dockerd, containerd and docker-registry

const ACCEPT_ANYTHING = JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] })

/** Runs skopeo with its own accept-anything policy and temp dir, both removed afterwards. */
export async function skopeo(args: string[]): Promise<RunResult> {
  const dir = await makeTempDir('skopeo')
  try {
    await writeFile(join(dir, 'policy.json'), ACCEPT_ANYTHING)
    return await run(['skopeo', '--policy', join(dir, 'policy.json'), '--tmpdir', dir, ...args])
  } finally {
    await removeDir(dir)
  }
}

/** Runs podman with its own storage under `dir` (vfs, no daemon, nothing shared). */
export function podman(dir: string, args: string[]): Promise<RunResult> {
  const storage = ['--root', join(dir, 'root'), '--runroot', join(dir, 'run')]
  return run(['podman', ...storage, '--storage-driver', 'vfs', ...args])
}

/**
 * A private daemon (dockerd, containerd) for the enclosing describe block: started in a temp dir
 * before its tests, stopped and removed after them. Returns a getter for the running daemon.
 */
export function useDaemon<D extends { stop(): Promise<unknown> }>(
  name: string,
  start: (tmp: string) => Promise<D>,
): () => D {
  let tmp: string | undefined
  let daemon: D | undefined
  beforeAll(async () => {
    tmp = await makeTempDir(name)
    daemon = await start(tmp)
  }, 120_000)
  afterAll(async () => {
    await daemon?.stop()
    await removeDir(tmp)
  })
  return () => daemon!
}

/** A private dockerd and a docker CLI bound to it. */
export interface Dockerd {
  docker(args: string[]): Promise<RunResult>
  stop(): Promise<number>
  log(): string
}

/** Starts dockerd with every path (data, exec root, socket, pidfile, CLI config) under `tmp`. */
export async function startDockerd(tmp: string): Promise<Dockerd> {
  const at = (name: string) => join(tmp, name)
  const host = `unix://${at('docker.sock')}`
  // dockerd 20.10 writes its trust key to /etc/docker/key.json unless the config file moves it.
  await writeFile(at('daemon.json'), JSON.stringify({ 'deprecated-key-path': at('key.json') }))
  const env = { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: at('cli') }
  const docker = (args: string[]) => run(['docker', ...args], { env })
  const { daemon } = await launch(
    [
      'dockerd',
      ...['--storage-driver=vfs', '--iptables=false', '--ip6tables=false', '--bridge=none'],
      ...['--data-root', at('data'), '--exec-root', at('exec'), '--host', host],
      ...['--pidfile', at('docker.pid'), '--config-file', at('daemon.json')],
    ],
    '`docker version` to answer',
    async () => (await docker(['version'])).code === 0 || undefined,
    { timeoutMs: 60_000 },
  )
  return { docker, stop: daemon.stop, log: daemon.stderr }
}

/** A private containerd and a `ctr` bound to its socket. */
export interface Containerd {
  /** Runs `ctr --address SOCK ...args`. */
  ctr(args: string[]): Promise<RunResult>
  stop(): Promise<number>
  log(): string
}

/** Starts containerd (CRI disabled) with its root, state, sockets and opt dir under `tmp`. */
export async function startContainerd(tmp: string): Promise<Containerd> {
  const at = (name: string) => join(tmp, name)
  const socket = at('containerd.sock')
  // TOML basic strings take JSON string escapes, so JSON.stringify quotes the paths.
  const q = JSON.stringify
  await writeFile(
    at('containerd.toml'),
    [
      'version = 2',
      `root = ${q(at('root'))}`,
      `state = ${q(at('state'))}`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = ${q(socket)}`,
      '[ttrpc]',
      `  address = ${q(at('containerd.sock.ttrpc'))}`,
      // The opt plugin would otherwise create /opt/containerd.
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = ${q(at('opt'))}`,
      '',
    ].join('\n'),
  )
  const ctr = (args: string[]) => run(['ctr', '--address', socket, ...args])
  const { daemon } = await launch(
    ['containerd', '--config', at('containerd.toml')],
    '`ctr version` to answer',
    // Without the socket, ctr waits 10 s for it before failing.
    async () => (existsSync(socket) && (await ctr(['version'])).code === 0) || undefined,
    { timeoutMs: 60_000 },
  )
  return { ctr, stop: daemon.stop, log: daemon.stderr }
}

/** Options for startDockerRegistry(): basic auth for one user when `htpasswd` is given. */
export interface DockerRegistryOptions {
  htpasswd?: { user: string; pass: string }
}

/** Starts docker-registry on a free loopback port with its storage (delete enabled) in `tmp`. */
export async function startDockerRegistry(
  tmp: string,
  opts: DockerRegistryOptions = {},
): Promise<Server> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  // YAML is a superset of JSON, so the config is written as JSON.
  const config: Record<string, unknown> = {
    version: '0.1',
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(tmp, 'storage') }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}` },
  }
  if (opts.htpasswd) {
    const { user, pass } = opts.htpasswd
    const entry = await run(['htpasswd', '-Bbn', user, pass])
    if (entry.code !== 0) throw new Error(`htpasswd -Bbn failed: ${entry.stderr}`)
    await writeFile(join(tmp, 'htpasswd'), entry.stdout)
    config.auth = { htpasswd: { realm: 'broken-reg-test', path: join(tmp, 'htpasswd') } }
  }
  await writeFile(join(tmp, 'config.yml'), JSON.stringify(config, null, 2))
  const { daemon } = await launch(
    ['docker-registry', 'serve', join(tmp, 'config.yml')],
    'GET /v2/',
    async () => {
      const res = await fetch(`${url}/v2/`).catch(() => undefined)
      await res?.body?.cancel()
      return res ? true : undefined
    },
    { timeoutMs: 20_000 },
  )
  const hostPort = `127.0.0.1:${port}`
  return { url, hostPort, pid: daemon.pid, stop: daemon.stop, stderr: daemon.stderr }
}

// ---------------------------------------------------------------------------------------------
// OCI image layouts, written by hand: https://github.com/opencontainers/image-spec/blob/main/image-layout.md

const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
}
const REF_NAME = 'org.opencontainers.image.ref.name'

/** The tag under which the layouts below store their image: `oci:DIR:v1` in skopeo. */
export const LAYOUT_TAG = 'v1'

/** Digests of one image in a layout; for a single-platform image `manifests` is `[digest]`. */
export interface ImageDigests {
  digest: string
  manifests: string[]
  configs: string[]
  layers: string[]
}

interface Platform {
  architecture: string
  os: string
}

interface Descriptor {
  mediaType: string
  digest: string
  size: number
  platform?: Platform
}

/** `sha256:<hex>` of some bytes. */
export const sha256 = (bytes: Uint8Array | string) =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`

const blobPath = (dir: string, digest: string) => join(dir, 'blobs', ...digest.split(':'))
const toJson = (value: unknown) => Buffer.from(JSON.stringify(value))

async function writeBlob(dir: string, mediaType: string, bytes: Uint8Array): Promise<Descriptor> {
  const digest = sha256(bytes)
  await mkdir(join(dir, 'blobs/sha256'), { recursive: true })
  await writeFile(blobPath(dir, digest), bytes)
  return { mediaType, digest, size: bytes.length }
}

/** A ustar archive holding one regular file: header block, data padded to 512, two zero blocks. */
export function tarOneFile(name: string, content: string): Uint8Array {
  const data = Buffer.from(content)
  const header = Buffer.alloc(512)
  const text = (offset: number, length: number, value: string) =>
    header.write(value, offset, length, 'ascii')
  // Numeric fields are zero-padded octal followed by a NUL, which Buffer.alloc already put there.
  const octal = (offset: number, length: number, n: number) =>
    text(offset, length - 1, n.toString(8).padStart(length - 1, '0'))
  text(0, 100, name)
  octal(100, 8, 0o644) // mode
  octal(108, 8, 0) // uid
  octal(116, 8, 0) // gid
  octal(124, 12, data.length)
  octal(136, 12, 1_700_000_000) // mtime
  text(148, 8, ' '.repeat(8)) // the checksum is computed with its own field as spaces
  text(156, 1, '0') // regular file
  text(257, 8, 'ustar\u000000')
  const checksum = header.reduce((sum, byte) => sum + byte, 0)
  text(148, 8, `${checksum.toString(8).padStart(6, '0')}\u0000 `)
  const body = Buffer.alloc(Math.ceil(data.length / 512) * 512)
  data.copy(body)
  return Buffer.concat([header, body, Buffer.alloc(1024)])
}

/** Writes a config, two gzip tar layers and a manifest whose contents name `label`. */
async function writeImage(dir: string, label: string, platform: Platform) {
  const tars = [1, 2].map((n) =>
    tarOneFile(
      `layer-${n}.txt`,
      `broken-reg ${label} layer ${n} (${platform.os}/${platform.architecture})\n`,
    )
  )
  const layers = await Promise.all(
    tars.map((tar) => writeBlob(dir, MEDIA_TYPES.layer, gzipSync(tar))),
  )
  const config = await writeBlob(
    dir,
    MEDIA_TYPES.config,
    toJson({
      created: '2024-01-01T00:00:00Z',
      ...platform,
      config: { Cmd: ['/bin/true'] },
      rootfs: { type: 'layers', diff_ids: tars.map((tar) => sha256(tar)) },
      history: layers.map((_, i) => ({ created_by: `broken-reg test layer ${i + 1}` })),
    }),
  )
  const manifest = await writeBlob(
    dir,
    MEDIA_TYPES.manifest,
    toJson({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      config,
      layers,
    }),
  )
  return { manifest, config: config.digest, layers: layers.map((layer) => layer.digest) }
}

async function writeLayoutIndex(dir: string, top: Descriptor) {
  await writeFile(join(dir, 'oci-layout'), toJson({ imageLayoutVersion: '1.0.0' }))
  await writeFile(
    join(dir, 'index.json'),
    toJson({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.index,
      manifests: [{ ...top, annotations: { [REF_NAME]: LAYOUT_TAG } }],
    }),
  )
}

/** Writes an OCI layout whose image is an index of linux/amd64 and linux/arm64, 2 layers each. */
export async function buildOciLayout(dir: string): Promise<ImageDigests> {
  const platforms = ['amd64', 'arm64'].map((architecture) => ({ architecture, os: 'linux' }))
  const images = []
  for (const platform of platforms) images.push(await writeImage(dir, 'index', platform))
  const index = await writeBlob(
    dir,
    MEDIA_TYPES.index,
    toJson({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.index,
      manifests: images.map((image, i) => ({ ...image.manifest, platform: platforms[i] })),
    }),
  )
  await writeLayoutIndex(dir, index)
  return {
    digest: index.digest,
    manifests: images.map((image) => image.manifest.digest),
    configs: images.map((image) => image.config),
    layers: images.flatMap((image) => image.layers),
  }
}

/** Writes an OCI layout whose image is one manifest (2 layers) for this machine's platform. */
export async function buildSingleImageLayout(dir: string): Promise<ImageDigests> {
  const architecture = process.arch === 'arm64' ? 'arm64' : 'amd64'
  const image = await writeImage(dir, 'single', { architecture, os: 'linux' })
  await writeLayoutIndex(dir, image.manifest)
  const digest = image.manifest.digest
  return { digest, manifests: [digest], configs: [image.config], layers: image.layers }
}

async function readBlob(dir: string, digest: string): Promise<Buffer> {
  const bytes = await readFile(blobPath(dir, digest))
  if (sha256(bytes) !== digest) {
    throw new Error(`Blob ${digest} in ${dir} hashes to ${sha256(bytes)}`)
  }
  return bytes
}

interface ManifestJson {
  manifests?: Descriptor[]
  config: Descriptor
  layers: Descriptor[]
}

const readJsonBlob = async (dir: string, digest: string): Promise<ManifestJson> =>
  JSON.parse((await readBlob(dir, digest)).toString())

/** Reads the image tagged LAYOUT_TAG in a layout, checking each blob's sha256 against its name. */
export async function readOciLayout(dir: string): Promise<ImageDigests> {
  const index: { manifests: (Descriptor & { annotations?: Record<string, string> })[] } = JSON
    .parse(await readFile(join(dir, 'index.json'), 'utf8'))
  const top = index.manifests.find((m) => m.annotations?.[REF_NAME] === LAYOUT_TAG)
  if (!top) throw new Error(`${dir}/index.json has no manifest named ${LAYOUT_TAG}`)
  const list = (await readJsonBlob(dir, top.digest)).manifests
  const manifests = list ? list.map((m) => m.digest) : [top.digest]
  const images = await Promise.all(manifests.map((digest) => readJsonBlob(dir, digest)))
  const configs = images.map((image) => image.config.digest)
  const layers = images.flatMap((image) => image.layers.map((layer) => layer.digest))
  await Promise.all([...configs, ...layers].map((digest) => readBlob(dir, digest)))
  return { digest: top.digest, manifests, configs, layers }
}

/** Writes a layout like buildSingleImageLayout whose content (so digests) depends on `label`. */
export async function buildLabelledLayout(dir: string, label: string): Promise<ImageDigests> {
  const architecture = process.arch === 'arm64' ? 'arm64' : 'amd64'
  const image = await writeImage(dir, label, { architecture, os: 'linux' })
  await writeLayoutIndex(dir, image.manifest)
  const digest = image.manifest.digest
  return { digest, manifests: [digest], configs: [image.config], layers: image.layers }
}

/** Every file under `dir` with its size and mtime, sorted: to compare a store before and after. */
export async function listTree(dir: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true })
  const rows = await Promise.all(names.map(async (name) => {
    const s = await stat(join(dir, name)).catch(() => undefined)
    return s && !s.isDirectory() ? `${name} ${s.size} ${s.mtimeMs}` : undefined
  }))
  return rows.filter((row): row is string => row !== undefined).sort()
}
