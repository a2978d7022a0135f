// Marks a response as a byte range of a file, so a server that can send files directly does so,
// while everyone else still reads its ordinary (lazy) body stream. The response itself carries
// the mark: reading `.body` to find it would cost every other response its fast path.

/** The file behind a response body. */
export interface FileBody {
  path: string
  start: number
  /** Inclusive. */
  end: number
}

const files = new WeakMap<Response, FileBody>()

/** Remembers that `response`'s body streams the given file range. */
export function markFileBody(response: Response, file: FileBody): Response {
  files.set(response, file)
  return response
}

/** The file a response streams, if it was marked. */
export const fileBodyOf = (response: Response): FileBody | undefined => files.get(response)
