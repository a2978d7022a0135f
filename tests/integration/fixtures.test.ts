// Acceptance: `seed fixtures` into a data directory, then `serve` it offline; skopeo pulls each
// fixture (or reads it raw where it refuses) and meets the behaviour its description names.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { FIXTURES } from '../../src/images/catalog.ts'
import {
  BINARY,
  ensureBinary,
  makeTempDir,
  NEEDS,
  removeDir,
  run,
  serveArgs,
  type Server,
  sha256,
  skopeo,
  startServer,
  testIf,
} from './_harness.ts'

/** What skopeo 1.9 does with each fixture on `copy --all`: succeed, or fail saying this. */
const SKOPEO: Record<string, true | string> = {
  'docker-manifest-list': true,
  'oci-index': true,
  'nested-index': 'Unexpectedly received a manifest list instead of a manifest for a single image',
  'artifact-with-subject': true,
  'schema1-signed': true,
  'schema1-unsigned': true,
  'zstd-layer': true,
  'zstd-in-docker-manifest': 'unsupported docker v2s2 media type',
  'uncompressed-layer': true,
  'invalid-tar-layer': true,
  'gzip-bad-crc': true,
  'foreign-layer': '404 (Not Found)',
  'missing-config': '404',
  'wrong-config-type': true,
  'empty-image': true,
  'manifest-just-under-4mib': true,
  'manifest-just-over-4mib': 'exceeded maximum allowed size of 4194304 bytes',
  'attestation-index': true,
}

let tmp: string
let server: Server | undefined
const seeded = new Map<string, string>()

beforeAll(async () => {
  tmp = await makeTempDir('fixtures')
  await ensureBinary()
  const data = join(tmp, 'data')
  const result = await run([BINARY, 'seed', 'fixtures', '--data-dir', data, '--json'])
  expect(result.code).toBe(0)
  for (const line of result.stdout.trim().split('\n')) {
    const item = JSON.parse(line) as { item?: string; result?: string }
    if (item.item && item.result) {
      seeded.set(item.item.split('/').pop()!.replace(/:latest$/, ''), item.result)
    }
  }
  server = await startServer([BINARY, ...serveArgs(data)])
}, 120_000)

afterAll(async () => {
  await server?.stop()
  await removeDir(tmp)
})

describe('seed fixtures, served offline', () => {
  test('every fixture is seeded and has a skopeo expectation', () => {
    expect([...seeded.keys()].sort()).toEqual(FIXTURES.map((f) => f.name).sort())
    expect(Object.keys(SKOPEO).sort()).toEqual(FIXTURES.map((f) => f.name).sort())
  })

  test('the README lists every fixture with its description', async () => {
    const readme = await Bun.file(join(import.meta.dir, '../../README.md')).text()
    for (const f of FIXTURES) expect(readme).toContain(`| \`${f.name}\` | ${f.summary} |`)
  })

  for (const fixture of FIXTURES) {
    const expected = SKOPEO[fixture.name]
    testIf(NEEDS.skopeo)(
      `${fixture.name}: ${expected === true ? 'skopeo copies it' : `skopeo refuses: ${expected}`}`,
      async () => {
        const ref = `docker://${server!.hostPort}/broken/prepared/fixtures/${fixture.name}:latest`
        const raw = await skopeo(['inspect', '--raw', '--tls-verify=false', ref])
        if (fixture.name !== 'manifest-just-over-4mib') {
          expect(raw.code).toBe(0)
          expect(sha256(raw.stdout)).toBe(seeded.get(fixture.name)!)
        }
        const dest = join(tmp, `copy-${fixture.name}`)
        const copy = await skopeo(['copy', '--all', '--src-tls-verify=false', ref, `dir:${dest}`])
        if (expected === true) {
          expect(copy.stderr).not.toContain('level=fatal')
          expect(copy.code).toBe(0)
        } else {
          expect(copy.code).not.toBe(0)
          expect(copy.stderr).toContain(expected)
        }
      },
      60_000,
    )
  }

  test('the raw manifest over 4 MiB is served whole to a client without the limit', async () => {
    const res = await fetch(
      `${server!.url}/v2/broken/prepared/fixtures/manifest-just-over-4mib/manifests/latest`,
    )
    const body = new Uint8Array(await res.arrayBuffer())
    expect(body.byteLength).toBeGreaterThan(4 * 1024 * 1024)
    expect(sha256(body)).toBe(seeded.get('manifest-just-over-4mib')!)
  })

  test('the artifact is listed by the referrers API of its subject', async () => {
    const base = `${server!.url}/v2/broken/prepared/fixtures/artifact-with-subject`
    const artifact = await (await fetch(`${base}/manifests/latest`)).json() as {
      subject: { digest: string }
    }
    const index = await (await fetch(`${base}/referrers/${artifact.subject.digest}`)).json() as {
      manifests: { digest: string }[]
    }
    expect(index.manifests.map((m) => m.digest)).toContain(seeded.get('artifact-with-subject')!)
  })
})
