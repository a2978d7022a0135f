// Small in-memory images and a request helper for in-process API tests.
import { createHash } from 'node:crypto'

export const sha256 = (bytes: Uint8Array | string) =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`

export const bytes = (text: string) => new TextEncoder().encode(text)

/** Random bytes of a given size (deterministic per seed, so failures reproduce). */
export function blobOf(size: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size)
  let x = seed * 2654435761 >>> 0
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** An OCI image manifest over a config and layers, as bytes with its digest. */
export function imageManifest(config: Uint8Array, layers: Uint8Array[], extra: object = {}) {
  const json = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha256(config),
      size: config.byteLength,
    },
    layers: layers.map((l) => ({
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: sha256(l),
      size: l.byteLength,
    })),
    ...extra,
  }
  const body = bytes(JSON.stringify(json, null, 3))
  return { json, body, digest: sha256(body) }
}
