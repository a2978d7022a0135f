// File bodies through node:http (src/runtime/send-file.ts): exact ranges across mapping windows,
// a whole body when the file is removed mid-transfer, and nothing left open by a client that leaves.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serveNodeHttp } from '../../../src/runtime/node-http.ts'
import type { Server } from '../../../src/runtime/types.ts'
import { markFileBody } from '../../../src/util/file-body.ts'

const MiB = 1024 * 1024
const SIZE = 40 * MiB + 12_345 // three 16 MiB mapping windows, the last one partial
const bytes = randomBytes(SIZE)
const dir = mkdtempSync(join(tmpdir(), 'send-file-'))
let server: Server
const asked = new Map<string, number>()

/**
 * Serves `/<file>?start=&end=` as a marked file range of `dir/<file>`; asked a second time for
 * `/vanished`, which never exists, it answers 404 as an app that sees the file gone would.
 */
beforeAll(async () => {
  server = await serveNodeHttp({
    host: '127.0.0.1',
    port: 0,
    fetch(request) {
      const url = new URL(request.url)
      asked.set(url.pathname, (asked.get(url.pathname) ?? 0) + 1)
      if (url.pathname === '/vanished' && asked.get(url.pathname)! % 2 === 0) {
        return new Response('gone', { status: 404 })
      }
      const start = Number(url.searchParams.get('start') ?? 0)
      const end = Number(url.searchParams.get('end') ?? SIZE - 1)
      const headers = { 'Content-Length': String(end - start + 1) }
      const response = new Response('not from the file', { headers })
      return markFileBody(response, { path: join(dir, url.pathname.slice(1)), start, end })
    },
  })
})

afterAll(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

function blobFile(name: string) {
  writeFileSync(join(dir, name), bytes)
  return `${server.url}/${name}`
}

const openFiles = () => readdirSync('/proc/self/fd').length

test('ranges across window boundaries arrive byte for byte', async () => {
  const url = blobFile('ranges')
  const ranges = [[0, SIZE - 1], [1, SIZE - 2], [16 * MiB - 1, 32 * MiB], [SIZE - 1, SIZE - 1]]
  for (const [start, end] of ranges) {
    const res = await fetch(`${url}?start=${start}&end=${end}`)
    const got = new Uint8Array(await res.arrayBuffer())
    expect(got.length).toBe(end - start + 1)
    expect(Buffer.compare(got, bytes.subarray(start, end + 1))).toBe(0)
  }
})

test('a file removed mid-body is still sent whole', async () => {
  const url = blobFile('removed')
  const reader = (await fetch(url)).body!.getReader()
  const chunks = [(await reader.read()).value!]
  unlinkSync(join(dir, 'removed'))
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    chunks.push(next.value)
  }
  expect(Buffer.compare(Buffer.concat(chunks), bytes)).toBe(0)
})

test('a file gone before its head is sent lets the app answer again', async () => {
  const before = asked.get('/vanished') ?? 0
  const res = await fetch(`${server.url}/vanished`)
  expect(res.status).toBe(404)
  expect(await res.text()).toBe('gone')
  expect(asked.get('/vanished')! - before).toBe(2)
})

test.skipIf(process.platform !== 'linux')(
  'a client that leaves mid-body leaves no file open',
  async () => {
    const url = blobFile('abandoned')
    const before = openFiles()
    for (let i = 0; i < 5; i++) {
      const controller = new AbortController()
      const reader = (await fetch(url, { signal: controller.signal })).body!.getReader()
      await reader.read()
      controller.abort()
    }
    for (let i = 0; i < 100 && openFiles() > before; i++) await Bun.sleep(20)
    expect(openFiles()).toBeLessThanOrEqual(before)
    const res = await fetch(`${url}?start=5&end=9`)
    expect(Buffer.compare(new Uint8Array(await res.arrayBuffer()), bytes.subarray(5, 10))).toBe(0)
  },
)
