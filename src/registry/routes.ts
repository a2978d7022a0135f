// Reads `/v2/` paths from the right, because repository names contain `/`.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#endpoints
import { NAME_MAX_LENGTH, NAME_PATTERN } from './constants.ts'
import { RegistryError } from './errors.ts'

/** One endpoint of the distribution API, with the parts of the path it needs. */
export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'upload'; name: string; id?: string }
  | { kind: 'referrers'; name: string; digest: string }

/** Endpoints below a repository name, tried in order: uploads before blobs. */
const ENDPOINTS: [RegExp, (name: string, last: string) => Route][] = [
  [/^(.+)\/tags\/list$/, (name) => ({ kind: 'tags', name })],
  [/^(.+)\/manifests\/([^/]+)$/, (name, reference) => ({ kind: 'manifest', name, reference })],
  [/^(.+)\/blobs\/uploads\/?$/, (name) => ({ kind: 'upload', name })],
  [/^(.+)\/blobs\/uploads\/([^/]+)$/, (name, id) => ({ kind: 'upload', name, id })],
  [/^(.+)\/blobs\/([^/]+)$/, (name, digest) => ({ kind: 'blob', name, digest })],
  [/^(.+)\/referrers\/([^/]+)$/, (name, digest) => ({ kind: 'referrers', name, digest })],
]

/**
 * Parses a path below `/v2/`; `undefined` when it is no endpoint of the API. Throws
 * NAME_INVALID when the endpoint matches but the repository name breaks the spec's grammar.
 */
export function parseRoute(path: string): Route | undefined {
  if (!path.startsWith('/v2/')) return path === '/v2' ? { kind: 'base' } : undefined
  const rest = path.slice(4)
  if (rest === '') return { kind: 'base' }
  if (rest === '_catalog') return { kind: 'catalog' }
  for (const [pattern, build] of ENDPOINTS) {
    const match = pattern.exec(rest)
    if (!match) continue
    const name = match[1]
    if (!isValidName(name)) {
      throw new RegistryError('NAME_INVALID', {
        message: `Invalid repository name "${name}"`,
        detail: { name },
      })
    }
    return build(name, decode(match[2] ?? ''))
  }
  return undefined
}

/** A registry host as the first component of a proxied name: `docker.io`, `127.0.0.1:5001`. */
const HOST_PATTERN = /^[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*(?::\d{1,5})?$/

/**
 * Whether a repository name follows the spec's grammar and length limit. A proxied name may
 * also start with a registry host with a port or capitals, as image references allow.
 */
export function isValidName(name: string): boolean {
  if (name.length > NAME_MAX_LENGTH) return false
  if (NAME_PATTERN.test(name)) return true
  const slash = name.indexOf('/')
  const host = name.slice(0, slash)
  const isHost = /[.:]/.test(host) || host === 'localhost'
  return slash > 0 && isHost && HOST_PATTERN.test(host) && NAME_PATTERN.test(name.slice(slash + 1))
}

/** Undoes percent-encoding (some clients encode the `:` of a digest); bad escapes stay as sent. */
function decode(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}
