// The seeded random image: layers of AES-128-CTR keystream in a one-file tar, gzip or zstd framed
// by hand, and their config, manifest and index. Same spec, same bytes, in every runtime; layers
// stream with bounded memory whatever their size.
import { createCipheriv } from 'node:crypto'
import type { Hasher } from '../crypto/types.ts'
import { IMAGE_TYPES } from '../registry/constants.ts'
import { type Compression, createFramer, tarHeader, tarLength } from './_archive.ts'

/** What to generate; the caller's salt (e.g. the whole tag) makes every layer distinct. */
export interface RandomImageSpec {
  salt: string
  layers: number
  /** Bytes of random content in each layer's tar: 0 and multi-GiB are fine. */
  size: number
  format: 'docker' | 'oci'
  /** 0 = one image manifest; N >= 1 = an index / manifest list of N platforms. */
  platforms: number
  compression: Compression
}

/** One layer blob, generated on the fly. */
export interface LayerSource {
  mediaType: string
  /** The exact length of the blob, known before streaming. */
  size: number
  /** The blob's bytes, from the start, each call a new stream. */
  stream(): ReadableStream<Uint8Array>
  /** `sha256:…` of the uncompressed tar; resolves once a stream() has been read to the end. */
  diffId(): Promise<string>
}

/** A descriptor of a blob or manifest, as manifests reference it. */
export interface BlobRef {
  mediaType: string
  digest: string
  size: number
}

/** A platform of the image spec's index. */
export interface Platform {
  os: string
  architecture: string
  variant?: string
}

/** A serialised config, manifest or index. */
export interface Document {
  mediaType: string
  bytes: Uint8Array
}

/** The platforms of multi-platform images, in index order: linux/amd64 first. */
export const PLATFORMS: readonly Platform[] = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
  { os: 'linux', architecture: 'arm', variant: 'v7' },
  { os: 'linux', architecture: 'ppc64le' },
  { os: 'linux', architecture: 's390x' },
  { os: 'linux', architecture: '386' },
  { os: 'linux', architecture: 'riscv64' },
  { os: 'linux', architecture: 'mips64le' },
  { os: 'linux', architecture: 'arm', variant: 'v6' },
  { os: 'linux', architecture: 'arm', variant: 'v5' },
  { os: 'linux', architecture: 'mips64' },
  { os: 'linux', architecture: 'loong64' },
]

const TYPES = IMAGE_TYPES

const EPOCH = '1970-01-01T00:00:00Z'

/** Layer `index` of `platform`: a tar of one file of `spec.size` keystream bytes, framed. */
export function randomLayer(
  spec: RandomImageSpec,
  platform: number,
  index: number,
  hasher: Hasher,
): LayerSource {
  platformOf(spec, platform)
  if (!Number.isSafeInteger(spec.size) || spec.size < 0) {
    throw new RangeError(`Cannot generate a layer of ${spec.size} bytes`)
  }
  const seed = hasher.create('sha256')
  seed.update(new TextEncoder().encode(`${spec.salt}|${platform}|${index}`))
  const key = hexBytes(seed.hex().slice(0, 32))
  const header = tarHeader(`random-${platform}-${index}.bin`, spec.size)
  const tarSize = tarLength(spec.size)
  let diffId: string | undefined
  let resolveDiffId: (digest: string) => void = () => {}
  const diffIdPromise = new Promise<string>((resolve) => (resolveDiffId = resolve))
  return {
    mediaType: TYPES[spec.format][spec.compression],
    size: createFramer(spec.compression, tarSize).size,
    diffId: () => diffIdPromise,
    stream() {
      const framer = createFramer(spec.compression, tarSize)
      const keystream = createKeystream(key, framer.chunk)
      // Once one pass has produced the diffID, later passes skip the second hash.
      const tarHash = diffId === undefined ? hasher.create('sha256') : undefined
      let offset = 0
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          const length = Math.min(framer.chunk, tarSize - offset)
          const tar = tarBytes(offset, length, header, spec.size, keystream)
          tarHash?.update(tar)
          offset += length
          controller.enqueue(framer.frame(tar))
          if (offset < tarSize) return
          controller.close()
          if (tarHash) {
            diffId ??= `sha256:${tarHash.hex()}`
            resolveDiffId(diffId)
          }
        },
      }, { highWaterMark: 0 })
    },
  }
}

