// The fixture catalog: every bundle is self-consistent (digests, sizes, order, configs) except for
// its one intended oddity, which each fixture's own test checks.
import { describe, expect, test } from 'bun:test'
import { createHash, createPublicKey } from 'node:crypto'
import * as zlib from 'node:zlib'
import { crc32 } from '../../../src/images/_archive.ts'
import { FIXTURES } from '../../../src/images/catalog.ts'
import type { ImageBundle } from '../../../src/images/types.ts'

const MIB = 1024 * 1024
const REQUIRED = [
  'docker-manifest-list',
  'oci-index',
  'nested-index',
  'artifact-with-subject',
  'schema1-signed',
  'schema1-unsigned',
  'zstd-layer',
  'zstd-in-docker-manifest',
  'uncompressed-layer',
  'invalid-tar-layer',
  'gzip-bad-crc',
  'foreign-layer',
  'missing-config',
  'wrong-config-type',
  'empty-image',
  'manifest-just-under-4mib',
  'manifest-just-over-4mib',
  'attestation-index',
]
/** Blobs left out of a bundle on purpose, by fixture. */
const ABSENT: Record<string, (json: Manifest) => string[]> = {
  'foreign-layer': (m) => [m.layers![0].digest],
  'missing-config': (m) => [m.config!.digest],
}

interface Descriptor {
  mediaType: string
  digest: string
  size: number
  urls?: string[]
  annotations?: Record<string, string>
  platform?: { os: string; architecture: string }
}
interface Manifest {
  schemaVersion: number
  mediaType?: string
  artifactType?: string
  config?: Descriptor
  layers?: Descriptor[]
  manifests?: Descriptor[]
  subject?: Descriptor
  annotations?: Record<string, string>
  fsLayers?: { blobSum: string }[]
  history?: { v1Compatibility: string }[]
  signatures?: { header: { jwk: object; alg: string }; signature: string; protected: string }[]
}

