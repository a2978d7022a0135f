// The built-in catalog of odd and broken images that `broken-reg seed fixtures` stores, each in
// broken/prepared/fixtures/<name>:latest. Each one is tiny, deterministic and built in memory, and
// valid except for its one oddity.
import { Buffer } from 'node:buffer'
import { createHash } from 'node:crypto'
import { IMAGE_TYPES, MEDIA_TYPE } from '../registry/constants.ts'
import { type Compression, createFramer, tarHeader, tarLength } from './_archive.ts'
import type { Platform } from './random.ts'
import type { BundleBlob, BundleManifest, ImageBundle } from './types.ts'

/** A named odd image; its repository is broken/prepared/fixtures/<name>, tagged 'latest'. */
export interface Fixture {
  /** Kebab-case, unique in the catalog. */
  name: string
  /** One line: the client behaviour it exercises. */
  summary: string
  build(): ImageBundle
}

type Format = 'docker' | 'oci'

const TYPES = IMAGE_TYPES

const FOREIGN_LAYER = IMAGE_TYPES.docker.foreign
const FOREIGN_URL = 'https://example.invalid/layer.tar.gz'
const EPOCH = '1970-01-01T00:00:00Z'
const MIB = 1024 * 1024
const AMD64: Platform = { os: 'linux', architecture: 'amd64' }
const ARM64: Platform = { os: 'linux', architecture: 'arm64' }
const UNKNOWN: Platform = { os: 'unknown', architecture: 'unknown' }

interface Descriptor {
  mediaType: string
  digest: string
  size: number
  [field: string]: unknown
}

interface Layer {
  descriptor: Descriptor
  /** `sha256:…` of the uncompressed content, for the config's rootfs. */
  diffId: string
}

/** Collects one fixture's blobs and manifests, in the order they are added. */
class Bundle {
  readonly blobs = new Map<string, BundleBlob>()
  readonly manifests: BundleManifest[] = []

  /** A descriptor of `bytes`, stored as a blob unless `store` is false. */
  blob(mediaType: string, bytes: Uint8Array, store = true): Descriptor {
    const digest = sha256(bytes)
    if (store && !this.blobs.has(digest)) {
      this.blobs.set(digest, { digest, size: bytes.length, open: () => streamOf(bytes) })
    }
    return { mediaType, digest, size: bytes.length }
  }

  /** Serialises and stores a manifest; a Uint8Array is stored as it is. */
  manifest(mediaType: string, value: object | Uint8Array): Descriptor {
    const bytes = value instanceof Uint8Array ? value : json(value)
    const digest = sha256(bytes)
    if (!this.manifests.some((m) => m.digest === digest)) {
      this.manifests.push({ digest, mediaType, bytes })
    }
    return { mediaType, digest, size: bytes.length }
  }

  done(): ImageBundle {
    return { blobs: [...this.blobs.values()], manifests: [...this.manifests] }
  }
}

/** How an image deviates from a plain one; everything left out is correct. */
interface ImageOptions {
  format: Format
  platform?: Platform
  layers: Layer[]
  configType?: string
  storeConfig?: boolean
  /** Pads the manifest with an annotation to exactly this many bytes. */
  size?: number
}

/** An image config and manifest over `layers`; returns the manifest's descriptor. */
function image(b: Bundle, options: ImageOptions): Descriptor {
  const { format, platform = AMD64, layers } = options
  const config = b.blob(
    options.configType ?? TYPES[format].config,
    json(imageConfig(platform, layers.map((l) => l.diffId))),
    options.storeConfig ?? true,
  )
  const mediaType = TYPES[format].manifest
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config,
    layers: layers.map((l) => l.descriptor),
  }
  return b.manifest(
    mediaType,
    options.size === undefined ? manifest : padded(manifest, options.size),
  )
}

function imageConfig(platform: Platform, diffIds: string[]) {
  return {
    created: EPOCH,
    ...platform,
    config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map((_, i) => ({
      created: EPOCH,
      created_by: `broken-reg fixture layer ${i}`,
    })),
  }
}

/** The manifest's JSON, grown by one annotation to exactly `size` bytes. */
function padded(manifest: object, size: number): Uint8Array {
  const withPadding = (length: number) =>
    json({ ...manifest, annotations: { 'org.broken-reg.padding': 'x'.repeat(length) } })
  const length = size - withPadding(0).length
  if (length < 0) throw new RangeError(`Cannot pad a manifest to ${size} bytes: it is larger`)
  return withPadding(length)
}

/** An index (OCI) or manifest list (docker) over `children`. */
function index(b: Bundle, format: Format, children: Descriptor[]): Descriptor {
  const mediaType = TYPES[format].index
  return b.manifest(mediaType, { schemaVersion: 2, mediaType, manifests: children })
}