/** Bytes [offset, offset + length) of the tar; a fresh array the caller may keep. */
function tarBytes(
  offset: number,
  length: number,
  header: Uint8Array,
  size: number,
  keystream: (offset: number, length: number) => Uint8Array,
): Uint8Array {
  const dataEnd = header.length + size
  // The hot path: a chunk inside the file's content is the keystream itself, no copy.
  if (offset >= header.length && offset + length <= dataEnd) {
    return keystream(offset - header.length, length)
  }
  const out = new Uint8Array(length)
  if (offset < header.length) out.set(header.subarray(offset, offset + length))
  const start = Math.max(offset, header.length)
  const end = Math.min(offset + length, dataEnd)
  if (start < end) out.set(keystream(start - header.length, end - start), start - offset)
  return out
}

/**
 * AES-128-CTR keystream at any 16-byte-aligned offset (counter = offset / 16, IV 0), computed as
 * AES-ECB over the counter blocks: byte-identical to createCipheriv('aes-128-ctr') over zeros,
 * and about 3x faster on Deno, whose node:crypto CTR mode is slow.
 */
function createKeystream(key: Uint8Array, chunk: number) {
  const cipher = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false)
  const counters = new Uint8Array(chunk + 16) // bytes 0-7 of every block stay 0: offsets < 2^68
  const view = new DataView(counters.buffer)
  return (offset: number, length: number): Uint8Array => {
    const end = Math.ceil(length / 16) * 16
    // Two 32-bit halves with a carry: dividing a float per block made this loop 7x slower on V8.
    let high = Math.floor(offset / 2 ** 36)
    let low = (offset / 16) % 2 ** 32
    for (let at = 0; at < end; at += 16) {
      view.setUint32(at + 8, high)
      view.setUint32(at + 12, low)
      if (++low === 2 ** 32) {
        low = 0
        high++
      }
    }
    const bytes = cipher.update(counters.subarray(0, end))
    return new Uint8Array(bytes.buffer, bytes.byteOffset, length)
  }
}

/** The image config of `platform`, listing the layers' diffIDs. */
export function imageConfig(spec: RandomImageSpec, platform: number, diffIds: string[]): Document {
  const { architecture, os, variant } = platformOf(spec, platform)
  return document(TYPES[spec.format].config, {
    created: EPOCH,
    architecture,
    os,
    ...(variant === undefined ? {} : { variant }),
    config: {},
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map((_, i) => ({
      created: EPOCH,
      created_by: `broken-reg random layer ${i}`,
    })),
  })
}

/** The image manifest over a config and its layers. */
export function imageManifest(spec: RandomImageSpec, config: BlobRef, layers: BlobRef[]): Document {
  const mediaType = TYPES[spec.format].manifest
  return document(mediaType, {
    schemaVersion: 2,
    mediaType,
    config: descriptor(config),
    layers: layers.map(descriptor),
  })
}

/** The index (OCI) or manifest list (docker) over one manifest per platform. */
export function imageIndex(
  spec: RandomImageSpec,
  manifests: (BlobRef & { platform: number })[],
): Document {
  const mediaType = TYPES[spec.format].index
  return document(mediaType, {
    schemaVersion: 2,
    mediaType,
    manifests: manifests.map((m) => {
      const { architecture, os, variant } = platformOf(spec, m.platform)
      const platform = { architecture, os, ...(variant === undefined ? {} : { variant }) }
      return { ...descriptor(m), platform }
    }),
  })
}

function platformOf(spec: RandomImageSpec, platform: number): Platform {
  const count = Math.max(1, spec.platforms)
  if (!Number.isInteger(platform) || platform < 0 || platform >= count) {
    throw new RangeError(`Cannot generate platform ${platform} of ${count}`)
  }
  if (platform >= PLATFORMS.length) {
    throw new RangeError(`Cannot generate ${spec.platforms} platforms: at most ${PLATFORMS.length}`)
  }
  return PLATFORMS[platform]
}

// A new object, so the key order is this one whatever the caller's object holds.
const descriptor = ({ mediaType, digest, size }: BlobRef): BlobRef => ({ mediaType, digest, size })

const document = (mediaType: string, value: unknown): Document => ({
  mediaType,
  bytes: new TextEncoder().encode(JSON.stringify(value)),
})

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(
    { length: hex.length / 2 },
    (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16),
  )
}