const sha256 = (bytes: Uint8Array | string) =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`
const read = async (stream: ReadableStream<Uint8Array>) =>
  new Uint8Array(await new Response(stream).arrayBuffer())
const parse = (bytes: Uint8Array): Manifest => JSON.parse(new TextDecoder().decode(bytes))
const fixture = (name: string) => FIXTURES.find((f) => f.name === name)!
const zstdDecompress = (zlib as { zstdDecompressSync?: (b: Uint8Array) => Uint8Array })
  .zstdDecompressSync

/** A bundle with its manifests parsed and its blobs read. */
async function load(bundle: ImageBundle) {
  const blobs = new Map<string, Uint8Array>()
  for (const blob of bundle.blobs) blobs.set(blob.digest, await read(blob.open()))
  const manifests = bundle.manifests.map((m) => ({ ...m, json: parse(m.bytes) }))
  return { blobs, manifests, root: manifests.at(-1)! }
}

const isTar = (bytes: Uint8Array) =>
  bytes.length >= 1024 && new TextDecoder().decode(bytes.subarray(257, 262)) === 'ustar'

describe('FIXTURES', () => {
  test('has every required fixture, with unique kebab-case names and one-line summaries', () => {
    const names = FIXTURES.map((f) => f.name)
    expect(new Set(names).size).toBe(names.length)
    expect(names).toEqual(expect.arrayContaining(REQUIRED))
    for (const { name, summary } of FIXTURES) {
      expect(name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/)
      expect(summary.length).toBeGreaterThan(20)
      expect(summary).not.toContain('\n')
    }
  })

  test.each(FIXTURES.map((f) => [f.name, f] as const))(
    '%s: builds the same bytes every time',
    (_name, f) => {
      const digests = (b: ImageBundle) => [...b.manifests, ...b.blobs].map((x) => x.digest)
      expect(digests(f.build())).toEqual(digests(f.build()))
    },
  )

  test.each(FIXTURES.map((f) => [f.name, f] as const))(
    '%s: digests and sizes match the bytes, children come first, references resolve',
    async (name, f) => {
      const bundle = f.build()
      const { blobs, manifests, root } = await load(bundle)
      expect(manifests.length).toBeGreaterThan(0)
      for (const blob of bundle.blobs) {
        const bytes = blobs.get(blob.digest)!
        expect(sha256(bytes)).toBe(blob.digest)
        expect(bytes.length).toBe(blob.size)
        // open() is repeatable: each call streams the same bytes again.
        expect(sha256(await read(blob.open()))).toBe(blob.digest)
      }
      expect(new Set(bundle.blobs.map((b) => b.digest)).size).toBe(bundle.blobs.length)
      expect(new Set(manifests.map((m) => m.digest)).size).toBe(manifests.length)

      const absent = ABSENT[name]?.(root.json) ?? []
      const seen = new Set<string>()
      for (const m of manifests) {
        expect(sha256(m.bytes)).toBe(m.digest)
        if (m.json.mediaType !== undefined) expect(m.json.mediaType).toBe(m.mediaType)
        for (const child of m.json.manifests ?? []) {
          expect(seen.has(child.digest)).toBe(true)
          const bytes = manifests.find((x) => x.digest === child.digest)!.bytes
          expect(bytes.length).toBe(child.size)
          expect(child.mediaType).toBe(manifests.find((x) => x.digest === child.digest)!.mediaType)
        }
        if (m.json.subject) expect(seen.has(m.json.subject.digest)).toBe(true)
        const refs = [
          ...(m.json.config ? [m.json.config] : []),
          ...(m.json.layers ?? []),
          ...(m.json.fsLayers ?? []).map((l) => ({ digest: l.blobSum, size: undefined })),
        ]
        for (const ref of refs) {
          if (absent.includes(ref.digest)) {
            expect(blobs.has(ref.digest)).toBe(false)
            continue
          }
          expect(blobs.has(ref.digest)).toBe(true)
          if (ref.size !== undefined) expect(blobs.get(ref.digest)!.length).toBe(ref.size)
        }
        seen.add(m.digest)
      }
      // Nothing is stored that no manifest references.
      const referenced = new Set(manifests.flatMap((m) => [
        m.json.config?.digest,
        ...(m.json.layers ?? []).map((l) => l.digest),
        ...(m.json.fsLayers ?? []).map((l) => l.blobSum),
      ]))
      for (const digest of blobs.keys()) expect(referenced.has(digest)).toBe(true)
    },
  )

  test.each(FIXTURES.map((f) => [f.name, f] as const))(
    '%s: image configs list the diff_ids of their layers',
    async (name, f) => {
      const { blobs, manifests } = await load(f.build())
      for (const { json } of manifests) {
        if (!json.config || !blobs.has(json.config.digest)) continue
        if (json.artifactType) continue // an empty config: nothing to list
        const config = parse(blobs.get(json.config.digest)!) as unknown as {
          os: string
          architecture: string
          rootfs: { type: string; diff_ids: string[] }
        }
        expect(config.rootfs.type).toBe('layers')
        expect(config.rootfs.diff_ids.length).toBe(json.layers!.length)
        json.layers!.forEach((layer, i) => {
          const bytes = blobs.get(layer.digest)
          if (!bytes) return // the foreign layer
          const type = layer.mediaType
          let content: Uint8Array | undefined = bytes
          if (type.endsWith('gzip')) {
            content = name === 'gzip-bad-crc' ? undefined : new Uint8Array(zlib.gunzipSync(bytes))
          } else if (type.endsWith('zstd')) {
            content = zstdDecompress ? new Uint8Array(zstdDecompress(bytes)) : undefined
          }
          if (content) expect(sha256(content)).toBe(config.rootfs.diff_ids[i])
          if (content && type !== 'application/vnd.in-toto+json') {
            expect(isTar(content)).toBe(name !== 'invalid-tar-layer')
          }
        })
      }
    },
  )
})

describe('each fixture has its oddity', () => {
  test('docker-manifest-list and oci-index list linux/amd64 and linux/arm64', async () => {
    for (
      const [name, type] of [
        ['docker-manifest-list', 'application/vnd.docker.distribution.manifest.list.v2+json'],
        ['oci-index', 'application/vnd.oci.image.index.v1+json'],
      ]
    ) {
      const { root, manifests } = await load(fixture(name).build())
      expect(root.mediaType).toBe(type)
      expect(root.json.manifests!.map((m) => m.platform?.architecture)).toEqual(['amd64', 'arm64'])
      expect(manifests.length).toBe(3)
    }
  })

  test('nested-index: the root index has one child, which is itself an index', async () => {
    const { root, manifests } = await load(fixture('nested-index').build())
    expect(root.json.manifests!.length).toBe(1)
    const child = manifests.find((m) => m.digest === root.json.manifests![0].digest)!
    expect(child.mediaType).toBe('application/vnd.oci.image.index.v1+json')
    expect(child.json.manifests!.length).toBe(2)
  })

  test('artifact-with-subject: the tagged artifact refers to the image in the bundle', async () => {
    const { root, manifests, blobs } = await load(fixture('artifact-with-subject').build())
    expect(root.json.artifactType).toBeString()
    expect(root.json.config!.mediaType).toBe('application/vnd.oci.empty.v1+json')
    expect(new TextDecoder().decode(blobs.get(root.json.config!.digest))).toBe('{}')
    const subject = manifests.find((m) => m.digest === root.json.subject!.digest)!
    expect(subject.mediaType).toBe('application/vnd.oci.image.manifest.v1+json')
    expect(root.json.subject!.size).toBe(subject.bytes.length)
  })

  test('schema1-unsigned is v1+json without signatures, newest layer first', async () => {
    const { root, blobs } = await load(fixture('schema1-unsigned').build())
    expect(root.mediaType).toBe('application/vnd.docker.distribution.manifest.v1+json')
    expect(root.json.schemaVersion).toBe(1)
    expect(root.json.signatures).toBeUndefined()
    expect(root.json.fsLayers!.length).toBe(root.json.history!.length)
    const history = root.json.history!.map((h) => JSON.parse(h.v1Compatibility))
    expect(history[0].parent).toBe(history[1].id)
    expect(history[1].parent).toBeUndefined()
    for (const { blobSum } of root.json.fsLayers!) expect(blobs.has(blobSum)).toBe(true)
  })

  test('schema1-signed: libtrust finds its payload, which is every byte, and its key', async () => {
    const { root } = await load(fixture('schema1-signed').build())
    expect(root.mediaType).toBe('application/vnd.docker.distribution.manifest.v1+prettyjws')
    const [signature] = root.json.signatures!
    const header = JSON.parse(Buffer.from(signature.protected, 'base64url').toString())
    // libtrust's Payload(): bytes[0:formatLength] + formatTail, hashed for the digest.
    expect(header.formatLength).toBe(root.bytes.length)
    expect(header.formatTail).toBe('')
    expect(signature.header.alg).toBe('ES256')
    expect(() => createPublicKey({ key: signature.header.jwk, format: 'jwk' })).not.toThrow()
    expect(Buffer.from(signature.signature, 'base64url').length).toBe(64)
    // The pretty form libtrust writes: the payload's indent, the signatures last.
    expect(new TextDecoder().decode(root.bytes)).toMatch(/\n {3}"signatures": \[\n {6}\{\n/)
  })

  test('zstd fixtures: an OCI zstd layer, under an OCI and under a docker manifest', async () => {
    for (
      const [name, type] of [
        ['zstd-layer', 'application/vnd.oci.image.manifest.v1+json'],
        ['zstd-in-docker-manifest', 'application/vnd.docker.distribution.manifest.v2+json'],
      ]
    ) {
      const { root, blobs } = await load(fixture(name).build())
      expect(root.mediaType).toBe(type)
      const layer = root.json.layers![0]
      expect(layer.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd')
      expect([...blobs.get(layer.digest)!.subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd])
    }
  })

  test('uncompressed-layer: the layer is a tar whose digest is its diff_id', async () => {
    const { root, blobs } = await load(fixture('uncompressed-layer').build())
    const layer = root.json.layers![0]
    expect(layer.mediaType).toBe('application/vnd.oci.image.layer.v1.tar')
    expect(isTar(blobs.get(layer.digest)!)).toBe(true)
    const config = JSON.parse(new TextDecoder().decode(blobs.get(root.json.config!.digest)))
    expect(config.rootfs.diff_ids).toEqual([layer.digest])
  })

  test('invalid-tar-layer: valid gzip of bytes without a tar header', async () => {
    const { root, blobs } = await load(fixture('invalid-tar-layer').build())
    const content = zlib.gunzipSync(blobs.get(root.json.layers![0].digest)!)
    expect(isTar(content)).toBe(false)
  })

  test('gzip-bad-crc: the trailer CRC differs from the content, gunzip refuses it', async () => {
    const { root, blobs } = await load(fixture('gzip-bad-crc').build())
    const bytes = blobs.get(root.json.layers![0].digest)!
    expect(() => zlib.gunzipSync(bytes)).toThrow()
    // Stored deflate blocks: the content sits after the 10-byte header and a 5-byte block header.
    const view = new DataView(bytes.buffer, bytes.byteOffset)
    const size = view.getUint32(bytes.length - 4, true)
    const content = bytes.subarray(15, 15 + size)
    expect(isTar(content)).toBe(true)
    expect(view.getUint32(bytes.length - 8, true)).not.toBe(crc32(content))
    if (Bun.which('gzip')) {
      expect(Bun.spawnSync(['gzip', '-t'], { stdin: bytes }).exitCode).not.toBe(0)
    }
  })

  test('foreign-layer: the foreign layer has urls and is not in the bundle', async () => {
    const bundle = fixture('foreign-layer').build()
    const { root, blobs } = await load(bundle)
    expect(root.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json')
    const [foreign, top] = root.json.layers!
    expect(foreign.mediaType).toBe('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip')
    expect(foreign.urls).toEqual(['https://example.invalid/layer.tar.gz'])
    expect(blobs.has(foreign.digest)).toBe(false)
    expect(blobs.has(top.digest)).toBe(true)
  })

  test('missing-config: the config is not in the bundle, the layer is', async () => {
    const { root, blobs } = await load(fixture('missing-config').build())
    expect(blobs.has(root.json.config!.digest)).toBe(false)
    expect(blobs.has(root.json.layers![0].digest)).toBe(true)
  })

  test('wrong-config-type: a real config under application/octet-stream', async () => {
    const { root, blobs } = await load(fixture('wrong-config-type').build())
    expect(root.json.config!.mediaType).toBe('application/octet-stream')
    const config = JSON.parse(new TextDecoder().decode(blobs.get(root.json.config!.digest)))
    expect(config.rootfs.diff_ids.length).toBe(1)
  })

  test('empty-image: no layers and no diff_ids', async () => {
    const { root, blobs } = await load(fixture('empty-image').build())
    expect(root.json.layers).toEqual([])
    const config = JSON.parse(new TextDecoder().decode(blobs.get(root.json.config!.digest)))
    expect(config.rootfs.diff_ids).toEqual([])
  })

  test('the size fixtures are 1 KiB under and over 4 MiB, padded with an annotation', () => {
    const under = fixture('manifest-just-under-4mib').build().manifests.at(-1)!
    const over = fixture('manifest-just-over-4mib').build().manifests.at(-1)!
    expect(under.bytes.length).toBe(4 * MIB - 1024)
    expect(over.bytes.length).toBe(4 * MIB + 1024)
    for (const m of [under, over]) {
      const json = parse(m.bytes)
      expect(json.mediaType).toBe('application/vnd.oci.image.manifest.v1+json')
      expect(Object.keys(json.annotations!).length).toBe(1)
    }
  })

  test('attestation-index: an image, and an unknown/unknown attestation of it', async () => {
    const { root, manifests } = await load(fixture('attestation-index').build())
    const [image, attestation] = root.json.manifests!
    expect(image.platform).toEqual({ os: 'linux', architecture: 'amd64' })
    expect(attestation.platform).toEqual({ os: 'unknown', architecture: 'unknown' })
    expect(attestation.annotations).toEqual({
      'vnd.docker.reference.digest': image.digest,
      'vnd.docker.reference.type': 'attestation-manifest',
    })
    const json = manifests.find((m) => m.digest === attestation.digest)!.json
    expect(json.layers!.map((l) => l.mediaType)).toEqual(['application/vnd.in-toto+json'])
  })
})
