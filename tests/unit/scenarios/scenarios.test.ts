// Scenarios beyond the compatibility table: the tag grammar, statuses 400-599, timeouts that
// end with the client, the catalog settings, warnings and the scenario list.
import { describe, expect, test } from 'bun:test'
import { readFile } from 'node:fs/promises'
import { parseTagParams } from '../../../src/scenarios/tag-params.ts'
import { SCENARIOS } from '../../../src/scenarios/index.ts'
import { makeApp } from '../_app.ts'
import { createApp } from '../../../src/app.ts'
import { createMemoryStorage } from '../../../src/storage/memory.ts'
import { nativeHasher } from '../../../src/crypto/native.ts'
import { silentLogger } from '../../../src/log.ts'

const appWith = (extra: Partial<Parameters<typeof createApp>[0]>) =>
  createApp({
    storage: createMemoryStorage(),
    hasher: nativeHasher,
    log: silentLogger,
    manifestLimit: 4 * 1024 * 1024,
    validate: true,
    ...extra,
  })

async function errorOf(res: Response) {
  const body = await res.json() as { errors: { code: string; message: string }[] }
  return body.errors[0]
}

describe('parseTagParams()', () => {
  test('splits key-value pairs at the longest known key', () => {
    const t = parseTagParams('layers-3_size-10m_retry-after-2s_on-layer', [
      'layers',
      'size',
      'retry-after',
      'on-layer',
      'on',
    ])
    expect(t.integer('layers')).toBe(3)
    expect(t.size('size')).toBe(10 * 1024 * 1024)
    expect(t.duration('retry-after')).toBe(2000)
    expect(t.has('on-layer')).toBe(true)
    expect(t.has('on')).toBe(false)
  })
  test.each([
    ['layers-x', 'Cannot parse layers "x"'],
    ['colour-red', 'Unknown parameter "colour-red"'],
    ['layers-300', 'layers must be at most 100'],
  ])('%s is refused: %s', (tag, message) => {
    const t = () => parseTagParams(tag, ['layers']).integer('layers', { max: 100 })
    expect(t).toThrow(message)
  })
})

describe('broken/error beyond the original', () => {
  test.each([
    [429, 'TOOMANYREQUESTS'],
    [503, 'UNAVAILABLE'],
    [401, 'UNAUTHORIZED'],
    [418, 'DENIED'],
    [502, 'UNAVAILABLE'],
    [599, 'UNKNOWN'],
  ])('%i answers with %s', async (status, code) => {
    const app = await makeApp('memory', '')
    const res = await app.request(`/v2/broken/error/manifests/${status}`)
    expect(res.status).toBe(status)
    expect((await errorOf(res)).code).toBe(code)
  })
  test('retry-after adds a Retry-After header in whole seconds', async () => {
    const app = await makeApp('memory', '')
    const res = await app.request('/v2/broken/error/manifests/429_retry-after-1500ms')
    expect(res.status).toBe(429)
    expect(res.headers.get('Retry-After')).toBe('2')
  })
  test('blob requests are not broken: the repository simply lacks the blob', async () => {
    const app = await makeApp('memory', '')
    const res = await app.request(`/v2/broken/error/blobs/sha256:${'a'.repeat(64)}`)
    expect(res.status).toBe(404)
    expect((await errorOf(res)).code).toBe('BLOB_UNKNOWN')
  })
  test('scenarios take no pushes', async () => {
    const app = await makeApp('memory', '')
    const res = await app.request('/v2/broken/error/blobs/uploads/', { method: 'POST' })
    expect(res.status).toBe(405)
    expect((await errorOf(res)).message).toContain('broken/prepared')
  })
})

describe('broken/timeout', () => {
  test('waits at least the duration before answering 408', async () => {
    const app = await makeApp('memory', '')
    const started = performance.now()
    const res = await app.request('/v2/broken/timeout/manifests/dur-200ms')
    expect(res.status).toBe(408)
    expect(performance.now() - started).toBeGreaterThanOrEqual(195)
  })
  test('a client that gives up leaves no pending delay behind', async () => {
    const app = await makeApp('memory', '')
    const controller = new AbortController()
    const pending = app.request('/v2/broken/timeout/manifests/dur-1h', {
      signal: controller.signal,
    })
    await Bun.sleep(50)
    const during = await (await app.request('/metrics')).text()
    expect(during).toContain('broken_reg_pending_delays 1')
    controller.abort()
    const res = await pending
    expect(res.status).toBe(499)
    const after = await (await app.request('/metrics')).text()
    expect(after).toContain('broken_reg_pending_delays 0')
  })
})

describe('catalog settings of the original', () => {
  test('V2_CATALOG_NUM_REPOS fabricates /repo/path0 … /repo/last', async () => {
    const app = appWith({ catalogFakeRepos: 3 })
    const res = await app.request('/v2/_catalog')
    expect(await res.json()).toEqual({
      repositories: ['/repo/path0', '/repo/path1', '/repo/path2', '/repo/last'],
    })
  })
  test('V2_CATALOG_DELAY stalls the catalog', async () => {
    const app = appWith({ catalogDelayMs: 150 })
    const started = performance.now()
    expect((await app.request('/v2/_catalog')).status).toBe(200)
    expect(performance.now() - started).toBeGreaterThanOrEqual(145)
  })
})

describe('warnings', () => {
  test('a warning is added when its probability beats the roll', async () => {
    const app = appWith({
      warnings: [{ probability: 0.5, message: 'half' }, { probability: 1, message: 'always' }],
      random: () => 0.7,
    })
    const res = await app.request('/v2/')
    expect(res.headers.get('Warning')).toBe('299 - "always"')
    const never = appWith({ warnings: [{ probability: 0, message: 'never' }], random: () => 0 })
    expect((await never.request('/v2/')).headers.get('Warning')).toBeNull()
  })
})

describe('GET /_broken/scenarios', () => {
  test('lists every scenario with summary, params and a working example', async () => {
    const app = await makeApp('memory', '')
    const { scenarios } = await (await app.request('/_broken/scenarios')).json() as {
      scenarios: { name: string; summary: string; params: unknown[]; example: string }[]
    }
    expect(scenarios.map((s) => s.name)).toEqual(SCENARIOS.map((s) => s.name))
    for (const s of scenarios) {
      expect(s.summary.length).toBeGreaterThan(10)
      expect(s.params.length).toBeGreaterThan(0)
      const [name, tag] = s.example.split(':')
      const scenario = SCENARIOS.find((x) => `broken/${x.name}` === name)!
      expect(() => scenario.parse(tag)).not.toThrow()
    }
  })
  test('the README lists every scenario with its example', async () => {
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8')
    for (const s of SCENARIOS) expect(readme).toContain(`broken/${s.name}:${s.example}`)
  })
})