/** A tar of one text file, as a layer of the given compression. */
function layer(
  b: Bundle,
  format: Format,
  compression: Compression,
  file: string,
  options: { content?: Uint8Array; mangle?: (framed: Uint8Array) => Uint8Array } = {},
): Layer {
  const content = options.content ?? tarOf(file, `broken-reg fixture ${file}\n`)
  const framed = frame(compression, content)
  const bytes = options.mangle ? options.mangle(framed) : framed
  return { descriptor: b.blob(TYPES[format][compression], bytes), diffId: sha256(content) }
}

const withPlatform = (descriptor: Descriptor, platform: Platform) => ({ ...descriptor, platform })

/** A linux/amd64 and a linux/arm64 image, as an index lists them. */
function platformImages(b: Bundle, format: Format, name: string): Descriptor[] {
  return [AMD64, ARM64].map((platform) => {
    const file = `${name}-${platform.architecture}.txt`
    return withPlatform(
      image(b, { format, platform, layers: [layer(b, format, 'gzip', file)] }),
      platform,
    )
  })
}

/** Two platform images under an index or manifest list. */
function twoPlatforms(format: Format, name: string): ImageBundle {
  const b = new Bundle()
  index(b, format, platformImages(b, format, name))
  return b.done()
}

/** A plain one-layer image with one deviation. */
function single(
  options: Omit<ImageOptions, 'layers'> & { compression?: Compression },
  file: string,
) {
  return (): ImageBundle => {
    const b = new Bundle()
    const layers = [layer(b, options.format, options.compression ?? 'gzip', file)]
    image(b, { ...options, layers })
    return b.done()
  }
}

/** A docker schema 1 manifest (two layers, newest first), signed or not. */
function schema1(name: string, signed: boolean): ImageBundle {
  const b = new Bundle()
  const layers = ['base', 'top'].map((part) => layer(b, 'docker', 'gzip', `${name}-${part}.txt`))
  const ids = layers.map((l) => sha256(`${name}|${l.diffId}`).slice('sha256:'.length))
  const history = layers.map((_, i) => ({
    v1Compatibility: JSON.stringify({
      id: ids[i],
      ...(i > 0 && { parent: ids[i - 1] }),
      created: EPOCH,
      container_config: { Cmd: [`/bin/sh -c #(nop) ADD file:${name}-${i} in / `] },
      ...(i === layers.length - 1 && { config: { Cmd: ['/bin/sh'] } }),
      architecture: 'amd64',
      os: 'linux',
    }),
  }))
  const manifest = {
    schemaVersion: 1,
    name: `broken/prepared/fixtures/${name}`,
    tag: 'latest',
    architecture: 'amd64',
    fsLayers: layers.map((l) => ({ blobSum: l.descriptor.digest })).reverse(),
    history: history.reverse(),
  }
  if (!signed) b.manifest(MEDIA_TYPE.dockerSchema1, json(manifest, 3))
  else b.manifest(MEDIA_TYPE.dockerSchema1Signed, signedSchema1(manifest))
  return b.done()
}

/**
 * Schema 1 JWS in libtrust's "pretty" form. The protected header's formatLength covers the whole
 * document and formatTail is empty, so the payload clients hash for the digest (libtrust's
 * Payload()) is every byte: the digest is sha256 of the bytes, as this registry stores it. The
 * key is P-256's generator point (a valid point), and the signature is 64 arbitrary bytes.
 */
function signedSchema1(manifest: object): Uint8Array {
  const payload = JSON.stringify(manifest, null, 3)
  const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url')
  const hex = (text: string) => b64(Buffer.from(text, 'hex'))
  const header = {
    jwk: {
      crv: 'P-256',
      kty: 'EC',
      x: hex('6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296'),
      y: hex('4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5'),
    },
    alg: 'ES256',
  }
  const signature = b64(createHash('sha512').update(payload).digest())
  const document = (length: number) => {
    const protectedHeader = b64(
      JSON.stringify({ formatLength: length, formatTail: '', time: EPOCH }),
    )
    const signatures = [{ header, signature, protected: protectedHeader }]
    const block = JSON.stringify(signatures, null, 3).replaceAll('\n', '\n   ')
    return `${payload.slice(0, -2)},\n   "signatures": ${block}\n}`
  }
  // The length is inside the document it measures: iterate to the fixed point (a step or two).
  let length = document(0).length
  for (let i = 0; i < 8 && document(length).length !== length; i++) length = document(length).length
  const text = document(length)
  if (text.length !== length) throw new Error('Cannot fit the schema 1 signature to its length')
  return new TextEncoder().encode(text)
}

