// The binary's life: usage errors and --version without a server, and a SIGTERM that lets a
// request in flight finish before the process exits 0.
import { beforeAll, expect, test } from 'bun:test'
import pkg from '../../package.json' with { type: 'json' }
import {
  BINARY,
  ensureBinary,
  run,
  SERVER_COMMANDS,
  startScratchServer,
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
