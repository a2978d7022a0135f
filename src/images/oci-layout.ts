// Imports an OCI image layout directory (oci-layout, index.json, blobs/<alg>/<hex>), as
// `skopeo copy … oci:DIR:TAG` writes it: one image and everything reachable from it.
// https://github.com/opencontainers/image-spec/blob/v1.1.0/image-layout.md
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { ANY_DIGEST_PATTERN } from '../registry/constants.ts'
import type { Descriptor, ManifestJson } from '../registry/types.ts'
import { fileStream } from '../util/streams.ts'
import type { BundleBlob, BundleManifest, ImageBundle } from './types.ts'

const REF_NAME = 'org.opencontainers.image.ref.name'
// Far above any registry's manifest limit: a bigger "manifest" is a mislabelled blob.
const MANIFEST_READ_LIMIT = 64 * 1024 * 1024

/**
 * The image in `dir` named `ref` (its org.opencontainers.image.ref.name, or its digest), or the
 * only one when `ref` is absent: every manifest reachable from it, children first, and every blob
 * they reference that the layout holds. Blobs stream from their files.
 */
export async function readOciLayout(dir: string, ref?: string): Promise<ImageBundle> {
  await checkLayoutFile(dir)
  const root = pickRoot(dir, await readJson(join(dir, 'index.json')), ref)
  const blobs = new Map<string, BundleBlob>()
  const manifests = new Map<string, BundleManifest>()

  const addBlob = async (descriptor: Descriptor | undefined) => {
    if (typeof descriptor?.digest !== 'string' || blobs.has(descriptor.digest)) return
    const path = blobPath(dir, descriptor.digest)
    const info = await stat(path).catch(() => undefined)
    // Absent blobs stay absent: foreign layers, or a layout copied without them.
    if (!info?.isFile()) return
    const size = info.size
    blobs.set(descriptor.digest, {
      digest: descriptor.digest,
      size,
      open: () => fileStream(path, 0, size - 1),
    })
  }

  const visit = async (descriptor: Descriptor, isRoot: boolean): Promise<void> => {
    const digest = descriptor.digest
    if (typeof digest !== 'string' || manifests.has(digest)) return
    const bytes = await readManifest(dir, digest, isRoot)
    if (!bytes) return
    let json: ManifestJson = {}
    try {
      json = JSON.parse(new TextDecoder().decode(bytes))
    } catch {
      // Kept as it is: a layout may hold a deliberately broken manifest, with nothing below it.
    }
    if (typeof json !== 'object' || json === null) json = {}
    for (const child of array(json.manifests)) await visit(child, false)
    for (const blob of [json.config, ...array(json.layers), ...array(json.blobs)]) {
      await addBlob(blob)
    }
    for (const layer of array(json.fsLayers)) await addBlob({ digest: layer.blobSum })
    const mediaType = typeof json.mediaType === 'string' ? json.mediaType : descriptor.mediaType
    if (!mediaType) throw new Error(`Manifest ${digest} in ${dir} has no media type`)
    manifests.set(digest, { digest, mediaType, bytes })
  }

  await visit(root, true)
  return { blobs: [...blobs.values()], manifests: [...manifests.values()] }
}

async function checkLayoutFile(dir: string) {
  const layout = await readJson(join(dir, 'oci-layout')).catch((err) => {
    throw new Error(`${dir} is not an OCI image layout: ${(err as Error).message}`)
  })
  if (typeof (layout as { imageLayoutVersion?: unknown }).imageLayoutVersion !== 'string') {
    throw new Error(`${dir} is not an OCI image layout: oci-layout has no imageLayoutVersion`)
  }
}

/** The index.json entry to import, or an Error that lists the names to choose from. */
function pickRoot(dir: string, index: unknown, ref: string | undefined): Descriptor {
  const entries = array((index as { manifests?: Descriptor[] }).manifests)
  const label = (d: Descriptor) => d.annotations?.[REF_NAME] ?? String(d.digest)
  const choices = entries.map((d) => `"${label(d)}"`).join(', ')
  if (entries.length === 0) throw new Error(`The OCI layout ${dir} holds no images`)
  if (ref === undefined) {
    if (entries.length === 1) return entries[0]
    throw new Error(`The OCI layout ${dir} holds ${entries.length} images: name one of ${choices}`)
  }
  const named = entries.filter((d) => d.annotations?.[REF_NAME] === ref)
  const matches = named.length ? named : entries.filter((d) => d.digest === ref)
  if (matches.length === 1) return matches[0]
  if (matches.length === 0) {
    throw new Error(`The OCI layout ${dir} has no image "${ref}": it has ${choices}`)
  }
  throw new Error(`The OCI layout ${dir} has ${matches.length} images named "${ref}"`)
}

/** A manifest's bytes, checked against its digest; undefined for an absent child. */
async function readManifest(dir: string, digest: string, required: boolean) {
  const path = blobPath(dir, digest)
  const info = await stat(path).catch(() => undefined)
  if (!info?.isFile()) {
    // A sparse index (copied without all its platforms) is fine; a missing root is not.
    if (!required) return undefined
    throw new Error(`Manifest ${digest} is missing from the OCI layout ${dir}`)
  }
  if (info.size > MANIFEST_READ_LIMIT) {
    throw new Error(`Manifest ${digest} in ${dir} is ${info.size} bytes: too large for a manifest`)
  }
  const bytes = new Uint8Array(await readFile(path))
  const algorithm = digest.slice(0, digest.indexOf(':'))
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw new Error(`Cannot check manifest ${digest} in ${dir}: unsupported digest algorithm`)
  }
  const actual = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`
  if (actual !== digest) throw new Error(`Manifest ${digest} in ${dir} has digest ${actual}`)
  return bytes
}

function blobPath(dir: string, digest: string): string {
  // The pattern allows no '/' and no leading '.': a hostile digest cannot leave blobs/.
  if (!ANY_DIGEST_PATTERN.test(digest)) {
    throw new Error(`Invalid digest "${digest}" in the OCI layout ${dir}`)
  }
  const colon = digest.indexOf(':')
  return join(dir, 'blobs', digest.slice(0, colon), digest.slice(colon + 1))
}

async function readJson(path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as { code?: string }).code
    throw new Error(code === 'ENOENT' ? `${path} is missing` : `Cannot read ${path}: ${err}`)
  }
  try {
    const value = JSON.parse(text)
    if (typeof value === 'object' && value !== null) return value
  } catch {
    // reported below
  }
  throw new Error(`${path} is not a JSON object`)
}

const array = <T>(value: T[] | undefined): T[] => (Array.isArray(value) ? value : [])
