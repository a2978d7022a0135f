// Blob uploads: monolithic (POST + PUT, or one POST with `?digest=`), chunked PATCH with
// Content-Range, streamed PATCH, status, cancel and cross-repository mount. The digest is
// computed while the bytes stream to disk, so a commit needs no second read.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#pushing-blobs
import type { Context } from 'hono'
import type { HashState } from '../crypto/index.ts'
import { requestBody } from '../util/request-body.ts'
import { HEADER } from './constants.ts'
import { digestOfStream, parseDigest } from './digest.ts'
import { RegistryError } from './errors.ts'
import { isValidName } from './routes.ts'
import type { RegistryDeps } from './types.ts'

const MAX_PROGRESS = 10_000
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** The sha256 state of an upload, as far as its bytes have been hashed. */
interface Progress {
  state: HashState
  hashed: number
}

/** Upload handlers over one registry's dependencies. */
export function createUploads(deps: RegistryDeps) {
  const { storage, hasher } = deps
  // Hash states live in memory; after a restart (or for sha512) the upload is hashed again.
  const progress = new Map<string, Progress>()
  const busy = new Set<string>()

  const location = (name: string, id: string) => `/v2/${name}/blobs/uploads/${id}`
  const rangeOf = (size: number) => `0-${Math.max(0, size - 1)}`
  const sessionHeaders = (name: string, id: string, size: number) => ({
    'Location': location(name, id),
    'Range': rangeOf(size),
    [HEADER.uploadUuid]: id,
    'Content-Length': '0',
  })
  const blobCreated = (name: string, digest: string) =>
    new Response(null, {
      status: 201,
      headers: {
        'Location': `/v2/${name}/blobs/${digest}`,
        [HEADER.contentDigest]: digest,
        'Content-Length': '0',
      },
    })

  /** Finds an upload of this repository, or BLOB_UPLOAD_UNKNOWN. */
  async function session(name: string, id: string) {
    const info = UUID_PATTERN.test(id) ? await storage.statUpload(id) : undefined
    if (!info) progress.delete(id)
    if (!info || info.repository !== name) {
      throw new RegistryError('BLOB_UPLOAD_UNKNOWN', { detail: { uuid: id } })
    }
    return info
  }

  /** Runs `work` as the only request on an upload; clients must not interleave chunks. */
  async function exclusive<T>(id: string, work: () => Promise<T>): Promise<T> {
    if (busy.has(id)) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', {
        message: `Upload ${id} is busy with another request`,
      })
    }
    busy.add(id)
    try {
      return await work()
    } finally {
      busy.delete(id)
    }
  }

  /** Appends a request body to an upload, hashing it on the way; returns the new size. */
  async function append(id: string, offset: number, body: AsyncIterable<Uint8Array> | null) {
    if (!body) return offset
    let p = progress.get(id)
    if (!p || p.hashed !== offset) {
      p = { state: hasher.create('sha256'), hashed: offset === 0 ? 0 : -1 }
      progress.set(id, p)
      // Abandoned uploads leave their state behind; past the bound the oldest goes.
      if (progress.size > MAX_PROGRESS) progress.delete(progress.keys().next().value!)
    }
    const hashing = p
    try {
      const size = await writeHashed(deps, id, body, (chunk) => {
        if (hashing.hashed < 0) return
        hashing.state.update(chunk)
        hashing.hashed += chunk.byteLength
      })
      if (hashing.hashed !== size) hashing.hashed = -1
      return size
    } catch (err) {
      // What reached the disk is unknown: the commit hashes the upload again.
      hashing.hashed = -1
      throw err
    }
  }

  /** Checks the finished upload against the digest the client claims, then commits it. */
  async function commit(name: string, id: string, claimed: string | undefined) {
    const { digest, algorithm } = parseDigest(claimed)
    const info = await session(name, id)
    const p = progress.get(id)
    progress.delete(id)
    const actual = algorithm === 'sha256' && p && p.hashed === info.size
      ? `sha256:${p.state.hex()}`
      : await digestOfStream(hasher, storage.readUpload(id), algorithm)
    if (actual !== digest) {
      await storage.deleteUpload(id)
      throw new RegistryError('DIGEST_INVALID', {
        message: `Uploaded content has digest ${actual}, not ${digest}`,
        detail: { expected: digest, actual },
      })
    }
    await storage.commitUpload(id, digest)
    await storage.linkBlob(name, digest)
    return blobCreated(name, digest)
  }

  /** Checks `Content-Range` and `Content-Length` of a chunk against the upload's size. */
  function checkChunk(c: Context, name: string, id: string, size: number) {
    const header = c.req.header('Content-Range')
    if (!header) return
    const match = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/\d+|\/\*)?$/.exec(header.trim())
    if (!match) {
      throw new RegistryError('BLOB_UPLOAD_INVALID', {
        message: `Invalid Content-Range "${header}"`,
      })
    }
    const start = Number(match[1])
    const end = Number(match[2])
    if (start !== size || end < start) {
      throw new RegistryError('RANGE_INVALID', {
        message: `Chunk ${header} does not continue the upload at byte ${size}`,
        headers: { ...sessionHeaders(name, id, size) },
      })
    }
    const length = c.req.header('Content-Length')
    if (length !== undefined && Number(length) !== end - start + 1) {
      throw new RegistryError('SIZE_INVALID', {
        message: `Content-Length ${length} does not match Content-Range ${header}`,
      })
    }
  }

  return {
    /** POST: mount, monolithic upload with `?digest=`, or a new session. */
    async start(c: Context, name: string) {
      const mount = c.req.query('mount')
      const from = c.req.query('from')
      if (mount !== undefined) {
        const { digest } = parseDigest(mount)
        if (from && isValidName(from) && await storage.isBlobLinked(from, digest)) {
          await storage.linkBlob(name, digest)
          await storage.touchBlob(digest)
          return blobCreated(name, digest)
        }
      }
      const id = await storage.createUpload(name)
      const digest = c.req.query('digest')
      if (digest !== undefined && mount === undefined) {
        parseDigest(digest)
        return exclusive(id, async () => {
          await append(id, 0, requestBody(c))
          return commit(name, id, digest)
        })
      }
      return new Response(null, { status: 202, headers: sessionHeaders(name, id, 0) })
    },

    /** PATCH: appends a chunk (with Content-Range) or a stream (without). */
    async patch(c: Context, name: string, id: string) {
      return exclusive(id, async () => {
        const { size } = await session(name, id)
        checkChunk(c, name, id, size)
        const grown = await append(id, size, requestBody(c))
        return new Response(null, { status: 202, headers: sessionHeaders(name, id, grown) })
      })
    },

    /** PUT: appends an optional last chunk and completes the upload. */
    async put(c: Context, name: string, id: string) {
      const digest = c.req.query('digest')
      parseDigest(digest)
      return exclusive(id, async () => {
        const { size } = await session(name, id)
        checkChunk(c, name, id, size)
        await append(id, size, requestBody(c))
        return commit(name, id, digest)
      })
    },

    /** GET: where an upload stands, so a client can resume it. */
    async status(_c: Context, name: string, id: string) {
      const { size } = await session(name, id)
      return new Response(null, { status: 204, headers: sessionHeaders(name, id, size) })
    },

    /** DELETE: cancels an upload. */
    async cancel(_c: Context, name: string, id: string) {
      await session(name, id)
      progress.delete(id)
      await storage.deleteUpload(id)
      return new Response(null, { status: 204 })
    },
  }
}

