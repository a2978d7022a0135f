// Small helpers over WHATWG streams; no dependencies.
import { open } from 'node:fs/promises'

const READ_SIZE = 1024 * 1024

/** Streams bytes [start, end] of a file, opening it on the first read and closing it at the end. */
export function fileStream(path: string, start = 0, end = Infinity): ReadableStream<Uint8Array> {
  let handle: Awaited<ReturnType<typeof open>> | undefined
  let position = start
  const finish = async () => {
    await handle?.close()
    handle = undefined
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        handle ??= await open(path, 'r')
        const want = Math.min(READ_SIZE, end + 1 - position)
        const buffer = new Uint8Array(want > 0 ? want : 0)
        const { bytesRead } = want > 0
          ? await handle.read(buffer, 0, want, position)
          : { bytesRead: 0 }
        if (bytesRead === 0) {
          await finish()
          if (end !== Infinity && position <= end) {
            throw new Error(`${path} ended at byte ${position}`)
          }
          return controller.close()
        }
        position += bytesRead
        controller.enqueue(buffer.subarray(0, bytesRead))
      } catch (err) {
        await finish()
        controller.error(err)
      }
    },
    cancel: finish,
  }, { highWaterMark: 0 })
}

/** Reads a whole stream into one array, failing once more than `limit` bytes arrive. */
export async function readAll(
  stream: AsyncIterable<Uint8Array> | null,
  limit = Infinity,
  onLimit: () => Error = () => new RangeError(`stream is over ${limit} bytes`),
): Promise<Uint8Array> {
  if (!stream) return new Uint8Array(0)
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of stream) {
    size += chunk.byteLength
    if (size > limit) throw onLimit()
    chunks.push(chunk)
  }
  return concat(chunks, size)
}

/** Joins byte arrays. */
export function concat<B extends ArrayBufferLike>(
  chunks: Uint8Array<B>[],
  size = chunks.reduce((n, c) => n + c.byteLength, 0),
): Uint8Array<B> | Uint8Array<ArrayBuffer> {
  if (chunks.length === 1) return chunks[0]
  const out = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}
