// Garbage collection of a store: expiry of proxy-cached images by age and by total size (least
// recently pulled first), mark and sweep of manifests and blobs no tag reaches, and removal of
// stale upload sessions. Safe beside a running server: anything written or used within the
// grace period is kept, and recency is checked again right before each deletion.
import type { BlobEntry, Storage } from '../storage/index.ts'
import { PREPARED_REPOSITORY } from './constants.ts'
import type { ManifestJson } from './types.ts'

const SWEEP_BATCH = 64

/** What to collect. */
export interface GcOptions {
  /** Also remove manifests no tag reaches (and no kept manifest refers to). */
  untagged: boolean
  /** Expire proxied images not pulled within this many ms. */
  maxAgeMs?: number
  /** Expire least recently pulled proxied images until the blobs fit in this many bytes. */
  maxSize?: number
  /** Remove upload sessions older than this. */
  uploadTtlMs: number
  /** Never delete what was written or used within this many ms. */
  graceMs: number
  dryRun: boolean
  now: number
}

/** One removal, as reported (and, without --dry-run, done). */
export interface GcAction {
  kind: 'upload' | 'manifest' | 'tag' | 'link' | 'blob'
  repository?: string
  /** The digest, tag or upload id removed. */
  target: string
  bytes: number
  reason: string
}

interface Manifest {
  repository: string
  digest: string
  tags: string[]
  proxied: boolean
  lastAccess: number
  /** Digests this manifest refers to: children, config, layers, subject excluded. */
  refs: string[]
  subject?: string
}

/** Runs one collection; `report` sees each action as it is taken. */
export async function collectGarbage(
  storage: Storage,
  options: GcOptions,
  report: (action: GcAction) => void = () => {},
): Promise<{ actions: GcAction[]; bytesFreed: number }> {
  const actions: GcAction[] = []
  const act = async (action: GcAction, run: () => Promise<unknown>) => {
    if (!options.dryRun) await run()
    actions.push(action)
    report(action)
  }
  const recent = (time: number | undefined) =>
    time !== undefined && options.now - time < options.graceMs

  for (const upload of await storage.listUploads()) {
    if (options.now - upload.startedAt < Math.max(options.uploadTtlMs, options.graceMs)) continue
    await act(
      {
        kind: 'upload',
        repository: upload.repository,
        target: upload.id,
        bytes: upload.size,
        reason: 'stale upload',
      },
      () => storage.deleteUpload(upload.id),
    )
  }

  const blobs = new Map((await storage.listBlobs()).map((b) => [b.digest, b]))
  const manifests = await readManifests(storage)
  const expired = chooseExpired(manifests, blobs, options)

  // Mark: tagged manifests (and untagged ones unless asked), what they refer to, their referrers.
  const kept = new Set<Manifest>()
  const key = (repository: string, digest: string) => `${repository}@${digest}`
  const byKey = new Map(manifests.map((m) => [key(m.repository, m.digest), m]))
  const queue = manifests.filter((m) =>
    !expired.has(m) && (m.tags.length > 0 || !options.untagged || recent(m.lastAccess))
  )
  const keep = (m: Manifest | undefined) => {
    if (m && !kept.has(m) && !expired.has(m)) queue.push(m)
  }
  while (queue.length) {
    const m = queue.pop()!
    if (kept.has(m)) continue
    kept.add(m)
    for (const ref of m.refs) keep(byKey.get(key(m.repository, ref)))
    for (const other of manifests) {
      if (other.repository === m.repository && other.subject === m.digest) keep(other)
    }
  }
  const referenced = new Set<string>()
  const referencedIn = new Set<string>()
  for (const m of kept) {
    for (const digest of [m.digest, ...m.refs]) {
      referenced.add(digest)
      referencedIn.add(key(m.repository, digest))
    }
  }

  // Sweep: manifests and their tags, then links, then blobs.
  for (const m of manifests) {
    if (kept.has(m)) continue
    const reason = expired.has(m) ? expired.get(m)! : 'untagged and unreferenced'
    for (const tag of m.tags) {
      await act(
        { kind: 'tag', repository: m.repository, target: tag, bytes: 0, reason },
        () => storage.deleteTag(m.repository, tag),
      )
    }
    await act(
      { kind: 'manifest', repository: m.repository, target: m.digest, bytes: 0, reason },
      () => storage.deleteManifest(m.repository, m.digest),
    )
  }
  for (const repository of await storage.listRepositories()) {
    for (const digest of await storage.listLinks(repository)) {
      if (referencedIn.has(key(repository, digest))) continue
      if (recent(await storage.lastAccess(repository, digest))) continue
      await act({
        kind: 'link',
        repository,
        target: digest,
        bytes: 0,
        reason: 'no kept manifest refers to it',
      }, () => storage.unlinkBlob(repository, digest))
    }
  }
  let bytesFreed = actions.reduce((n, a) => n + a.bytes, 0)
  const garbage = [...blobs.values()].filter((b) =>
    !referenced.has(b.digest) && !recent(b.modifiedAt)
  )
  // Deleting is file-system bound: a few at a time keeps the disk busy.
  for (let i = 0; i < garbage.length; i += SWEEP_BATCH) {
    await Promise.all(
      garbage.slice(i, i + SWEEP_BATCH).map(async (blob) => {
        // Checked again just before deleting: a push may have used the blob since the mark.
        if (!options.dryRun && await usedSince(storage, blob)) return
        await act(
          { kind: 'blob', target: blob.digest, bytes: blob.size, reason: 'unreferenced' },
          () => storage.deleteBlob(blob.digest),
        )
        bytesFreed += blob.size
      }),
    )
  }
  return { actions, bytesFreed }
}

