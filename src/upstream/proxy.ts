// The pull-through cache: everything outside broken/ is fetched from an upstream registry,
// answered while it streams into the store, and served from the store afterwards.
// Manifests: cached by digest forever, by tag until --cache-ttl, then revalidated (and served
// stale while the upstream is down). Blobs: one download per digest, shared by every client,
// verified before it is committed; clients read the download as it grows.
import type { Context } from 'hono'
import { getBlob } from '../registry/blobs.ts'
import { referrerFields } from '../registry/bundles.ts'
import { HEADER, jsonResponse, MANIFEST_TYPES, MEDIA_TYPE } from '../registry/constants.ts'
import { digestOf, isDigest, parseDigest } from '../registry/digest.ts'
import { RegistryError } from '../registry/errors.ts'
import { checkTag, getManifest, storeManifest } from '../registry/manifests.ts'
import type { Route } from '../registry/routes.ts'
import type { RegistryDeps } from '../registry/types.ts'
import type { ManifestRecord } from '../storage/index.ts'
import { readAll } from '../util/streams.ts'
import type { UpstreamClient } from './client.ts'
import { createDownloads } from './downloads.ts'
import { parseUpstreamName, type UpstreamRef } from './reference.ts'

/** Largest manifest accepted from an upstream. */
const MANIFEST_LIMIT = 32 * 1024 * 1024
/** Sent when the client names no media types: every manifest type this server knows. */
const DEFAULT_ACCEPT = [...MANIFEST_TYPES].join(', ')
/** How often a pull updates a cached item's access time, at most. */
const ACCESS_RESOLUTION_MS = 60_000
/** Entries of the in-memory bookkeeping kept at most; the oldest go first. */
const MEMORY_ENTRIES = 100_000

/** What the proxy needs beyond the registry's dependencies. */
export interface ProxyOptions {
  client: UpstreamClient
  /** The registry of names without a host: quay.io, as the original. */
  defaultRegistry: string
  /** How long a cached tag is served before it is checked with the upstream again. */
  cacheTtlMs: number
  /** A blob download that receives nothing for this long fails; 60 s unless a test says less. */
  idleTimeoutMs?: number
  now?: () => number
}

