// The listing endpoints: tags and catalog (paginated with `n`, `last` and `Link`), referrers.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md#content-discovery
import type { Context } from 'hono'
import { HEADER, jsonResponse, MEDIA_TYPE } from './constants.ts'
import { parseDigest } from './digest.ts'
import { RegistryError } from './errors.ts'
import type { RegistryDeps } from './types.ts'

/** Applies `n` and `last` to a sorted list, and builds the `Link` to the next page. */
export function paginate(c: Context, items: string[], path: string) {
  const last = c.req.query('last')
  const n = c.req.query('n')
  const limit = n === undefined ? Infinity : Number(n)
  if (n !== undefined && !(/^\d+$/.test(n))) {
    throw new RegistryError('PAGINATION_NUMBER_INVALID', {
      message: `Invalid page size n=${n}: use a whole number of 0 or more`,
    })
  }
  const rest = last === undefined ? items : items.filter((item) => item > last)
  const page = rest.slice(0, limit)
  const headers: Record<string, string> = {}
  if (page.length > 0 && page.length < rest.length) {
    const next = `${path}?n=${limit}&last=${encodeURIComponent(page[page.length - 1])}`
    headers.Link = `<${next}>; rel="next"`
  }
  return { page, headers }
}

/** GET of a repository's tags. */
export async function listTags(c: Context, { storage }: RegistryDeps, name: string) {
  const tags = await storage.listTags(name)
  if (!tags) throw new RegistryError('NAME_UNKNOWN', { detail: { name } })
  const { page, headers } = paginate(c, tags, `/v2/${name}/tags/list`)
  return jsonResponse({ name, tags: page }, 200, headers)
}

/** GET of the repositories this registry holds. */
export async function listCatalog(c: Context, { storage }: RegistryDeps) {
  const { page, headers } = paginate(c, await storage.listRepositories(), '/v2/_catalog')
  return jsonResponse({ repositories: page }, 200, headers)
}

/** GET of the manifests whose `subject` is a digest, optionally of one `artifactType`. */
export async function listReferrers(
  c: Context,
  { storage }: RegistryDeps,
  name: string,
  ref: string,
) {
  const { digest } = parseDigest(ref)
  const artifactType = c.req.query('artifactType')
  const referrers = (await storage.listReferrers(name, digest))
    .filter(({ record }) => artifactType === undefined || record.artifactType === artifactType)
    .sort((a, b) => a.digest < b.digest ? -1 : 1)
    .map(({ digest, record }) => ({
      mediaType: record.mediaType,
      digest,
      size: record.size,
      ...(record.artifactType && { artifactType: record.artifactType }),
      ...(record.annotations && { annotations: record.annotations }),
    }))
  const headers: Record<string, string> = {}
  if (artifactType !== undefined) headers[HEADER.ociFiltersApplied] = 'artifactType'
  const index = { schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests: referrers }
  return jsonResponse(index, 200, headers, MEDIA_TYPE.ociIndex)
}
