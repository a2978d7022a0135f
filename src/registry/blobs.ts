// Blob GET/HEAD (with Range) and DELETE.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#pulling-blobs
import type { Context } from 'hono'
import type { ByteRange } from '../storage/index.ts'
import { markFileBody } from '../util/file-body.ts'
import { HEADER, MEDIA_TYPE } from './constants.ts'
import { parseDigest } from './digest.ts'
import { RegistryError } from './errors.ts'
import type { RegistryDeps } from './types.ts'

/** The size of a blob that the repository may serve, or BLOB_UNKNOWN. */
export async function statLinkedBlob({ storage }: RegistryDeps, name: string, digest: string) {
  const size = await storage.isBlobLinked(name, digest) ? await storage.statBlob(digest) : undefined
  if (size === undefined) throw new RegistryError('BLOB_UNKNOWN', { detail: { digest } })
  return size
}

/** GET and HEAD of a blob; a single `Range` is honoured with 206 or 416. */
export async function getBlob(c: Context, deps: RegistryDeps, name: string, reference: string) {
  const { digest } = parseDigest(reference)
  const size = await statLinkedBlob(deps, name, digest)
  const range = parseRange(c.req.header('Range'), size)
  const headers: Record<string, string> = {
    'Content-Type': MEDIA_TYPE.octetStream,
    [HEADER.contentDigest]: digest,
    'Accept-Ranges': 'bytes',
    'ETag': `"${digest}"`,
    'Cache-Control': 'max-age=31536000',
  }
  if (range === 'unsatisfiable') {
    throw new RegistryError('RANGE_INVALID', {
      message: `Range ${c.req.header('Range')} is outside the blob's ${size} bytes`,
      headers: { 'Content-Range': `bytes */${size}` },
    })
  }
  if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`
  const { start, end } = range ?? { start: 0, end: size - 1 }
  headers['Content-Length'] = String(end - start + 1)
  const status = range ? 206 : 200
  if (c.req.method === 'HEAD' || size === 0) return new Response(null, { status, headers })
  const response = new Response(deps.storage.readBlob(digest, range), { status, headers })
  const path = deps.storage.blobPath(digest)
  return path ? markFileBody(response, { path, start, end }) : response
}

/** DELETE of a blob: unlinks it from the repository; `gc` reclaims the bytes. */
export async function deleteBlob(
  _c: Context,
  { storage }: RegistryDeps,
  name: string,
  ref: string,
) {
  const { digest } = parseDigest(ref)
  if (!await storage.unlinkBlob(name, digest)) {
    throw new RegistryError('BLOB_UNKNOWN', { detail: { digest } })
  }
  return new Response(null, { status: 202, headers: { 'Content-Length': '0' } })
}

/**
 * Parses one `bytes=` range (RFC 9110 §14.1.2). `undefined` means "serve it whole": no header,
 * several ranges or a syntax this server ignores, as HTTP allows.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  const match = header && /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!match || (match[1] === '' && match[2] === '')) return undefined
  if (match[1] === '') {
    const suffix = Number(match[2])
    if (suffix === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(match[1])
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1)
  if (start >= size) return 'unsatisfiable'
  if (end < start) return undefined
  return { start, end }
}