/**
 * Stores a stream as a blob of a repository, hashing it on the way, through an upload session
 * so a failure leaves nothing in the blob store. With `expected`, a different digest is refused.
 */
export async function storeBlobStream(
  { storage, hasher }: RegistryDeps,
  name: string,
  stream: ReadableStream<Uint8Array>,
  expected?: string,
): Promise<{ digest: string; size: number }> {
  const id = await storage.createUpload(name)
  const state = hasher.create('sha256')
  try {
    const size = await writeHashed({ storage }, id, stream, (chunk) => state.update(chunk))
    const digest = `sha256:${state.hex()}`
    if (expected !== undefined && digest !== expected) {
      throw new RegistryError('DIGEST_INVALID', {
        message: `Content has digest ${digest}, not ${expected}`,
        detail: { expected, actual: digest },
      })
    }
    await storage.commitUpload(id, digest)
    await storage.linkBlob(name, digest)
    return { digest, size }
  } catch (err) {
    await storage.deleteUpload(id)
    throw err
  }
}

/** Appends a body to an upload, showing each chunk to `onChunk` first; returns the new size. */
async function writeHashed(
  { storage }: Pick<RegistryDeps, 'storage'>,
  id: string,
  body: AsyncIterable<Uint8Array>,
  onChunk: (chunk: Uint8Array) => void,
): Promise<number> {
  const writer = await storage.openUpload(id)
  try {
    for await (const chunk of body) {
      onChunk(chunk)
      await writer.write(chunk)
    }
  } catch (err) {
    await writer.close().catch(() => {})
    throw err
  }
  return await writer.close()
}
