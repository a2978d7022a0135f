// runCli(): exit codes, usage errors, precedence of flags over environment, and serve's life.
import { describe, expect, test } from 'bun:test'
import { createHash, randomBytes } from 'node:crypto'
import pkg from '../../../package.json' with { type: 'json' }
import { runCli } from '../../../src/cli/index.ts'
import { parseOptions } from '../../../src/cli/options.ts'
import { resolveConfig, SERVE_OPTIONS } from '../../../src/config.ts'
import { tempDir } from '../_app.ts'

function fakeIo(env: Record<string, string> = {}, signal = Promise.resolve()) {
  const out: string[] = []
  const err: string[] = []
  return {
    out,
    err,
    io: {
      stdout: (line: string) => void out.push(line),
      stderr: (line: string) => void err.push(line),
      write: (text: string) => void out.push(text),
      stdoutIsTty: false,
      env,
      untilSignal: () => signal,
    },
  }
}

describe('runCli()', () => {
  test('--version prints the package version', async () => {
    const { io, out } = fakeIo()
    expect(await runCli(['--version'], io)).toBe(0)
    expect(out).toEqual([pkg.version])
  })

  test.each([[['--help']], [['serve', '--help']], [['seed', '--help']], [['gc', '--help']]])(
    '%p prints usage and exits 0',
    async (argv) => {
      const { io, out } = fakeIo()
      expect(await runCli(argv, io)).toBe(0)
      expect(out.join('\n')).toContain('Usage: broken-reg')
    },
  )

  test.each([
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['serve', '--bogus'], "Unknown option '--bogus'"],
    [['serve', '--port', 'eighty'], 'Invalid --port "eighty"'],
    [['serve', '--port', '70000'], 'Invalid --port "70000"'],
    [['serve', '--catalog-delay', '5x'], 'Invalid --catalog-delay "5x"'],
    [['serve', '--warning', '2:x'], 'Invalid --warning "2:x"'],
    [['serve', '--storage', 'tape'], 'Invalid --storage "tape"'],
    [['serve', '--tls-cert', 'a.pem'], '--tls-cert and --tls-key go together'],
    [['serve', '--manifest-limit', 'lots'], 'Invalid --manifest-limit'],
    [['serve', 'extra'], 'Unexpected argument'],
  ])('%p is bad usage: exit 2 with one clear line and the usage', async (argv, message) => {
    const { io, err } = fakeIo()
    expect(await runCli(argv, io)).toBe(2)
    const [first, ...rest] = err.join('\n').split('\n')
    expect(first).toContain(message)
    expect(rest.join('\n')).toContain('Usage: broken-reg')
  })

  test('a bad value from the environment names the variable', async () => {
    const { io, err } = fakeIo({ BROKEN_REG_HASHER: 'md5' })
    expect(await runCli(['serve'], io)).toBe(2)
    expect(err[0]).toContain('BROKEN_REG_HASHER')
  })

  test.each([
    [['seed'], 'seed needs an action'],
    [['seed', 'plant'], 'unknown seed action "plant"'],
    [['seed', 'random'], 'give a tag or more'],
    [['seed', 'import', 'x.tar'], 'seed import needs --as'],
    [['gc', '--max-age', 'forever'], 'Invalid --max-age "forever"'],
    [['gc', '--max-size', 'lots'], 'Invalid --max-size "lots"'],
  ])('%p is bad usage of seed or gc: exit 2', async (argv, message) => {
    const { dir, remove } = await tempDir()
    try {
      const { io, err } = fakeIo({ BLOB_DIR: dir })
      expect(await runCli(argv, io)).toBe(2)
      expect(err[0]).toContain(message)
    } finally {
      await remove()
    }
  })

  test('serve listens, names its URL on the first stdout line, and exits 0 on a signal', async () => {
    const { dir, remove } = await tempDir()
    let stop = () => {}
    const signal = new Promise<void>((resolve) => (stop = resolve))
    const { io, out } = fakeIo({}, signal)
    const exit = runCli(['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dir], io)
    try {
      const deadline = Date.now() + 10_000
      while (out.length === 0 && Date.now() < deadline) await Bun.sleep(10)
      expect(out[0]).toMatch(
        /^listening on http:\/\/127\.0\.0\.1:\d+ runtime=bun storage=fs hasher=native$/,
      )
      const url = out[0].split(' ')[2]
      const res = await fetch(`${url}/v2/`)
      expect(res.headers.get('Docker-Distribution-API-Version')).toBe('registry/2.0')
    } finally {
      stop()
      expect(await exit).toBe(0)
      await remove()
    }
  })
})

test('serve with --tls-cert and --tls-key answers over HTTPS, blobs included', async () => {
  const { dir, remove } = await tempDir()
  const tls = new URL('../../fixtures/tls/', import.meta.url).pathname
  let stop = () => {}
  const { io, out } = fakeIo({}, new Promise<void>((resolve) => (stop = resolve)))
  const argv = ['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dir]
  const exit = runCli([...argv, '--tls-cert', `${tls}cert.pem`, '--tls-key', `${tls}key.pem`], io)
  try {
    const deadline = Date.now() + 10_000
    while (out.length === 0 && Date.now() < deadline) await Bun.sleep(10)
    const url = out[0].split(' ')[2]
    expect(url).toStartWith('https://127.0.0.1:')
    const tlsInit = { tls: { rejectUnauthorized: false } }
    expect((await fetch(`${url}/v2/`, tlsInit)).status).toBe(200)
    // Over two of the windows a blob body is written from, under Bun.
    const blob = randomBytes(20 * 1024 * 1024 + 7)
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`
    const blobs = `${url}/v2/broken/prepared/tls/blobs`
    const put = await fetch(`${blobs}/uploads/?digest=${digest}`, {
      ...tlsInit,
      method: 'POST',
      body: blob,
    })
    expect(put.status).toBe(201)
    const got = await fetch(`${blobs}/${digest}`, tlsInit)
    expect(Buffer.compare(new Uint8Array(await got.arrayBuffer()), blob)).toBe(0)
  } finally {
    stop()
    expect(await exit).toBe(0)
    await remove()
  }
})

describe('serve configuration', () => {
  const resolve = (argv: string[], env: Record<string, string>) =>
    resolveConfig(parseOptions(SERVE_OPTIONS, argv, env).values, env)

  test("the original tool's environment variables are read", () => {
    const config = resolve([], {
      BIND_HOST: '127.0.0.1',
      BIND_PORT: '5000',
      BLOB_DIR: '/srv/b',
      HOME: '/h',
    })
    expect(config).toMatchObject({ host: '127.0.0.1', port: 5000, dataDir: '/srv/b' })
  })

  test('catalog and warning settings come from the original names and repeatable flags', () => {
    const config = resolve(['--warning', '0.5:slow down', '--warning', '1:deprecated'], {
      V2_CATALOG_DELAY: '1.5s',
      V2_CATALOG_NUM_REPOS: '3',
    })
    expect(config).toMatchObject({
      catalogDelayMs: 1500,
      catalogFakeRepos: 3,
      warnings: [{ probability: 0.5, message: 'slow down' }, {
        probability: 1,
        message: 'deprecated',
      }],
    })
  })

  test('flags win over the environment', () => {
    const config = resolve(['--port', '6000', '--data-dir', '/x'], {
      BIND_PORT: '5000',
      BLOB_DIR: '/y',
    })
    expect(config).toMatchObject({ port: 6000, dataDir: '/x' })
  })

  test('defaults: 0.0.0.0:8080, $HOME/broken-reg, fs, native, text, 4 MiB, validating', () => {
    expect(resolve([], { HOME: '/home/u' })).toEqual({
      host: '0.0.0.0',
      port: 8080,
      dataDir: '/home/u/broken-reg',
      tls: undefined,
      storage: 'fs',
      hasher: 'native',
      logFormat: 'text',
      manifestLimit: 4 * 1024 * 1024,
      validate: true,
      catalogDelayMs: 0,
      catalogFakeRepos: 0,
      warnings: [],
      upstream: 'quay.io',
      insecureUpstreams: [],
      allowedUpstreams: [],
      cacheTtlMs: 300_000,
    })
  })
})
