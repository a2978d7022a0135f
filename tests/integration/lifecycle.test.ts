// The server's life: usage errors and --version without a server, a SIGTERM that lets a request
// in flight finish before the process exits 0, and a failing disk that does not bring it down.
import { beforeAll, expect, test } from 'bun:test'
import pkg from '../../package.json' with { type: 'json' }
import {
  BINARY,
  ensureBinary,
  makeTempDir,
  removeDir,
  run,
  serveArgs,
  SERVER_COMMANDS,
  startScratchServer,
  startServer,
  waitFor,
} from './_harness.ts'

beforeAll(() => ensureBinary(), 600_000)

test('the binary prints its version, and exits 2 with one line and the usage on bad flags', async () => {
  const version = await run([BINARY, '--version'])
  expect({ code: version.code, out: version.stdout.trim() }).toEqual({ code: 0, out: pkg.version })
  const bad = await run([BINARY, 'serve', '--port', 'http'])
  expect(bad.code).toBe(2)
  expect(bad.stderr.split('\n')[0]).toBe(
    'broken-reg serve: Invalid --port "http": use a whole number from 0 to 65535',
  )
  expect(bad.stderr).toContain('Usage: broken-reg serve [options]')
})

test('SIGTERM lets a request in flight finish, then the binary exits 0', async () => {
  const server = await startScratchServer(SERVER_COMMANDS.binary)
  const pending = fetch(`${server.url}/v2/broken/timeout/manifests/dur-1500ms`)
  // The delay is under way once the server counts it.
  await waitFor('the delay to start', async () => {
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    return metrics.includes('broken_reg_pending_delays 1') || undefined
  }, 5_000)
  const exited = server.stop()
  const res = await pending
  expect(res.status).toBe(408)
  expect(await res.json()).toMatchObject({ errors: [{ code: 'TIMEOUT' }] })
  expect(await exited).toBe(0)
}, 30_000)

test(
  'a disk write that fails mid-upload is an error answer, and the server lives on (Deno)',
  async () => {
    const dir = await makeTempDir('fsize')
    // Files over 1.5 MiB fail to grow (EFBIG), as on a full disk; Deno exits on an unseen rejection.
    const limit = `trap '' XFSZ; ulimit -f 1536; exec "$0" "$@"`
    const server = await startServer([
      'bash',
      '-c',
      limit,
      ...SERVER_COMMANDS.deno,
      ...serveArgs(dir),
    ])
    try {
      const start = await fetch(`${server.url}/v2/broken/prepared/full/blobs/uploads/`, {
        method: 'POST',
      })
      const location = start.headers.get('Location')!
      let sent = 0
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent >= 5 * 1024 * 1024) return controller.close()
          await Bun.sleep(20)
          controller.enqueue(new Uint8Array(128 * 1024))
          sent += 128 * 1024
        },
      })
      const patch = await fetch(`${server.url}${location}`, {
        method: 'PATCH',
        body,
        duplex: 'half',
      } as RequestInit).catch((err: Error) => err)
      if (patch instanceof Response) expect(patch.status).toBeGreaterThanOrEqual(500)
      const alive = await fetch(`${server.url}/v2/`)
      expect(alive.status).toBe(200)
    } finally {
      expect(await server.stop()).toBe(0)
      await removeDir(dir)
    }
  },
  60_000,
)
