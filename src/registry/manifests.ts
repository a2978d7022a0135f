// Manifest GET/HEAD, PUT and DELETE, by tag or digest; pushed bytes are kept exactly.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#pushing-manifests
import type { Context } from 'hono'
import type { ManifestRecord } from '../storage/index.ts'
import { requestBody } from '../util/request-body.ts'
import { readAll } from '../util/streams.ts'
import {
  HEADER,
  IMAGE_MANIFEST_TYPES,
  INDEX_MANIFEST_TYPES,
  MANIFEST_TYPES,
  TAG_PATTERN,
} from './constants.ts'
import { digestOf, isDigest, parseDigest } from './digest.ts'
import { RegistryError } from './errors.ts'
import type { Descriptor, ManifestJson, RegistryDeps } from './types.ts'

/** Resolves a tag or digest to the manifest's digest, or MANIFEST_UNKNOWN. */
export async function resolveManifest({ storage }: RegistryDeps, name: string, reference: string) {
  const digest = isDigest(reference)
    ? parseDigest(reference).digest
    : checkTag(reference) && await storage.getTag(name, reference)
  const record = digest ? await storage.getManifest(name, digest) : undefined
  if (!digest || !record) {
    throw new RegistryError('MANIFEST_UNKNOWN', {
      message: `Manifest ${reference} is not in repository ${name}`,
      detail: { name, reference },
    })
  }
  return { digest, record }
}

/** GET and HEAD of a manifest, answered with the media type it was pushed with. */
export async function getManifest(c: Context, deps: RegistryDeps, name: string, reference: string) {
  const { digest, record } = await resolveManifest(deps, name, reference)
  const headers = {
    'Content-Type': record.mediaType,
    'Content-Length': String(record.size),
    [HEADER.contentDigest]: digest,
    'ETag': `"${digest}"`,
  }
  if (c.req.method === 'HEAD') return new Response(null, { headers })
  const bytes = await deps.storage.getBlob(digest)
  if (!bytes) throw new RegistryError('MANIFEST_UNKNOWN', { detail: { name, reference } })
  return new Response(bytes, { headers })
}

/** PUT of a manifest by tag or by digest. */
export async function putManifest(c: Context, deps: RegistryDeps, name: string, reference: string) {
  const { hasher, manifestLimit } = deps
  const byDigest = isDigest(reference) ? parseDigest(reference) : undefined
  if (!byDigest) checkTag(reference)
  const tooLarge = () =>
    new RegistryError('SIZE_INVALID', {
      status: 413,
      message: `Manifest is larger than the limit of ${manifestLimit} bytes`,
    })
  if (Number(c.req.header('Content-Length') ?? 0) > manifestLimit) throw tooLarge()
  const bytes = await readAll(c.req.raw.body, manifestLimit, tooLarge)
  const digest = digestOf(hasher, bytes, byDigest?.algorithm)
  if (byDigest && byDigest.digest !== digest) {
    throw new RegistryError('DIGEST_INVALID', {
      message: `Manifest has digest ${digest}, not ${byDigest.digest}`,
      detail: { expected: byDigest.digest, actual: digest },
    })
  }
  const contentType = c.req.header('Content-Type')?.split(';')[0].trim()
  const record = deps.validate
    ? await validate(deps, name, bytes, contentType)
    : { mediaType: contentType || 'application/octet-stream', size: bytes.byteLength }
  await storeManifest(
    deps,
    name,
    digest,
    bytes,
    { ...record, origin: 'push' },
    byDigest ? undefined : reference,
  )
  const headers: Record<string, string> = {
    'Location': `/v2/${name}/manifests/${digest}`,
    [HEADER.contentDigest]: digest,
    'Content-Length': '0',
  }
  if (record.subject) headers[HEADER.ociSubject] = record.subject
  return new Response(null, { status: 201, headers })
}

/** Stores checked manifest bytes in a repository, and tags them when a tag is given. */
export async function storeManifest(
  { storage }: RegistryDeps,
  name: string,
  digest: string,
  bytes: Uint8Array,
  record: ManifestRecord,
  tag?: string,
) {
  await storage.putBlob(digest, bytes)
  await storage.linkBlob(name, digest)
  await storage.putManifest(name, digest, record)
  if (tag !== undefined) await storage.setTag(name, tag, digest)
}