/** The subject image, and an artifact manifest that refers to it. */
function artifactWithSubject(): ImageBundle {
  const b = new Bundle()
  const subject = image(b, {
    format: 'oci',
    layers: [layer(b, 'oci', 'gzip', 'artifact-with-subject.txt')],
  })
  const empty = b.blob(MEDIA_TYPE.ociEmpty, json({}))
  const note = b.blob(
    'application/vnd.broken-reg.note.v1+json',
    json({ note: 'an artifact that refers to its subject image' }),
  )
  b.manifest(MEDIA_TYPE.ociManifest, {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociManifest,
    artifactType: 'application/vnd.broken-reg.note.v1',
    config: { ...empty, data: Buffer.from('{}').toString('base64') },
    layers: [note],
    subject,
    annotations: { 'org.opencontainers.image.created': EPOCH },
  })
  return b.done()
}

/** An index whose only child is another index of two platforms. */
function nestedIndex(): ImageBundle {
  const b = new Bundle()
  index(b, 'oci', [index(b, 'oci', platformImages(b, 'oci', 'nested-index'))])
  return b.done()
}

/** What `docker buildx build --attest` pushes: the image and its in-toto attestation manifest. */
function attestationIndex(): ImageBundle {
  const b = new Bundle()
  const subject = image(b, {
    format: 'oci',
    layers: [layer(b, 'oci', 'gzip', 'attestation-index.txt')],
  })
  const statement = json({
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: 'https://slsa.dev/provenance/v0.2',
    subject: [{
      name: 'pkg:docker/broken/prepared/fixtures/attestation-index@latest?platform=linux%2Famd64',
      digest: { sha256: subject.digest.slice('sha256:'.length) },
    }],
    predicate: { builder: { id: 'https://example.invalid/broken-reg' }, buildType: 'fixture' },
  })
  const attestation = b.blob('application/vnd.in-toto+json', statement)
  const attestationLayer: Layer = {
    descriptor: {
      ...attestation,
      annotations: { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' },
    },
    diffId: attestation.digest,
  }
  const manifest = image(b, { format: 'oci', platform: UNKNOWN, layers: [attestationLayer] })
  index(b, 'oci', [
    withPlatform(subject, AMD64),
    {
      ...withPlatform(manifest, UNKNOWN),
      annotations: {
        'vnd.docker.reference.digest': subject.digest,
        'vnd.docker.reference.type': 'attestation-manifest',
      },
    },
  ])
  return b.done()
}

// Summaries say what docker 20.10, containerd 1.6, podman 4.3 and skopeo 1.9 did with each one.
/** The fixtures, in the order `seed fixtures` stores and lists them. */
export const FIXTURES: readonly Fixture[] = [
  {
    name: 'docker-manifest-list',
    summary:
      'Docker manifest list of linux/amd64 and arm64: docker, containerd and podman pull their ' +
      'platform; skopeo copies one unless --all',
    build: () => twoPlatforms('docker', 'docker-manifest-list'),
  },
  {
    name: 'oci-index',
    summary:
      'OCI index of linux/amd64 and arm64: docker, containerd and podman pull their platform; ' +
      'skopeo copies one unless --all',
    build: () => twoPlatforms('oci', 'oci-index'),
  },
  {
    name: 'nested-index',
    summary: 'OCI index whose only child is another index: containerd pulls it; docker finds no ' +
      'matching manifest; skopeo and podman refuse the inner index',
    build: nestedIndex,
  },
  {
    name: 'artifact-with-subject',
    summary:
      'OCI artifact (artifactType, empty config) with a subject image: the referrers API lists ' +
      'it; skopeo copies it; docker, containerd and podman refuse to pull it',
    build: artifactWithSubject,
  },
  {
    name: 'schema1-signed',
    summary:
      'Docker schema 1 prettyjws with an unverifiable signature: docker, containerd, podman and ' +
      'skopeo convert it, also by digest',
    build: () => schema1('schema1-signed', true),
  },
  {
    name: 'schema1-unsigned',
    summary: 'Docker schema 1 v1+json without signatures: podman and skopeo convert it; docker ' +
      '("missing signature key") and containerd refuse it',
    build: () => schema1('schema1-unsigned', false),
  },
  {
    name: 'zstd-layer',
    summary:
      'OCI image with a tar+zstd layer: containerd, podman and skopeo handle it; docker 20.10 ' +
      'fails to unpack it (invalid tar header)',
    build: single({ format: 'oci', compression: 'zstd' }, 'zstd-layer.txt'),
  },
  {
    name: 'zstd-in-docker-manifest',
    summary:
      'Docker v2 manifest with the OCI tar+zstd layer type: containerd pulls it; docker 20.10 ' +
      'fails to unpack it; skopeo and podman refuse the media type',
    build: single({ format: 'docker', compression: 'zstd' }, 'zstd-in-docker-manifest.txt'),
  },
  {
    name: 'uncompressed-layer',
    summary:
      'OCI image with a plain tar layer (digest = diff_id): every client pulls it; catches ' +
      'clients that assume gzip',
    build: single({ format: 'oci', compression: 'none' }, 'uncompressed-layer.txt'),
  },
  {
    name: 'invalid-tar-layer',
    summary:
      'Gzip layer of bytes that are not a tar: downloads verify and skopeo copies it; docker, ' +
      'containerd and podman fail to unpack it',
    build() {
      const b = new Bundle()
      const content = new TextEncoder().encode('broken-reg: these bytes are not a tar\n'.repeat(40))
      image(b, { format: 'oci', layers: [layer(b, 'oci', 'gzip', '', { content })] })
      return b.done()
    },
  },
  {
    name: 'gzip-bad-crc',
    summary:
      'Gzip layer with a wrong trailer CRC but a matching digest: skopeo copies it unchanged; ' +
      'unpacking or decompressing fails (gzip: invalid checksum)',
    build() {
      const b = new Bundle()
      const mangle = (framed: Uint8Array) => {
        const bytes = framed.slice()
        bytes[bytes.length - 8] ^= 0xff
        return bytes
      }
      image(b, { format: 'oci', layers: [layer(b, 'oci', 'gzip', 'gzip-bad-crc.txt', { mangle })] })
      return b.done()
    },
  },
  {
    name: 'foreign-layer',
    summary:
      'Docker v2 image whose base layer is foreign (urls at example.invalid, absent here): ' +
      'skopeo to oci: keeps it; docker, containerd and podman fail',
    build() {
      const b = new Bundle()
      const content = tarOf('foreign-layer-base.txt', 'broken-reg fixture foreign base\n')
      const bytes = frame('gzip', content)
      const foreign: Layer = {
        descriptor: { ...b.blob(FOREIGN_LAYER, bytes, false), urls: [FOREIGN_URL] },
        diffId: sha256(content),
      }
      const top = layer(b, 'docker', 'gzip', 'foreign-layer.txt')
      image(b, { format: 'docker', layers: [foreign, top] })
      return b.done()
    },
  },
  {
    name: 'missing-config',
    summary:
      'OCI image whose config blob is absent: the manifest resolves, then every client fails ' +
      'on the config with 404',
    build: single({ format: 'oci', storeConfig: false }, 'missing-config.txt'),
  },
  {
    name: 'wrong-config-type',
    summary:
      'OCI image whose config is typed application/octet-stream: docker and containerd pull ' +
      'it; podman and skopeo inspect call it an artifact and refuse',
    build: single({ format: 'oci', configType: MEDIA_TYPE.octetStream }, 'wrong-config-type.txt'),
  },
  {
    name: 'empty-image',
    summary: 'OCI image with no layers: docker, containerd, podman and skopeo all accept it',
    build() {
      const b = new Bundle()
      image(b, { format: 'oci', layers: [] })
      return b.done()
    },
  },
  {
    name: 'manifest-just-under-4mib',
    summary: 'OCI manifest of 4 MiB - 1 KiB: under the 4 MiB limit of containers/image and ' +
      'registries, so every client pulls it',
    build: single({ format: 'oci', size: 4 * MIB - 1024 }, 'manifest-just-under-4mib.txt'),
  },
  {
    name: 'manifest-just-over-4mib',
    summary:
      'OCI manifest of 4 MiB + 1 KiB: skopeo and podman refuse it (4 MiB limit); docker 20.10 ' +
      'and containerd 1.6 pull it',
    build: single({ format: 'oci', size: 4 * MIB + 1024 }, 'manifest-just-over-4mib.txt'),
  },
  {
    name: 'attestation-index',
    summary:
      'Buildx-style index with an unknown/unknown attestation manifest: every client picks ' +
      'linux/amd64; skopeo --all copies the attestation too',
    build: attestationIndex,
  },
]

function tarOf(name: string, text: string): Uint8Array {
  const content = new TextEncoder().encode(text)
  const tar = new Uint8Array(tarLength(content.length))
  tar.set(tarHeader(name, content.length))
  tar.set(content, 512)
  return tar
}

/** The whole of `content`, framed by _archive.ts: byte-identical in every runtime. */
function frame(compression: Compression, content: Uint8Array): Uint8Array {
  const framer = createFramer(compression, content.length)
  const out = new Uint8Array(framer.size)
  let at = 0
  for (let offset = 0; offset < content.length; offset += framer.chunk) {
    const piece = framer.frame(content.subarray(offset, offset + framer.chunk))
    out.set(piece, at)
    at += piece.length
  }
  return out
}

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      // A copy per stream: a consumer may transfer or detach the chunk it gets.
      controller.enqueue(bytes.slice())
      controller.close()
    },
  })
}

const json = (value: unknown, indent?: number) =>
  new TextEncoder().encode(JSON.stringify(value, null, indent))

const sha256 = (bytes: Uint8Array | string) =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`
