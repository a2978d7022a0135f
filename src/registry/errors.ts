// Every error code the registry emits, and the one error type handlers throw.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#error-codes
import type { ContentfulStatusCode } from 'hono/utils/http-status'

const OCI_ERRORS = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  // Below: codes outside the spec, which registries and the original tool use.
  BAD_REQUEST: { status: 400, message: 'bad request' },
  FORBIDDEN: { status: 403, message: 'forbidden' },
  TIMEOUT: { status: 408, message: 'request timed out' },
  INTERNAL_SERVER_ERROR: { status: 500, message: 'internal server error' },
  NOT_IMPLEMENTED: { status: 501, message: 'not implemented' },
  UNAVAILABLE: { status: 503, message: 'try again later' }, // clients treat it as retryable
  RANGE_INVALID: { status: 416, message: 'requested range not satisfiable' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  NOT_FOUND: { status: 404, message: 'no such endpoint' },
  UNKNOWN: { status: 500, message: 'unexpected failure' },
} as const satisfies Record<string, { status: ContentfulStatusCode; message: string }>

export type ErrorCode = keyof typeof OCI_ERRORS

type Extra = {
  message?: string
  status?: ContentfulStatusCode
  detail?: unknown
  headers?: Record<string, string>
}

/** The error handlers throw; `app.onError` turns it into the spec's JSON error body. */
export class RegistryError extends Error {
  readonly code: ErrorCode
  readonly extra: Extra
  constructor(code: ErrorCode, extra: Extra = {}, cause?: unknown) {
    super(extra.message ?? OCI_ERRORS[code].message, { cause })
    this.name = 'RegistryError'
    this.code = code
    this.extra = extra
  }
  get status(): ContentfulStatusCode {
    return this.extra.status ?? OCI_ERRORS[this.code].status
  }
  toBody() {
    return {
      errors: [{ code: this.code, message: this.message, detail: this.extra.detail ?? null }],
    }
  }
}
