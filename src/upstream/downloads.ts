// One download per blob digest, shared by every client that asks for it while it runs. The
// bytes go to an upload session as they arrive; clients read that session as it grows, so the
// first byte reaches them long before the blob is complete. The last byte is held back until
// the digest is verified: a corrupt upstream blob ends every client's body early (an error for
// them) and is never committed.
import { parseRange } from '../registry/blobs.ts'
import { HEADER, MEDIA_TYPE } from '../registry/constants.ts'
import { parseDigest } from '../registry/digest.ts'
import { RegistryError } from '../registry/errors.ts'
import type { RegistryDeps } from '../registry/types.ts'
import type { UploadReader } from '../storage/index.ts'

/** Bytes, or milliseconds, between flushes that make a growing download visible to readers. */
const FLUSH_BYTES = 1024 * 1024
const FLUSH_MS = 50
const READ_BYTES = 1024 * 1024

/** What a download learnt from the upstream's answer: the size, or its error to pass on. */
export type DownloadHeaders = { size: number | undefined } | { error: () => Response }

/** How downloads treat a slow upstream. */
export interface DownloadOptions {
  /** A download that receives nothing for this long fails (and is no longer shared). */
  idleTimeoutMs: number
}

/** A blob download in progress. */
export interface Download {
  /** Resolves once the upstream answered: with the size, or with its error answer to pass on. */
  headers: Promise<DownloadHeaders>
  /** Settles when the blob is committed (or the download failed). */
  finished: Promise<void>
  /** A response streaming the blob (or a byte range of it) as it arrives. */
  respond(rangeHeader: string | undefined): Response
}

/** The registry of running downloads. */
export function createDownloads(deps: RegistryDeps, options: DownloadOptions) {
  const running = new Map<string, Download>()
  return {
    /** Joins the download of `digest`, starting it with `open` if none runs; links it to `repo`. */
    start(digest: string, repo: string, open: () => Promise<Response>): Download {
      let download = running.get(digest)
      if (!download) {
        download = startDownload(deps, options, digest, repo, open)
        running.set(digest, download)
        download.finished.finally(() => running.delete(digest)).catch(() => {})
      }
      download.finished.then(() => deps.storage.linkBlob(repo, digest)).catch(() => {})
      return download
    },
  }
}

