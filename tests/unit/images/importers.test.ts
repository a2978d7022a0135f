// The importers: OCI layouts and docker archives written by hand, by the tar CLI and by skopeo,
// read back into bundles whose manifests and streamed blobs keep their digests.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { tarHeader, tarLength } from '../../../src/images/_archive.ts'
import { FIXTURES } from '../../../src/images/catalog.ts'
import { readDockerArchive } from '../../../src/images/docker-archive.ts'
import { readOciLayout } from '../../../src/images/oci-layout.ts'
import type { BundleManifest, ImageBundle } from '../../../src/images/types.ts'
import { concat } from '../../../src/util/streams.ts'

const REF_NAME = 'org.opencontainers.image.ref.name'
const hasSkopeo = Bun.which('skopeo') !== null
const hasTar = Bun.which('tar') !== null
const encoder = new TextEncoder()

const sha256 = (bytes: Uint8Array | string) =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`
const read = async (stream: ReadableStream<Uint8Array>) =>
  new Uint8Array(await new Response(stream).arrayBuffer())
const fixture = (name: string) => FIXTURES.find((f) => f.name === name)!.build()
const parse = (m: BundleManifest) => JSON.parse(new TextDecoder().decode(m.bytes))

let tmp: string
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'broken-reg-importers-'))
})
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true })
})

/** Every blob of a bundle, streamed, checked against its digest and size. */
async function readBlobs(bundle: ImageBundle): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>()
  for (const blob of bundle.blobs) {
    const bytes = await read(blob.open())
    expect(sha256(bytes)).toBe(blob.digest)
    expect(bytes.length).toBe(blob.size)
    out.set(blob.digest, bytes)
  }
  return out
}

/** Writes bundles' blobs and manifests as an OCI layout, naming the given manifests. */
async function writeLayout(dir: string, bundles: ImageBundle[], names: Record<string, string>) {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true })
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  const path = (digest: string) => join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length))
  const manifests = new Map<string, BundleManifest>()
  for (const bundle of bundles) {
    for (const blob of bundle.blobs) await writeFile(path(blob.digest), await read(blob.open()))
    for (const m of bundle.manifests) {
      await writeFile(path(m.digest), m.bytes)
      manifests.set(m.digest, m)
    }
  }
  const entries = Object.entries(names).map(([name, digest]) => {
    const m = manifests.get(digest)!
    const annotations = { [REF_NAME]: name }
    return { mediaType: m.mediaType, digest, size: m.bytes.length, annotations }
  })
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: entries }))
  return { path }
}

const root = (bundle: ImageBundle) => bundle.manifests.at(-1)!

describe('readOciLayout()', () => {
  test.each([
    'docker-manifest-list',
    'oci-index',
    'nested-index',
    'attestation-index',
    'schema1-signed',
    'schema1-unsigned',
    'foreign-layer',
    'uncompressed-layer',
    'zstd-layer',
    'empty-image',
    'manifest-just-over-4mib',
  ])('reads back %s: the same manifests, children first, and its blobs', async (name) => {
    const bundle = fixture(name)
    const dir = join(tmp, `layout-${name}`)
    await writeLayout(dir, [bundle], { v1: root(bundle).digest })
    const read = await readOciLayout(dir, 'v1')
    expect(read.manifests.map((m) => m.digest)).toEqual(bundle.manifests.map((m) => m.digest))
    expect(read.manifests.map((m) => m.mediaType)).toEqual(bundle.manifests.map((m) => m.mediaType))
    for (const [i, m] of read.manifests.entries()) {
      expect(Buffer.compare(m.bytes, bundle.manifests[i].bytes)).toBe(0)
    }
    const digests = (b: ImageBundle) => b.blobs.map((blob) => blob.digest).sort()
    expect(digests(read)).toEqual(digests(bundle))
    await readBlobs(read)
  })

  test('follows index children but not subjects, and skips blobs the layout lacks', async () => {
    const artifact = fixture('artifact-with-subject')
    const dir = join(tmp, 'layout-artifact')
    await writeLayout(dir, [artifact], { v1: root(artifact).digest })
    const read = await readOciLayout(dir, 'v1')
    expect(read.manifests.map((m) => m.digest)).toEqual([root(artifact).digest])
    const json = parse(root(artifact))
    expect(read.blobs.map((b) => b.digest).sort())
      .toEqual([json.config.digest, json.layers[0].digest].sort())

    const missing = fixture('missing-config')
    const dir2 = join(tmp, 'layout-missing-config')
    await writeLayout(dir2, [missing], { v1: root(missing).digest })
    const blobs = await readBlobs(await readOciLayout(dir2))
    expect([...blobs.keys()]).toEqual([parse(root(missing)).layers[0].digest])
  })

  test('reads a sparse index whose other platforms were not copied', async () => {
    const bundle = fixture('oci-index')
    const dir = join(tmp, 'layout-sparse')
    const { path } = await writeLayout(dir, [bundle], { v1: root(bundle).digest })
    const arm64 = parse(root(bundle)).manifests[1].digest
    await unlink(path(arm64))
    const read = await readOciLayout(dir, 'v1')
    expect(read.manifests.map((m) => m.digest))
      .toEqual(bundle.manifests.map((m) => m.digest).filter((d) => d !== arm64))
  })

  test('picks an image by name or digest, and names the choices when it cannot', async () => {
    const a = fixture('oci-index')
    const b = fixture('empty-image')
    const dir = join(tmp, 'layout-two')
    await writeLayout(dir, [a, b], { a: root(a).digest, b: root(b).digest })
    expect(root(await readOciLayout(dir, 'b')).digest).toBe(root(b).digest)
    expect(root(await readOciLayout(dir, root(a).digest)).digest).toBe(root(a).digest)
    await expect(readOciLayout(dir)).rejects.toThrow(/holds 2 images: name one of "a", "b"/)
    await expect(readOciLayout(dir, 'c')).rejects.toThrow(/no image "c": it has "a", "b"/)
  })

  test('refuses a directory that is not a layout, and a manifest that does not match', async () => {
    await expect(readOciLayout(tmp)).rejects.toThrow(/is not an OCI image layout/)
    const bundle = fixture('empty-image')
    const dir = join(tmp, 'layout-corrupt')
    const { path } = await writeLayout(dir, [bundle], { v1: root(bundle).digest })
    await writeFile(path(root(bundle).digest), '{}')
    await expect(readOciLayout(dir)).rejects.toThrow(/has digest sha256:/)
  })
})

// ---------------------------------------------------------------------------------------------
// Docker archives

interface Entry {
  name: string
  content?: Uint8Array
  /** Tar type flag: '0' file, '1' hard link, '2' symlink, '5' directory. */
  type?: string
  linkname?: string
  /** How a name over 100 bytes is written: a pax header, or a GNU 'L' entry. */
  long?: 'pax' | 'gnu'
}

/** A tar written entry by entry, with pax and GNU long names and links. */
function tarOf(entries: Entry[]): Uint8Array {
  const blocks: Uint8Array[] = []
  const put = (name: string, content: Uint8Array, type: string, linkname = '') => {
    const header = tarHeader(name.slice(0, 100), content.length)
    header[156] = type.charCodeAt(0)
    header.set(encoder.encode(linkname.slice(0, 100)), 157)
    header.fill(0x20, 148, 156)
    const sum = header.reduce((total, byte) => total + byte, 0)
    header.set(encoder.encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148)
    const padded = new Uint8Array(Math.ceil(content.length / 512) * 512)
    padded.set(content)
    blocks.push(header, padded)
  }
  for (const e of entries) {
    const type = e.type ?? '0'
    if (e.long === 'pax') {
      const record = ` path=${e.name}\n`
      let length = record.length + 2
      while (`${length}${record}`.length !== length) length = `${length}${record}`.length
      put('PaxHeaders/x', encoder.encode(`${length}${record}`), 'x')
    }
    if (e.long === 'gnu') put('././@LongLink', encoder.encode(`${e.name}\0`), 'L')
    put(e.name, e.content ?? new Uint8Array(0), type, e.linkname)
  }
  blocks.push(new Uint8Array(1024))
  return concat(blocks)
}

/** A layer: a tar of one file of `size` bytes derived from `seed`. */
function layerTar(seed: string, size = 100): Uint8Array {
  const content = new Uint8Array(size)
  for (let at = 0; at < size; at += 32) {
    content.set(createHash('sha256').update(`${seed}|${at}`).digest().subarray(0, size - at), at)
  }
  const tar = new Uint8Array(tarLength(size))
  tar.set(tarHeader(`${seed}.bin`, size))
  tar.set(content, 512)
  return tar
}

function configOf(layers: Uint8Array[]): Uint8Array {
  return encoder.encode(JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    config: {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l)) },
  }))
}

/** Checks an imported docker archive against the config and layer tars it was written from. */
async function expectImage(bundle: ImageBundle, config: Uint8Array, layers: Uint8Array[]) {
  expect(bundle.manifests.length).toBe(1)
  const [manifest] = bundle.manifests
  expect(manifest.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json')
  expect(manifest.digest).toBe(sha256(manifest.bytes))
  const json = parse(manifest)
  expect(json.mediaType).toBe(manifest.mediaType)
  expect(json.config).toEqual({
    mediaType: 'application/vnd.docker.container.image.v1+json',
    size: config.length,
    digest: sha256(config),
  })
  expect(json.layers).toEqual(layers.map((l) => ({
    mediaType: 'application/vnd.docker.image.rootfs.diff.tar',
    size: l.length,
    digest: sha256(l),
  })))
  const blobs = await readBlobs(bundle)
  expect(blobs.size).toBe(new Set([config, ...layers].map((b) => sha256(b))).size)
  // The layer digests are the config's diff_ids: the archive holds them uncompressed.
  const diffIds =
    JSON.parse(new TextDecoder().decode(blobs.get(json.config.digest))).rootfs.diff_ids
  expect(json.layers.map((l: { digest: string }) => l.digest)).toEqual(diffIds)
}

describe('readDockerArchive()', () => {
  // A 3 MiB layer streams in several reads of the file; the others exercise every name form.
  const layers = [layerTar('big', 3 * 1024 * 1024), layerTar('pax'), layerTar('gnu'), layerTar('x')]
  const config = configOf([layers[0], layers[1], layers[2], layers[0], layers[0], layers[3]])
  const configName = `${sha256(config).slice(7)}.json`
  const paxDir = 'p'.repeat(120)
  const gnuDir = 'g'.repeat(110)
  const layerPaths = [
    'aaa/layer.tar',
    `${paxDir}/layer.tar`,
    `${gnuDir}/layer.tar`,
    'sym/layer.tar',
    'hard/layer.tar',
    'prefixed/layer.tar',
  ]
  const manifestJson = (tags: string[]) =>
    encoder.encode(JSON.stringify([{ Config: configName, RepoTags: tags, Layers: layerPaths }]))
  const entries = (tags: string[]): Entry[] => [
    { name: 'aaa/', type: '5' },
    { name: 'aaa/layer.tar', content: layers[0] },
    { name: `${paxDir}/layer.tar`, content: layers[1], long: 'pax' },
    { name: `${gnuDir}/layer.tar`, content: layers[2], long: 'gnu' },
    { name: 'sym/layer.tar', type: '2', linkname: '../aaa/layer.tar' },
    { name: 'hard/layer.tar', type: '1', linkname: 'aaa/layer.tar' },
    { name: './prefixed/layer.tar', content: layers[3] },
    { name: configName, content: config },
    { name: 'manifest.json', content: manifestJson(tags) },
  ]

  test('reads ustar, pax and GNU names, symbolic and hard links, layers as they are', async () => {
    const path = join(tmp, 'hand.tar')
    await writeFile(path, tarOf(entries(['broken/test:v1'])))
    const bundle = await readDockerArchive(path)
    await expectImage(bundle, config, [...layers.slice(0, 3), layers[0], layers[0], layers[3]])
    const big = bundle.blobs.find((b) => b.digest === sha256(layers[0]))!
    let chunks = 0
    for await (const _ of big.open()) chunks++
    expect(chunks).toBeGreaterThan(1)
  })

  test('picks an image by tag, docker.io and library/ or not', async () => {
    const path = join(tmp, 'tags.tar')
    const image = { Config: configName, Layers: layerPaths }
    const manifest = [
      { ...image, RepoTags: ['docker.io/library/busybox:latest'] },
      { ...image, RepoTags: ['other:v2'] },
    ]
    const list = entries([]).slice(0, -1)
    list.push({ name: 'manifest.json', content: encoder.encode(JSON.stringify(manifest)) })
    await writeFile(path, tarOf(list))
    await expect(readDockerArchive(path)).rejects
      .toThrow(/holds 2 images: name one of docker.io\/library\/busybox:latest, other:v2/)
    for (const ref of ['busybox', 'library/busybox:latest', 'docker.io/library/busybox']) {
      expect((await readDockerArchive(path, ref)).manifests.length).toBe(1)
    }
    await expect(readDockerArchive(path, 'busybox:v2')).rejects.toThrow(/no image "busybox:v2"/)
  })

  test('takes layer digests from blobs/sha256 names and marks compressed layers', async () => {
    const gzipped = new Uint8Array(gzipSync(layers[1]))
    const config = configOf([layers[3], layers[1]])
    const blob = (bytes: Uint8Array) => `blobs/sha256/${sha256(bytes).slice(7)}`
    const manifest = [{
      Config: blob(config),
      RepoTags: ['new:v1'],
      Layers: [blob(layers[3]), blob(gzipped)],
    }]
    const path = join(tmp, 'docker25.tar')
    await writeFile(
      path,
      tarOf([
        { name: 'blobs/', type: '5' },
        { name: blob(config), content: config },
        { name: blob(layers[3]), content: layers[3] },
        { name: blob(gzipped), content: gzipped },
        { name: 'manifest.json', content: encoder.encode(JSON.stringify(manifest)) },
      ]),
    )
    const bundle = await readDockerArchive(path)
    const json = parse(bundle.manifests[0])
    expect(json.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([
      'application/vnd.docker.image.rootfs.diff.tar',
      'application/vnd.docker.image.rootfs.diff.tar.gzip',
    ])
    expect(json.layers[1].digest).toBe(sha256(gzipped))
    await readBlobs(bundle)
  })

  test('names what is wrong with an archive it cannot read', async () => {
    const path = join(tmp, 'bad.tar')
    const tar = tarOf(entries(['x:v1']))
    await writeFile(path, gzipSync(tar))
    await expect(readDockerArchive(path)).rejects.toThrow(/is compressed: decompress it first/)
    await writeFile(path, 'not a tar at all'.repeat(64))
    await expect(readDockerArchive(path)).rejects.toThrow(/is not a tar archive/)
    await writeFile(path, tar.subarray(0, 4096))
    await expect(readDockerArchive(path)).rejects.toThrow(/is truncated/)
    await writeFile(path, tarOf(entries(['x:v1']).slice(0, -1)))
    await expect(readDockerArchive(path)).rejects.toThrow(/has no manifest.json/)
  })

  test.skipIf(!hasTar)('reads archives the tar CLI writes as ustar, gnu and pax', async () => {
    const dir = join(tmp, 'tree')
    const long = `${'d'.repeat(90)}/${'e'.repeat(40)}`
    await mkdir(join(dir, long), { recursive: true })
    await mkdir(join(dir, 'aaa'))
    await writeFile(join(dir, 'aaa', 'layer.tar'), layers[0])
    await writeFile(join(dir, long, 'layer.tar'), layers[1])
    await symlink('aaa/layer.tar', join(dir, 'link.tar'))
    const config = configOf([layers[0], layers[1], layers[0]])
    await writeFile(join(dir, 'config.json'), config)
    const Layers = ['aaa/layer.tar', `${long}/layer.tar`, 'link.tar']
    const manifest = [{ Config: 'config.json', RepoTags: ['cli:v1'], Layers }]
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest))
    for (const format of ['ustar', 'gnu', 'pax']) {
      const path = join(tmp, `cli-${format}.tar`)
      const { exitCode, stderr } = Bun.spawnSync(['tar', `--format=${format}`, '-cf', path, '.'], {
        cwd: dir,
      })
      expect(stderr.toString()).toBe('')
      expect(exitCode).toBe(0)
      await expectImage(await readDockerArchive(path), config, [layers[0], layers[1], layers[0]])
    }
  })
})

// ---------------------------------------------------------------------------------------------
// Round trips through skopeo

async function skopeo(...args: string[]) {
  const policy = join(tmp, 'policy.json')
  await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }))
  const proc = Bun.spawn(['skopeo', '--policy', policy, ...args], {
    stderr: 'pipe',
    stdout: 'pipe',
  })
  const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()])
  if (code !== 0) throw new Error(`skopeo ${args.join(' ')} failed: ${stderr}`)
}

describe('skopeo round trips', () => {
  test.skipIf(!hasSkopeo)('an index copied with --all keeps every digest', async () => {
    const bundle = fixture('oci-index')
    const source = join(tmp, 'skopeo-src-index')
    await writeLayout(source, [bundle], { v1: root(bundle).digest })
    const dest = join(tmp, 'skopeo-dst-index')
    await skopeo('copy', '--all', `oci:${source}:v1`, `oci:${dest}:copied`)
    const read = await readOciLayout(dest, 'copied')
    expect(read.manifests.map((m) => m.digest)).toEqual(bundle.manifests.map((m) => m.digest))
    const blobs = await readBlobs(read)
    expect([...blobs.keys()].sort()).toEqual(bundle.blobs.map((b) => b.digest).sort())
  }, 30_000)

  test.skipIf(!hasSkopeo)(
    'a docker-archive of a gzip image holds the config and diff_ids',
    async () => {
      const bundle = fixture('oci-index')
      const image = bundle.manifests[0]
      const source = join(tmp, 'skopeo-src-single')
      await writeLayout(source, [bundle], { single: image.digest })
      const archive = join(tmp, 'skopeo.tar')
      await skopeo('copy', `oci:${source}:single`, `docker-archive:${archive}:broken/test:v1`)
      const read = await readDockerArchive(archive, 'broken/test:v1')
      expect(root(read).digest).toBe((await readDockerArchive(archive)).manifests[0].digest)

      const json = parse(image)
      const sourceBlobs = await readBlobs(bundle)
      const config = sourceBlobs.get(json.config.digest)!
      const layers = json.layers.map((l: { digest: string }) =>
        new Uint8Array(gunzipSync(sourceBlobs.get(l.digest)!))
      )
      await expectImage(read, config, layers)
    },
    30_000,
  )

  test.skipIf(!hasSkopeo)('an OCI layout skopeo writes from a docker archive', async () => {
    const layers2 = [layerTar('skopeo-a', 5000), layerTar('skopeo-b', 70_000)]
    const path = join(tmp, 'for-skopeo.tar')
    const config = configOf([layers2[0], layers2[1]])
    const names = layers2.map((_, i) => `l${i}/layer.tar`)
    await writeFile(
      path,
      tarOf([
        ...layers2.map((content, i) => ({ name: names[i], content })),
        { name: 'config.json', content: config },
        {
          name: 'manifest.json',
          content: encoder.encode(
            JSON.stringify([{ Config: 'config.json', RepoTags: ['hand:v1'], Layers: names }]),
          ),
        },
      ]),
    )
    const dest = join(tmp, 'skopeo-from-archive')
    await skopeo('copy', `docker-archive:${path}`, `oci:${dest}:v1`)
    const fromLayout = await readOciLayout(dest, 'v1')
    const fromArchive = await readDockerArchive(path)
    await expectImage(fromArchive, config, layers2)
    // skopeo keeps the config and gzips the layers; each layer holds the same tar.
    const blobs = await readBlobs(fromLayout)
    const [layout, archive] = [fromLayout, fromArchive].map((b) => parse(root(b)))
    expect(layout.config.digest).toBe(archive.config.digest)
    const tars = layout.layers.map((l: { digest: string }) =>
      sha256(gunzipSync(blobs.get(l.digest)!))
    )
    expect(tars).toEqual(archive.layers.map((l: { digest: string }) => l.digest))
  }, 30_000)
})
