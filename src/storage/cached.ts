// A read cache in front of a store for the hot path of pulls: tag → digest, manifest records and
// manifest bytes. Entries live one second, so writes by another process (`seed`, `gc`) show up
// promptly, and this process's own writes drop the entries they change at once.
import type { ManifestRecord, Storage } from './types.ts'

const TTL_MS = 1000
/** Bytes of small blobs (manifests, configs) kept at most. */
const MAX_BYTES = 64 * 1024 * 1024

/** Wraps a store with a short-lived cache of tags, manifest records and small blobs. */
export function withReadCache(storage: Storage, now: () => number = Date.now): Storage {
  const entries = new Map<string, { value: unknown; expires: number; bytes: number }>()
  let bytes = 0

  const drop = (key: string) => {
    const hit = entries.get(key)
    if (!hit) return
    bytes -= hit.bytes
    entries.delete(key)
  }
  const cached = <T>(key: string, load: () => Promise<T>, size = (_: T) => 0) => async () => {
    const hit = entries.get(key)
    if (hit && hit.expires > now()) return hit.value as T
    drop(key)
    const value = await load()
    const cost = size(value)
    if (value !== undefined && cost <= MAX_BYTES / 16) {
      // Oldest entries go first: a Map iterates in insertion order.
      for (const [old] of entries) {
        if (bytes + cost <= MAX_BYTES) break
        drop(old)
      }
      entries.set(key, { value, expires: now() + TTL_MS, bytes: cost })
      bytes += cost
    }
    return value
  }

  return {
    ...storage,
    getTag: (name, tag) => cached(`tag ${name}:${tag}`, () => storage.getTag(name, tag))(),
    getManifest: (name, digest) =>
      cached<ManifestRecord | undefined>(
        `manifest ${name}@${digest}`,
        () => storage.getManifest(name, digest),
      )(),
    getBlob: (digest) =>
      cached(`blob ${digest}`, () => storage.getBlob(digest), (b) => b?.byteLength ?? 0)(),
    async setTag(name, tag, digest) {
      drop(`tag ${name}:${tag}`)
      await storage.setTag(name, tag, digest)
    },
    async deleteTag(name, tag) {
      drop(`tag ${name}:${tag}`)
      return await storage.deleteTag(name, tag)
    },
    async putManifest(name, digest, record) {
      drop(`manifest ${name}@${digest}`)
      await storage.putManifest(name, digest, record)
    },
    async deleteManifest(name, digest) {
      drop(`manifest ${name}@${digest}`)
      return await storage.deleteManifest(name, digest)
    },
    async deleteBlob(digest) {
      drop(`blob ${digest}`)
      await storage.deleteBlob(digest)
    },
  }
}
