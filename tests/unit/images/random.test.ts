// The random image generator: exact sizes, valid gzip/zstd/tar framing, keystream content,
// determinism, the JSON documents, and byte-identical digests under Bun and Deno.
import { describe, expect, test } from 'bun:test'
import { createCipheriv, createHash } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import * as zlib from 'node:zlib'
import { nativeHasher } from '../../../src/crypto/native.ts'
import { nobleHasher } from '../../../src/crypto/noble.ts'
import { createFramer, tarHeader, tarLength } from '../../../src/images/_archive.ts'
import {
  imageConfig,
  imageIndex,
  imageManifest,
  PLATFORMS,
  type RandomImageSpec,
  randomLayer,
} from '../../../src/images/random.ts'

const ROOT = resolve(import.meta.dir, '../../..')
const COMPRESSIONS = ['gzip', 'none', 'zstd'] as const
const SIZES = [0, 1, 511, 512, 513, 65535, 65536, 200_000]

const spec = (over: Partial<RandomImageSpec> = {}): RandomImageSpec => ({
  salt: 'random|layers-1_size-1k',
  layers: 1,
  size: 1024,
  format: 'oci',
  platforms: 0,
  compression: 'gzip',
  ...over,
})
const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`
const read = async (stream: ReadableStream<Uint8Array>) =>
  new Uint8Array(await new Response(stream).arrayBuffer())

/** A decoder for zstd frames: node:zlib's where the runtime has it, else the zstd CLI. */
const zstdDecompress: ((bytes: Uint8Array) => Uint8Array) | undefined = (() => {
  const sync = (zlib as { zstdDecompressSync?: (b: Uint8Array) => Uint8Array }).zstdDecompressSync
  if (typeof sync === 'function') return (bytes: Uint8Array) => new Uint8Array(sync(bytes))
  if (!Bun.which('zstd')) return undefined
  return (bytes: Uint8Array) => Bun.spawnSync(['zstd', '-dc'], { stdin: bytes }).stdout
})()

function decompress(bytes: Uint8Array, compression: RandomImageSpec['compression']) {
  if (compression === 'gzip') return new Uint8Array(zlib.gunzipSync(bytes))
  if (compression === 'zstd') return zstdDecompress!(bytes)
  return bytes
}

/** Checks the ustar framing of a one-file tar and returns the file's name and content. */
function parseTar(tar: Uint8Array) {
  const text = (from: number, length: number) =>
    new TextDecoder().decode(tar.subarray(from, from + length)).replace(/\0.*$/s, '')
  const header = tar.subarray(0, 512)
  const checksum = header.reduce((sum, byte, i) => sum + (i >= 148 && i < 156 ? 32 : byte), 0)
  expect(parseInt(text(148, 8), 8)).toBe(checksum)
  expect(text(257, 6)).toBe('ustar')
  expect(text(263, 2)).toBe('00')
  expect(String.fromCharCode(header[156])).toBe('0')
  expect([text(100, 8), text(108, 8), text(116, 8), text(136, 12)])
    .toEqual(['0000644', '0000000', '0000000', '00000000000'])
  expect([text(265, 32), text(297, 32)]).toEqual(['', ''])
  const size = parseInt(text(124, 12), 8)
  expect(tar.length).toBe(tarLength(size))
  expect(tar.subarray(512 + size).every((byte) => byte === 0)).toBe(true)
  return { name: text(0, 100), content: tar.subarray(512, 512 + size) }
}

/** The reference keystream: node:crypto's AES-128-CTR over zeros, key from the seed string. */
function keystream(seed: string, size: number) {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16)
  return new Uint8Array(
    createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size)),
  )
}

describe('randomLayer()', () => {
  for (const compression of COMPRESSIONS) {
    test.each(SIZES)(
      `announces the exact ${compression} length for %p content bytes`,
      async (size) => {
        const layer = randomLayer(spec({ size, compression }), 0, 0, nativeHasher)
        const bytes = await read(layer.stream())
        expect(bytes.length).toBe(layer.size)
      },
    )
  }

  test.each(SIZES)('gzip holds a tar of one file of %p keystream bytes', async (size) => {
    const s = spec({ size, salt: 'salt|x', platforms: 2 })
    const layer = randomLayer(s, 1, 2, nativeHasher)
    expect(layer.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip')
    const tar = decompress(await read(layer.stream()), 'gzip')
    const { name, content } = parseTar(tar)
    expect(name).toBe('random-1-2.bin')
    expect(content.length).toBe(size)
    expect(Buffer.compare(content, keystream('salt|x|1|2', size))).toBe(0)
    expect(await layer.diffId()).toBe(sha256(tar))
  })

  test('gzip is a single member of stored blocks with a fixed header', async () => {
    const bytes = await read(randomLayer(spec({ size: 200_000 }), 0, 0, nativeHasher).stream())
    expect([...bytes.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])
    expect(bytes[10]).toBe(0) // BFINAL 0, BTYPE 00
    expect(bytes[11] | (bytes[12] << 8)).toBe(65535)
    // The gzip CLI agrees on integrity, and decoding the whole member uses up every byte.
    if (Bun.which('gzip')) expect(Bun.spawnSync(['gzip', '-t'], { stdin: bytes }).exitCode).toBe(0)
    expect(zlib.gunzipSync(bytes).length).toBe(tarLength(200_000))
  })

  test.skipIf(!zstdDecompress)('zstd decodes to the same tar (decoder present)', async () => {
    for (const size of SIZES) {
      const layer = randomLayer(spec({ size, compression: 'zstd' }), 0, 0, nativeHasher)
      expect(layer.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd')
      const tar = zstdDecompress!(await read(layer.stream()))
      expect(parseTar(tar).content.length).toBe(size)
      expect(await layer.diffId()).toBe(sha256(tar))
    }
  })

  test('an uncompressed layer is the tar; all compressions share the diffID', async () => {
    const ids = new Set<string>()
    for (const compression of COMPRESSIONS) {
      const layer = randomLayer(spec({ size: 70_000, compression }), 0, 0, nativeHasher)
      const bytes = await read(layer.stream())
      if (compression === 'none') expect(await layer.diffId()).toBe(sha256(bytes))
      ids.add(await layer.diffId())
    }
    expect(ids.size).toBe(1)
  })

  test('the same spec gives the same bytes; salt, platform and index change them', async () => {
    const digest = async (s: RandomImageSpec, platform: number, index: number) =>
      sha256(await read(randomLayer(s, platform, index, nativeHasher).stream()))
    const base = spec({ platforms: 3, size: 5000 })
    const first = await digest(base, 1, 1)
    expect(await digest({ ...base }, 1, 1)).toBe(first)
    const others = [
      await digest({ ...base, salt: `${base.salt}_seed-1` }, 1, 1),
      await digest(base, 0, 1),
      await digest(base, 1, 0),
      await digest(base, 2, 1),
    ]
    expect(new Set([first, ...others]).size).toBe(5)
  })

  test('every stream() starts over, and the noble hasher gives the same diffID', async () => {
    const layer = randomLayer(spec({ size: 100_000 }), 0, 0, nativeHasher)
    const [a, b] = await Promise.all([read(layer.stream()), read(layer.stream())])
    const c = await read(layer.stream()) // after the diffID is known, so without hashing the tar
    expect(sha256(b)).toBe(sha256(a))
    expect(sha256(c)).toBe(sha256(a))
    const noble = randomLayer(spec({ size: 100_000 }), 0, 0, nobleHasher)
    expect(sha256(await read(noble.stream()))).toBe(sha256(a))
    expect(await noble.diffId()).toBe(await layer.diffId())
  })

  test(
    'streams a 64 MiB layer in bounded chunks, which stay unchanged once handed out',
    async () => {
      const size = 64 * 1024 * 1024
      const layer = randomLayer(spec({ size }), 0, 0, nativeHasher)
      const outer = createHash('sha256')
      const gunzip = zlib.createGunzip()
      const inner = createHash('sha256')
      let tarBytes = 0
      gunzip.on('data', (chunk: Buffer) => {
        inner.update(chunk)
        tarBytes += chunk.length
      })
      const ended = new Promise((done) => gunzip.on('end', done))
      const chunks: Uint8Array[] = []
      let length = 0
      for await (const chunk of layer.stream()) {
        expect(chunk.length).toBeLessThanOrEqual(1024 * 1024 + 128)
        outer.update(chunk)
        gunzip.write(chunk)
        chunks.push(chunk)
        length += chunk.length
      }
      gunzip.end()
      await ended
      expect(length).toBe(layer.size)
      const digest = `sha256:${outer.digest('hex')}`
      expect(sha256(Buffer.concat(chunks))).toBe(digest)
      expect(sha256(await read(layer.stream()))).toBe(digest)
      expect(tarBytes).toBe(tarLength(size))
      expect(await layer.diffId()).toBe(`sha256:${inner.digest('hex')}`)
    },
    60_000,
  )

  test('rejects platforms outside the spec and sizes that are not byte counts', () => {
    expect(() => randomLayer(spec({ platforms: 2 }), 2, 0, nativeHasher)).toThrow(RangeError)
    expect(() => randomLayer(spec(), 1, 0, nativeHasher)).toThrow(RangeError)
    expect(() => randomLayer(spec({ size: -1 }), 0, 0, nativeHasher)).toThrow(RangeError)
    expect(() => randomLayer(spec({ size: 1.5 }), 0, 0, nativeHasher)).toThrow(RangeError)
  })

  test('keeps digests stable across versions: cached images must still match', async () => {
    const layer = randomLayer(spec({ salt: 'golden', size: 1000 }), 0, 0, nativeHasher)
    expect(sha256(await read(layer.stream()))).toBe(GOLDEN.gzip)
    expect(await layer.diffId()).toBe(GOLDEN.diffId)
  })
})

describe('framing of huge layers', () => {
  test('a tar header of 8 GiB and more stores the size in base-256', () => {
    const size = 2 ** 33 + 5
    const header = tarHeader('big.bin', size)
    expect(header[124]).toBe(0x80)
    const value = header.subarray(125, 136).reduce((n, byte) => n * 256 + byte, 0)
    expect(value).toBe(size)
    expect(tarHeader('small.bin', 2 ** 33 - 1)[124]).toBe(0x37) // '7': still octal
  })

  test.each([
    [1536, 1, 2],
    [65536 + 256, 2, 4],
    [2 ** 32, 3, 8],
  ])(
    'a zstd frame of a %p byte tar declares its size in the shortest field',
    (tarSize, code, n) => {
      const framer = createFramer('zstd', tarSize)
      const first = framer.frame(new Uint8Array(Math.min(framer.chunk, tarSize)))
      expect([...first.subarray(0, 6)]).toEqual([0x28, 0xb5, 0x2f, 0xfd, code << 6, 7 << 3])
      const field = first.subarray(6, 6 + n).reduceRight((v, byte) => v * 256 + byte, 0)
      expect(field + (code === 1 ? 256 : 0)).toBe(tarSize)
      expect(framer.size).toBe(6 + n + 3 * Math.ceil(tarSize / 131072) + tarSize)
    },
  )

  test('a gzip stream of a 5 GiB tar announces every stored block', () => {
    const tarSize = 5 * 2 ** 30
    expect(createFramer('gzip', tarSize).size).toBe(
      10 + 5 * Math.ceil(tarSize / 65535) + tarSize + 8,
    )
  })
})

describe('image documents', () => {
  const layerRef = (n: number) => ({
    mediaType: 'm',
    digest: `sha256:${String(n).repeat(64)}`,
    size: n,
  })

  test.each(['oci', 'docker'] as const)(
    '%s config, manifest and index parse with their types',
    (format) => {
      const types = {
        oci: [
          'application/vnd.oci.image.config.v1+json',
          'application/vnd.oci.image.manifest.v1+json',
          'application/vnd.oci.image.index.v1+json',
        ],
        docker: [
          'application/vnd.docker.container.image.v1+json',
          'application/vnd.docker.distribution.manifest.v2+json',
          'application/vnd.docker.distribution.manifest.list.v2+json',
        ],
      }[format]
      const s = spec({ format, platforms: 3, layers: 2 })
      const config = imageConfig(s, 2, ['sha256:a', 'sha256:b'])
      expect(config.mediaType).toBe(types[0])
      expect(JSON.parse(new TextDecoder().decode(config.bytes))).toEqual({
        created: '1970-01-01T00:00:00Z',
        architecture: 'arm',
        os: 'linux',
        variant: 'v7',
        config: {},
        rootfs: { type: 'layers', diff_ids: ['sha256:a', 'sha256:b'] },
        history: [
          { created: '1970-01-01T00:00:00Z', created_by: 'broken-reg random layer 0' },
          { created: '1970-01-01T00:00:00Z', created_by: 'broken-reg random layer 1' },
        ],
      })
      const configRef = {
        mediaType: config.mediaType,
        digest: sha256(config.bytes),
        size: config.bytes.length,
      }
      const manifest = imageManifest(s, configRef, [layerRef(1), layerRef(2)])
      expect(manifest.mediaType).toBe(types[1])
      expect(JSON.parse(new TextDecoder().decode(manifest.bytes))).toEqual({
        schemaVersion: 2,
        mediaType: types[1],
        config: configRef,
        layers: [layerRef(1), layerRef(2)],
      })
      const ref = {
        mediaType: manifest.mediaType,
        digest: sha256(manifest.bytes),
        size: manifest.bytes.length,
      }
      const index = imageIndex(s, [0, 1, 2].map((platform) => ({ ...ref, platform })))
      expect(index.mediaType).toBe(types[2])
      const parsed = JSON.parse(new TextDecoder().decode(index.bytes))
      expect(parsed.mediaType).toBe(types[2])
      expect(parsed.manifests.map((m: { platform: object }) => m.platform)).toEqual([
        { architecture: 'amd64', os: 'linux' },
        { architecture: 'arm64', os: 'linux' },
        { architecture: 'arm', os: 'linux', variant: 'v7' },
      ])
      expect(parsed.manifests[0]).toEqual({
        ...ref,
        platform: { architecture: 'amd64', os: 'linux' },
      })
    },
  )

  test('documents serialise the same whatever order the caller builds descriptors in', () => {
    const s = spec()
    const a = imageManifest(s, { size: 1, digest: 'sha256:c', mediaType: 'x' }, [layerRef(3)])
    const b = imageManifest(s, { mediaType: 'x', digest: 'sha256:c', size: 1 }, [layerRef(3)])
    expect(new TextDecoder().decode(a.bytes)).toBe(new TextDecoder().decode(b.bytes))
    expect(new TextDecoder().decode(a.bytes)).not.toContain(' ')
  })

  test('PLATFORMS starts with linux/amd64 and has no duplicates', () => {
    expect(PLATFORMS[0]).toEqual({ os: 'linux', architecture: 'amd64' })
    const keys = PLATFORMS.map((p) => `${p.os}/${p.architecture}/${p.variant ?? ''}`)
    expect(new Set(keys).size).toBe(PLATFORMS.length)
    expect(() => imageConfig(spec({ platforms: 99 }), PLATFORMS.length, [])).toThrow(RangeError)
  })
})

// Pinned so a change of the byte layout (and so of every cached random image) cannot go unnoticed.
const GOLDEN = {
  gzip: 'sha256:769d7e1d5ab4fc669fa7c74dca5d1f2a8c82ff17fc10eecc205052ea98b8c203',
  diffId: 'sha256:f8fe7a26a3baf23c1a780847cb23014ddb135bb3e3e87bd9cf33a6757c5a9dfb',
}

/** The digests of a small multi-platform image, printed as JSON; run under Bun and under Deno. */
const DIGEST_SCRIPT = `
import { nativeHasher } from ${JSON.stringify(join(ROOT, 'src/crypto/native.ts'))}
import { imageConfig, imageIndex, imageManifest, randomLayer } from ${
  JSON.stringify(join(ROOT, 'src/images/random.ts'))
}
import { createHash } from 'node:crypto'
const sha256 = (b) => 'sha256:' + createHash('sha256').update(b).digest('hex')
const ref = ({ mediaType, bytes }) => ({ mediaType, digest: sha256(bytes), size: bytes.length })
const out = {}
const cases = [['oci', 'gzip'], ['oci', 'zstd'], ['docker', 'gzip'], ['docker', 'none']]
for (const [format, compression] of cases) {
  const spec = { salt: 'cross|runtime', layers: 2, size: 70000, format, platforms: 2, compression }
  const manifests = []
  for (let platform = 0; platform < 2; platform++) {
    const layers = []
    const diffIds = []
    for (let index = 0; index < 2; index++) {
      const layer = randomLayer(spec, platform, index, nativeHasher)
      const bytes = new Uint8Array(await new Response(layer.stream()).arrayBuffer())
      layers.push(ref({ mediaType: layer.mediaType, bytes }))
      diffIds.push(await layer.diffId())
    }
    const config = ref(imageConfig(spec, platform, diffIds))
    manifests.push({ ...ref(imageManifest(spec, config, layers)), platform })
    out[format + '/' + compression + '/' + platform] = { layers, diffIds, config: config.digest }
  }
  out[format + '/' + compression] = sha256(imageIndex(spec, manifests).bytes)
}
console.log(JSON.stringify(out))
`

describe('cross-runtime determinism', () => {
  const deno = join(ROOT, 'node_modules/.bin/deno')
  test.skipIf(!existsSync(deno))('Deno generates the same digests as Bun', () => {
    const dir = mkdtempSync(join(tmpdir(), 'random-digests-'))
    const script = join(dir, 'digests.ts')
    writeFileSync(script, DIGEST_SCRIPT)
    const run = (cmd: string[]) => {
      const child = Bun.spawnSync(cmd, { cwd: ROOT, stderr: 'pipe' })
      if (child.exitCode !== 0) throw new Error(`${cmd[0]} failed: ${child.stderr.toString()}`)
      return JSON.parse(child.stdout.toString())
    }
    try {
      const bun = run([process.execPath, script])
      expect(Object.keys(bun).length).toBe(12)
      expect(run([deno, 'run', '--allow-all', script])).toEqual(bun)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
