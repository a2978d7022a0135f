// The distribution API in process, for each storage adapter and each hasher.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { isValidName } from '../../../src/registry/routes.ts'
import { describeRegistryApi, type Send } from '../../suites/registry-api.suite.ts'
import { blobOf, sha256 } from '../_image.ts'
import { makeApp, tempDir } from '../_app.ts'

const MANIFEST_LIMIT = 64 * 1024

for (const storage of ['fs', 'memory'] as const) {
  for (const hasher of ['native', 'noble'] as const) {
    let send: Send
    let cleanup = async () => {}
    beforeAll(async () => {
      const tmp = await tempDir()
      cleanup = tmp.remove
      const app = await makeApp(storage, tmp.dir, { hasher, manifestLimit: MANIFEST_LIMIT })
      send = async (path, init) => await app.request(path, init)
    })
    afterAll(() => cleanup())
    describeRegistryApi(`${storage}+${hasher}`, () => send, { manifestLimit: MANIFEST_LIMIT })
  }
}

describe('fs storage', () => {
  test('pushed images survive a restart on the same data directory', async () => {
    const { dir, remove } = await tempDir()
    try {
      const first = await makeApp('fs', dir)
      const blob = blobOf(2048)
      await first.request(`/v2/broken/prepared/keep/blobs/uploads/?digest=${sha256(blob)}`, {
        method: 'POST',
        body: blob,
      })
      const second = await makeApp('fs', dir)
      const res = await second.request(`/v2/broken/prepared/keep/blobs/${sha256(blob)}`)
      expect(res.status).toBe(200)
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(blob)
    } finally {
      await remove()
    }
  })

  test('paths that try to leave the data directory touch nothing outside it', async () => {
    const { dir, remove } = await tempDir()
    try {
      const app = await makeApp('fs', join(dir, 'data'))
      const attempts = [
        '/v2/broken/prepared/%2e%2e/%2e%2e/escape/blobs/uploads/',
        '/v2/broken/prepared/..%2f..%2fescape/manifests/latest',
        '/v2/broken/prepared/x/manifests/..%2f..%2f..%2fescape',
        '/v2/broken/prepared/x/blobs/uploads/..%2f..%2fescape',
        '/v2/broken/prepared/x/blobs/sha256:..%2f..%2fescape',
      ]
      for (const path of attempts) {
        for (const method of ['GET', 'PUT', 'POST', 'PATCH', 'DELETE']) {
          const res = await app.request(path, { method, body: method === 'GET' ? undefined : '{}' })
          expect(res.status).toBeGreaterThanOrEqual(400)
          expect(res.status).toBeLessThan(500)
          expect((await res.json() as { errors: unknown[] }).errors).toHaveLength(1)
        }
      }
      expect(existsSync(join(dir, 'escape'))).toBe(false)
    } finally {
      await remove()
    }
  })
})

describe('manifest validation switch', () => {
  test('with validation off, any bytes are kept as pushed', async () => {
    const app = await makeApp('memory', '', { validate: false })
    const body = 'this is { not a manifest'
    const put = await app.request('/v2/broken/prepared/odd/manifests/v1', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body,
    })
    expect(put.status).toBe(201)
    const got = await app.request('/v2/broken/prepared/odd/manifests/v1')
    expect(await got.text()).toBe(body)
    expect(got.headers.get('Docker-Content-Digest')).toBe(sha256(body))
  })
})

describe('names of proxied repositories', () => {
  test.each([
    ['127.0.0.1:5001/team/app', true],
    ['Registry.Example.com/team/app', true],
    ['localhost/app', true],
    ['UPPER/app', false],
    ['host:port/app', false],
    ['127.0.0.1:5001/Team', false],
  ])('%s is a valid name: %p', (name, valid) => {
    expect(isValidName(name)).toBe(valid)
  })
})
