// Every row of the compatibility table: the original tool's statuses, codes and messages,
// for HEAD and GET, with the exact strings.
import { describe, expect, test } from 'bun:test'
import { makeApp } from '../_app.ts'

const ROWS: [string, number, string, string][] = [
  [
    'broken/error:400',
    400,
    'MANIFEST_INVALID',
    'Eww! That request looks bad, very bad... just awful.',
  ],
  ['broken/error:403', 403, 'FORBIDDEN', 'Fakereg: Access to this resource is forbidden'],
  ['broken/error:404', 404, 'MANIFEST_UNKNOWN', 'Looking for something?'],
  ['broken/error:405', 405, 'UNAUTHORIZED', 'Method not allowed'],
  ['broken/error:500', 500, 'INTERNAL_SERVER_ERROR', 'Working as intended... probably...'],
  ['broken/error:latest', 501, 'NOT_IMPLEMENTED', 'Huh?'],
  ['broken/error:teapot', 501, 'NOT_IMPLEMENTED', 'Huh?'],
  ['broken/timeout:dur-10ms', 408, 'TIMEOUT', 'Timeout duration has elapsed!'],
  ['broken/timeout:latest', 400, 'MANIFEST_INVALID', 'Tag missing duration'],
  [
    'broken/timeout:dur-5x',
    400,
    'MANIFEST_INVALID',
    'error parsing duration: time: unknown unit "x" in duration "5x"',
  ],
  [
    'broken/timeout:dur-abc',
    400,
    'MANIFEST_INVALID',
    'error parsing duration: time: invalid duration "abc"',
  ],
  [
    'broken/timeout:dur-5',
    400,
    'MANIFEST_INVALID',
    'error parsing duration: time: missing unit in duration "5"',
  ],
  ['broken/random:size-1024', 400, 'BAD_REQUEST', 'tag missing num layers'],
  ['broken/random:layers-3', 400, 'BAD_REQUEST', 'tag missing layer size'],
  [
    'broken/prepared:never-pushed',
    404,
    'MANIFEST_UNKNOWN',
    'Manifest never-pushed is not in repository broken/prepared',
  ],
]

describe('compatibility with the original tool', () => {
  test.each(ROWS)('%s answers %i %s', async (ref, status, code, message) => {
    const app = await makeApp('memory', '')
    const [name, tag] = ref.split(':')
    for (const method of ['HEAD', 'GET']) {
      const res = await app.request(`/v2/${name}/manifests/${tag}`, { method })
      expect(res.status).toBe(status)
      if (method === 'GET') {
        const body = await res.json() as { errors: { code: string; message: string }[] }
        expect(body.errors).toHaveLength(1)
        expect(body.errors[0]).toMatchObject({ code, message })
      }
    }
  })

  test('broken/random serves a manifest whose digest is stable, by tag and by digest', async () => {
    const app = await makeApp('memory', '')
    const first = await app.request('/v2/broken/random/manifests/layers-3_size-1024', {
      method: 'HEAD',
    })
    expect(first.status).toBe(200)
    const digest = first.headers.get('Docker-Content-Digest')!
    expect(digest).toMatch(/^sha256:[a-f0-9]{64}$/)
    const byDigest = await app.request(`/v2/broken/random/manifests/${digest}`)
    expect(byDigest.status).toBe(200)
    expect(byDigest.headers.get('Content-Type')).toBe(
      'application/vnd.docker.distribution.manifest.v2+json',
    )
    const fresh = await makeApp('memory', '')
    const again = await fresh.request('/v2/broken/random/manifests/layers-3_size-1024', {
      method: 'HEAD',
    })
    expect(again.headers.get('Docker-Content-Digest')).toBe(digest)
  })
})