/** Builds the proxy handler over the store. */
export function createProxy(deps: RegistryDeps, options: ProxyOptions) {
  const { storage, hasher } = deps
  const { client, now = Date.now } = options
  const downloads = createDownloads(deps, { idleTimeoutMs: options.idleTimeoutMs ?? 60_000 })
  const checkedAt = new Map<string, number>()
  const recordedAt = new Map<string, number>()

  /** Updates the access time gc reads, at most once a minute per item. */
  function touch(repo: string, digest: string) {
    const key = `${repo}@${digest}`
    if (now() - (recordedAt.get(key) ?? 0) < ACCESS_RESOLUTION_MS) return
    remember(recordedAt, key, now())
    storage.recordAccess(repo, digest).catch(() => recordedAt.delete(key))
  }

  /** Fetches a manifest from the upstream into the store; returns its digest or the upstream's error. */
  async function fetchManifest(c: Context, ref: UpstreamRef, reference: string) {
    const accept = c.req.header('Accept') || DEFAULT_ACCEPT
    const res = await client.request(ref, `manifests/${reference}`, { headers: { Accept: accept } })
    if (!res.ok) return { error: await upstreamError(res, ref, 'MANIFEST_UNKNOWN') }
    const bytes = await readAll(res.body, MANIFEST_LIMIT)
    const claimed = isDigest(reference)
      ? reference
      : res.headers.get(HEADER.contentDigest) ?? undefined
    const algorithm = claimed && isDigest(claimed) ? parseDigest(claimed).algorithm : 'sha256'
    const digest = digestOf(hasher, bytes, algorithm)
    if (claimed && claimed !== digest) {
      throw new RegistryError('DIGEST_INVALID', {
        status: 502,
        message: `Upstream ${ref.registry} sent manifest ${digest} for ${claimed}`,
        detail: { expected: claimed, actual: digest },
      })
    }
    const mediaType = res.headers.get('Content-Type')?.split(';')[0].trim() ||
      MEDIA_TYPE.octetStream
    const record: ManifestRecord = {
      ...referrerFields(bytes),
      mediaType,
      size: bytes.byteLength,
      origin: 'proxy',
    }
    await storeManifest(
      deps,
      ref.cacheName,
      digest,
      bytes,
      record,
      isDigest(reference) ? undefined : reference,
    )
    return { digest }
  }

  /** The digest the upstream's HEAD names for a tag, if it answers with one. */
  async function upstreamDigest(c: Context, ref: UpstreamRef, reference: string) {
    const accept = c.req.header('Accept') || DEFAULT_ACCEPT
    const init = { method: 'HEAD', headers: { Accept: accept } }
    const res = await client.request(ref, `manifests/${reference}`, init)
    await res.body?.cancel()
    return res.ok ? res.headers.get(HEADER.contentDigest) : undefined
  }

  async function serveManifest(c: Context, ref: UpstreamRef, digest: string, stale?: string) {
    touch(ref.cacheName, digest)
    const res = await getManifest(c, deps, ref.cacheName, digest)
    if (stale) res.headers.set('Warning', `110 broken-reg "Response is stale: ${stale}"`)
    return res
  }

  async function manifest(c: Context, ref: UpstreamRef, reference: string) {
    if (!isDigest(reference)) checkTag(reference)
    const repo = ref.cacheName
    if (isDigest(reference)) {
      const { digest } = parseDigest(reference)
      if (!await storage.getManifest(repo, digest)) {
        const fetched = await fetchManifest(c, ref, digest)
        if (fetched.error) return fetched.error
      }
      return serveManifest(c, ref, digest)
    }
    const key = `${repo}:${reference}`
    const cached = await storage.getTag(repo, reference)
    const record = cached && await storage.getManifest(repo, cached)
    // A cached form the client cannot read (an index for a client that wants one image) is
    // asked for again; the tag then holds the form this client negotiated.
    const readable = record && accepts(c.req.header('Accept'), record.mediaType)
    if (cached && readable && now() - (checkedAt.get(key) ?? 0) < options.cacheTtlMs) {
      return serveManifest(c, ref, cached)
    }
    try {
      // A HEAD revalidates a cached tag without downloading it (nor counting as a pull on hubs
      // with pull limits); only a changed or missing digest needs the GET.
      if (cached && readable && await upstreamDigest(c, ref, reference) === cached) {
        remember(checkedAt, key, now())
        return serveManifest(c, ref, cached)
      }
      const fetched = await fetchManifest(c, ref, reference)
      if (fetched.error && !(cached && fetched.error.status >= 500)) return fetched.error
      if (fetched.digest) {
        remember(checkedAt, key, now())
        return serveManifest(c, ref, fetched.digest)
      }
      return serveManifest(
        c,
        ref,
        cached!,
        `upstream ${ref.registry} answered ${fetched.error!.status}`,
      )
    } catch (err) {
      if (!cached || !(err instanceof RegistryError) || err.code !== 'UNAVAILABLE') throw err
      return serveManifest(c, ref, cached, err.message)
    }
  }

  async function blob(c: Context, ref: UpstreamRef, reference: string) {
    const { digest } = parseDigest(reference)
    const repo = ref.cacheName
    if (await storage.statBlob(digest) !== undefined) {
      if (!await storage.isBlobLinked(repo, digest)) await storage.linkBlob(repo, digest)
      touch(repo, digest)
      return getBlob(c, deps, repo, digest)
    }
    if (c.req.method === 'HEAD') {
      const res = await client.request(ref, `blobs/${digest}`, { method: 'HEAD' })
      if (!res.ok) return upstreamError(res, ref, 'BLOB_UNKNOWN')
      const headers: Record<string, string> = {
        'Content-Type': MEDIA_TYPE.octetStream,
        [HEADER.contentDigest]: digest,
      }
      const length = res.headers.get('Content-Length')
      if (length) headers['Content-Length'] = length
      return new Response(null, { headers })
    }
    const download = downloads.start(digest, repo, () => client.request(ref, `blobs/${digest}`))
    const answer = await download.headers
    if ('error' in answer) return upstreamError(answer.error(), ref, 'BLOB_UNKNOWN')
    // Without the size a range cannot be answered as it streams: it is served once stored.
    if (answer.size === undefined && c.req.header('Range')) {
      await download.finished
      return getBlob(c, deps, repo, digest)
    }
    return download.respond(c.req.header('Range'))
  }

  /** Tags and referrers, passed on with the upstream's paging and filters under our name. */
  async function listing(c: Context, ref: UpstreamRef, name: string, path: string) {
    const res = await client.request(ref, `${path}${new URL(c.req.url).search}`)
    if (!res.ok) return upstreamError(res, ref, 'NAME_UNKNOWN')
    const headers: Record<string, string> = {}
    const link = res.headers.get('Link')
    if (link) headers.Link = link.replace(`/v2/${ref.repository}/`, `/v2/${name}/`)
    const filters = res.headers.get(HEADER.ociFiltersApplied)
    if (filters) headers[HEADER.ociFiltersApplied] = filters
    const body = await res.json() as Record<string, unknown>
    if (path === 'tags/list') body.name = name
    return jsonResponse(body, 200, headers, res.headers.get('Content-Type') ?? MEDIA_TYPE.json)
  }

  return {
    /** Answers a read of a proxied repository; writes never reach here. */
    async handle(c: Context, route: Route & { name: string }) {
      const ref = parseUpstreamName(route.name, options.defaultRegistry)
      switch (route.kind) {
        case 'manifest':
          return manifest(c, ref, route.reference)
        case 'blob':
          return blob(c, ref, route.digest)
        case 'tags':
          return listing(c, ref, route.name, 'tags/list')
        case 'referrers':
          return listing(c, ref, route.name, `referrers/${parseDigest(route.digest).digest}`)
        default:
          throw new RegistryError('UNSUPPORTED', { message: `${route.kind} is not proxied` })
      }
    },
  }
}

