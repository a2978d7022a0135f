// Marks a response body as a byte range of a file, so a server that can send files directly
// (sendfile-class) does so, while everyone else still reads the ordinary stream.

/** The file behind a response body. */
export interface FileBody {
  path: string
  start: number
  /** Inclusive. */
  end: number
}

const files = new WeakMap<ReadableStream<Uint8Array>, FileBody>()

/** Remembers that `body` streams the given file range. */
export function markFileBody(body: ReadableStream<Uint8Array>, file: FileBody) {
  files.set(body, file)
  return body
}

/** The file a response body streams, if it was marked. */
export const fileBodyOf = (body: ReadableStream<Uint8Array> | null): FileBody | undefined =>
  body ? files.get(body) : undefined