/** DELETE of a manifest by digest (with every tag on it), or of a tag alone. */
export async function deleteManifest(_c: Context, deps: RegistryDeps, name: string, ref: string) {
  const { storage } = deps
  const deleted = isDigest(ref)
    ? await deleteByDigest(deps, name, parseDigest(ref).digest)
    : checkTag(ref) && await storage.deleteTag(name, ref)
  if (!deleted) {
    throw new RegistryError('MANIFEST_UNKNOWN', {
      message: `Manifest ${ref} is not in repository ${name}`,
      detail: { name, reference: ref },
    })
  }
  return new Response(null, { status: 202, headers: { 'Content-Length': '0' } })
}

async function deleteByDigest({ storage }: RegistryDeps, name: string, digest: string) {
  if (!await storage.deleteManifest(name, digest)) return false
  for (const tag of await storage.tagsOf(name, digest)) await storage.deleteTag(name, tag)
  await storage.unlinkBlob(name, digest)
  return true
}

/** Checks a tag against the spec's grammar, or throws MANIFEST_INVALID. */
export function checkTag(tag: string): true {
  if (TAG_PATTERN.test(tag)) return true
  throw new RegistryError('MANIFEST_INVALID', {
    message: `Invalid tag "${tag}"`,
    detail: { tag },
  })
}

/** Checks a pushed manifest and returns what the registry keeps of it. */
async function validate(
  { storage }: RegistryDeps,
  name: string,
  bytes: Uint8Array,
  contentType: string | undefined,
): Promise<ManifestRecord> {
  const invalid = (message: string, detail?: unknown) =>
    new RegistryError('MANIFEST_INVALID', { message, detail })
  let json: ManifestJson
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err) {
    throw invalid(`Manifest is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalid('Manifest must be a JSON object')
  }
  const mediaType = contentType || json.mediaType
  if (!mediaType) throw invalid('Manifest has no media type: send Content-Type or set mediaType')
  if (!MANIFEST_TYPES.has(mediaType)) {
    throw invalid(`Unsupported manifest media type "${mediaType}"`, { mediaType })
  }
  if (json.mediaType !== undefined && json.mediaType !== mediaType) {
    throw invalid(
      `Content-Type ${mediaType} differs from the manifest's mediaType ${json.mediaType}`,
    )
  }
  if (IMAGE_MANIFEST_TYPES.has(mediaType)) {
    if (json.schemaVersion !== 2) throw invalid('Image manifest must have schemaVersion 2')
    if (!json.config || !Array.isArray(json.layers)) {
      throw invalid('Image manifest needs config and layers')
    }
    for (const blob of [json.config, ...json.layers]) {
      const { digest } = parseDescriptor(blob, invalid)
      // Foreign (non-distributable) layers live at their `urls`, not in this registry.
      if (blob.urls?.length) continue
      if (
        !await storage.isBlobLinked(name, digest) || await storage.statBlob(digest) === undefined
      ) {
        throw new RegistryError('MANIFEST_BLOB_UNKNOWN', {
          message: `Manifest references blob ${digest}, which is not in repository ${name}`,
          detail: { digest },
        })
      }
      // A collection running now must see the blob, and its link here, as in use.
      await storage.touchBlob(digest)
      await storage.recordAccess(name, digest)
    }
  }
  if (INDEX_MANIFEST_TYPES.has(mediaType)) {
    if (json.schemaVersion !== 2) throw invalid('Index must have schemaVersion 2')
    if (!Array.isArray(json.manifests)) throw invalid('Index needs a manifests list')
    for (const child of json.manifests) parseDescriptor(child, invalid)
  }
  const subject = json.subject && parseDescriptor(json.subject, invalid).digest
  const artifactType = json.artifactType ??
    (IMAGE_MANIFEST_TYPES.has(mediaType) ? json.config?.mediaType : undefined)
  return {
    mediaType,
    size: bytes.byteLength,
    ...(subject && { subject }),
    ...(artifactType && { artifactType }),
    ...(json.annotations && { annotations: json.annotations }),
  }
}

function parseDescriptor(value: Descriptor, invalid: (m: string, d?: unknown) => RegistryError) {
  if (typeof value !== 'object' || value === null || typeof value.digest !== 'string') {
    throw invalid('Descriptor without a digest', { descriptor: value })
  }
  try {
    return parseDigest(value.digest)
  } catch {
    throw invalid(`Descriptor has an invalid digest "${value.digest}"`, { descriptor: value })
  }
}