/** The upstream's error passed on: its status and body, or a spec body when it sent none. */
async function upstreamError(
  res: Response,
  ref: UpstreamRef,
  code: 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN' | 'NAME_UNKNOWN',
) {
  const body = await res.arrayBuffer().catch(() => new ArrayBuffer(0))
  const status = res.status
  const isJson = res.headers.get('Content-Type')?.includes('json')
  if (body.byteLength > 0 && isJson) {
    return new Response(body, { status, headers: { 'Content-Type': MEDIA_TYPE.json } })
  }
  const fitting = status === 404
    ? code
    : status === 401
    ? 'UNAUTHORIZED'
    : status === 403
    ? 'DENIED'
    : status === 429
    ? 'TOOMANYREQUESTS'
    : 'UNKNOWN'
  const e = new RegistryError(fitting, {
    status: status as 404,
    message: `Upstream ${ref.registry} answered ${status} for ${ref.repository}`,
    detail: { upstream: ref.registry, status },
  })
  return new Response(JSON.stringify(e.toBody()), {
    status,
    headers: { 'Content-Type': MEDIA_TYPE.json },
  })
}

/** Whether an `Accept` header admits a media type; no header (or a wildcard) admits any. */
function accepts(accept: string | undefined, mediaType: string): boolean {
  if (!accept) return true
  const types = accept.split(',').map((t) => t.split(';')[0].trim())
  return types.some((t) => t === mediaType || t === '*/*' || t === '')
}

/** Sets a key, dropping the oldest entries past the bound. */
function remember(map: Map<string, number>, key: string, value: number) {
  map.delete(key)
  map.set(key, value)
  if (map.size > MEMORY_ENTRIES) map.delete(map.keys().next().value!)
}