function startDownload(
  { storage, hasher }: RegistryDeps,
  { idleTimeoutMs }: DownloadOptions,
  digest: string,
  repo: string,
  open: () => Promise<Response>,
): Download {
  let size: number | undefined
  let written = 0
  let state: 'running' | 'done' | 'failed' = 'running'
  let failure: unknown
  let uploadId: string | undefined
  let waiters: (() => void)[] = []
  const notify = () => {
    const woken = waiters
    waiters = []
    for (const wake of woken) wake()
  }
  const changed = () => new Promise<void>((resolve) => waiters.push(resolve))

  let answer: (h: DownloadHeaders) => void = () => {}
  let refuse: (err: unknown) => void = () => {}
  const headers = new Promise<DownloadHeaders>((resolve, reject) => {
    answer = resolve
    refuse = reject
  })
  headers.catch(() => {})

  async function run() {
    const res = await open()
    if (!res.ok) {
      // Every client that joined gets its own copy of the upstream's answer.
      const body = await res.arrayBuffer()
      const init = { status: res.status, headers: res.headers }
      answer({ error: () => new Response(body.slice(0), init) })
      throw new Error(`upstream answered ${res.status}`)
    }
    const length = res.headers.get('Content-Length')
    size = length === null ? undefined : Number(length)
    uploadId = await storage.createUpload(repo)
    const writer = await storage.openUpload(uploadId)
    answer({ size })
    const hash = hasher.create(parseDigest(digest).algorithm)
    let unflushed = 0
    let flushedAt = performance.now()
    const reader = res.body?.getReader()
    try {
      for (;;) {
        const { value, done } = reader ? await readWithin(reader, idleTimeoutMs) : { done: true }
        if (done) break
        hash.update(value!)
        await writer.write(value!)
        unflushed += value!.byteLength
        if (unflushed >= FLUSH_BYTES || performance.now() - flushedAt >= FLUSH_MS) {
          await writer.flush()
          written += unflushed
          unflushed = 0
          flushedAt = performance.now()
          notify()
        }
      }
    } finally {
      await writer.close()
    }
    written += unflushed
    const actual = `${parseDigest(digest).algorithm}:${hash.hex()}`
    if ((size !== undefined && written !== size) || actual !== digest) {
      throw new RegistryError('DIGEST_INVALID', {
        status: 502,
        message: `Upstream sent ${written} bytes with digest ${actual} for blob ${digest}`,
        detail: { expected: digest, actual },
      })
    }
    await storage.commitUpload(uploadId, digest)
    await storage.linkBlob(repo, digest)
  }

  const finished = run().then(
    () => {
      state = 'done'
      notify()
    },
    async (err) => {
      state = 'failed'
      failure = err
      refuse(err)
      notify()
      if (uploadId) await storage.deleteUpload(uploadId).catch(() => {})
      throw err
    },
  )
  finished.catch(() => {})

  function respond(rangeHeader: string | undefined): Response {
    const range = size === undefined ? undefined : parseRange(rangeHeader, size)
    if (range === 'unsatisfiable') {
      throw new RegistryError('RANGE_INVALID', { headers: { 'Content-Range': `bytes */${size}` } })
    }
    const end = range?.end ?? (size === undefined ? Infinity : size - 1)
    let position = range?.start ?? 0
    let reader: UploadReader | undefined
    let committed: ReadableStreamDefaultReader<Uint8Array> | undefined

    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        for (;;) {
          if (state === 'failed') return controller.error(failure)
          if (position > end || (state === 'done' && position >= written)) {
            await reader?.close()
            return controller.close()
          }
          if (committed) {
            const { value, done } = await committed.read()
            if (done) return controller.close()
            position += value.byteLength
            return controller.enqueue(value)
          }
          // Until the digest is verified, the last byte stays back.
          const limit = Math.min(end + 1, state === 'done' ? written : written - 1)
          if (position < limit) {
            reader ??= await openReader()
            if (!reader) continue
            const chunk = await reader.read(position, Math.min(READ_BYTES, limit - position))
            position += chunk.byteLength
            return controller.enqueue(chunk)
          }
          await changed()
        }
      },
      async cancel() {
        await reader?.close()
        await committed?.cancel()
      },
    }, { highWaterMark: 0 })

    /** Opens the growing upload; once it is committed and gone, reads the stored blob instead. */
    async function openReader(): Promise<UploadReader | undefined> {
      try {
        return await storage.openUploadReader(uploadId!)
      } catch (err) {
        // The upload may be committed (and so gone) a moment before the state says so.
        if (await storage.statBlob(digest) === undefined) throw err
        const stored = end === Infinity ? undefined : { start: position, end }
        committed = storage.readBlob(digest, stored ?? { start: position, end: written - 1 })
          .getReader()
        return undefined
      }
    }

    const headers: Record<string, string> = {
      'Content-Type': MEDIA_TYPE.octetStream,
      [HEADER.contentDigest]: digest,
      'Accept-Ranges': 'bytes',
    }
    if (size !== undefined) {
      headers['Content-Length'] = String(Math.min(end, size - 1) - (range?.start ?? 0) + 1)
    }
    if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`
    return new Response(body, { status: range ? 206 : 200, headers })
  }

  return { headers, finished, respond }
}

/** Reads the next chunk, failing when the upstream sends nothing for `ms`. */
async function readWithin(reader: ReadableStreamDefaultReader<Uint8Array>, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new RegistryError('UNAVAILABLE', {
          status: 504,
          message: `Upstream sent nothing for ${ms / 1000} s`,
        }),
      )
    }, ms)
  })
  try {
    return await Promise.race([reader.read(), stalled])
  } catch (err) {
    await reader.cancel().catch(() => {})
    throw err
  } finally {
    clearTimeout(timer)
  }
}