/** Reads every manifest of every repository with what gc needs to know of it. */
async function readManifests(storage: Storage): Promise<Manifest[]> {
  const found: Manifest[] = []
  for (const repository of await storage.listRepositories()) {
    const tags = new Map<string, string[]>()
    for (const tag of await storage.listTags(repository) ?? []) {
      const digest = await storage.getTag(repository, tag)
      if (digest) tags.set(digest, [...tags.get(digest) ?? [], tag])
    }
    for (const digest of await storage.listManifests(repository)) {
      const record = await storage.getManifest(repository, digest)
      if (!record) continue
      const bytes = await storage.getBlob(digest)
      found.push({
        repository,
        digest,
        tags: tags.get(digest) ?? [],
        proxied: record.origin === 'proxy' && !repository.startsWith(`${PREPARED_REPOSITORY}/`) &&
          repository !== PREPARED_REPOSITORY,
        lastAccess: await storage.lastAccess(repository, digest) ?? 0,
        refs: bytes ? referencesOf(bytes) : [],
        subject: record.subject,
      })
    }
  }
  return found
}

/** The digests a manifest refers to (children, config, layers); none for bytes it cannot read. */
export function referencesOf(bytes: Uint8Array): string[] {
  try {
    const json: ManifestJson = JSON.parse(new TextDecoder().decode(bytes))
    const descriptors = [json.config, ...(json.layers ?? []), ...(json.manifests ?? [])]
    const schema1 = (json.fsLayers ?? []).map((l) => ({ digest: l.blobSum }))
    return [...descriptors, ...schema1]
      .map((d) => d?.digest)
      .filter((d): d is string => typeof d === 'string')
  } catch {
    return []
  }
}

/**
 * Proxied images to expire: those not pulled within maxAge, then the least recently pulled
 * until the blobs no other image uses would fit in maxSize. Pushed and generated images never.
 */
function chooseExpired(manifests: Manifest[], blobs: Map<string, BlobEntry>, options: GcOptions) {
  const expired = new Map<Manifest, string>()
  const proxied = manifests.filter((m) => m.proxied).sort((a, b) => a.lastAccess - b.lastAccess)
  if (options.maxAgeMs !== undefined) {
    for (const m of proxied) {
      if (options.now - m.lastAccess > options.maxAgeMs) expired.set(m, `not pulled within max-age`)
    }
  }
  if (options.maxSize === undefined) return expired
  const users = new Map<string, number>()
  for (const m of manifests) {
    if (expired.has(m)) continue
    for (const digest of new Set([m.digest, ...m.refs])) {
      users.set(digest, (users.get(digest) ?? 0) + 1)
    }
  }
  let total = [...users.keys()].reduce((n, d) => n + (blobs.get(d)?.size ?? 0), 0)
  for (const m of proxied) {
    if (total <= options.maxSize) break
    if (expired.has(m)) continue
    expired.set(m, 'least recently pulled over max-size')
    for (const digest of new Set([m.digest, ...m.refs])) {
      const left = (users.get(digest) ?? 1) - 1
      users.set(digest, left)
      if (left === 0) total -= blobs.get(digest)?.size ?? 0
    }
  }
  return expired
}

/** Whether a blob was written or touched (by a push referring to it) since gc listed it. */
async function usedSince(storage: Storage, blob: BlobEntry): Promise<boolean> {
  const modifiedAt = await storage.blobModifiedAt(blob.digest)
  return modifiedAt === undefined || modifiedAt !== blob.modifiedAt
}
