// Memory storage: the same contract as the filesystem adapter, gone when the process ends. For
// tests and for throwaway servers (`--storage memory`).
import { randomUUID } from 'node:crypto'
import { concat } from '../util/streams.ts'
import type { ManifestRecord, Storage, UploadInfo } from './types.ts'

interface Repository {
  layers: Set<string>
  manifests: Map<string, ManifestRecord>
  tags: Map<string, string>
}

/** Creates an empty in-memory store. */
export function createMemoryStorage(): Storage {
  const blobs = new Map<string, Uint8Array<ArrayBuffer>>()
  const accessed = new Map<string, number>()
  const written = new Map<string, number>()
  const repositories = new Map<string, Repository>()
  const uploads = new Map<
    string,
    Omit<UploadInfo, 'size'> & { chunks: Uint8Array<ArrayBuffer>[] }
  >()

  const repo = (name: string) => {
    let r = repositories.get(name)
    if (!r) repositories.set(name, r = { layers: new Set(), manifests: new Map(), tags: new Map() })
    return r
  }
  const upload = (id: string) => {
    const u = uploads.get(id)
    if (!u) throw new Error(`no upload ${id}`)
    return u
  }
  const bytesStream = (bytes: Uint8Array) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        if (bytes.byteLength) controller.enqueue(bytes.slice())
        controller.close()
      },
    })

  return {
    kind: 'memory',

    statBlob: async (digest) => blobs.get(digest)?.byteLength,
    readBlob(digest, range) {
      const bytes = blobs.get(digest) ?? new Uint8Array(0)
      return bytesStream(range ? bytes.subarray(range.start, range.end + 1) : bytes)
    },
    blobPath: () => undefined,
    getBlob: async (digest) => blobs.get(digest),
    async putBlob(digest, bytes) {
      blobs.set(digest, bytes.slice())
      written.set(digest, Date.now())
    },
    deleteBlob: async (digest) => void blobs.delete(digest),
    blobModifiedAt: async (digest) => blobs.has(digest) ? written.get(digest) : undefined,
    touchBlob: async (digest) => void (blobs.has(digest) && written.set(digest, Date.now())),
    listBlobs: async () =>
      [...blobs].map(([digest, b]) => ({
        digest,
        size: b.byteLength,
        modifiedAt: written.get(digest) ?? 0,
      })),

    async linkBlob(name, digest) {
      repo(name).layers.add(digest)
      accessed.set(`${name}@${digest}`, Date.now())
    },
    isBlobLinked: async (name, digest) => repositories.get(name)?.layers.has(digest) ?? false,
    listLinks: async (name) => [...repositories.get(name)?.layers ?? []],
    unlinkBlob: async (name, digest) => repositories.get(name)?.layers.delete(digest) ?? false,

    async putManifest(name, digest, record) {
      repo(name).manifests.set(digest, record)
      accessed.set(`${name}@${digest}`, Date.now())
    },
    getManifest: async (name, digest) => repositories.get(name)?.manifests.get(digest),
    listManifests: async (name) => [...repositories.get(name)?.manifests.keys() ?? []],
    deleteManifest: async (name, digest) =>
      repositories.get(name)?.manifests.delete(digest) ?? false,
    listReferrers: async (name, subject) =>
      [...repositories.get(name)?.manifests ?? []]
        .filter(([, record]) => record.subject === subject)
        .map(([digest, record]) => ({ digest, record })),

    setTag: async (name, tag, digest) => void repo(name).tags.set(tag, digest),
    getTag: async (name, tag) => repositories.get(name)?.tags.get(tag),
    deleteTag: async (name, tag) => repositories.get(name)?.tags.delete(tag) ?? false,
    listTags: async (name) => {
      const r = repositories.get(name)
      return r && [...r.tags.keys()].sort()
    },
    tagsOf: async (name, digest) =>
      [...repositories.get(name)?.tags ?? []].filter(([, d]) => d === digest).map(([t]) => t),
    listRepositories: async () => [...repositories.keys()].sort(),
    recordAccess: async (name, digest) => void accessed.set(`${name}@${digest}`, Date.now()),
    lastAccess: async (name, digest) => accessed.get(`${name}@${digest}`),

    async createUpload(name) {
      const id = randomUUID()
      uploads.set(id, { repository: name, startedAt: Date.now(), chunks: [] })
      return id
    },
    async statUpload(id) {
      const u = uploads.get(id)
      if (!u) return undefined
      const size = u.chunks.reduce((n, c) => n + c.byteLength, 0)
      return { repository: u.repository, startedAt: u.startedAt, size }
    },
    async openUpload(id) {
      const u = upload(id)
      return {
        write: async (chunk) => void u.chunks.push(chunk.slice()),
        flush: async () => {},
        close: async () => u.chunks.reduce((n, c) => n + c.byteLength, 0),
      }
    },
    readUpload: (id) => bytesStream(concat(upload(id).chunks)),
    async openUploadReader(id) {
      const { chunks } = upload(id)
      return {
        read: async (position, length) => concat(chunks).slice(position, position + length),
        close: async () => {},
      }
    },
    async commitUpload(id, digest) {
      blobs.set(digest, concat(upload(id).chunks))
      written.set(digest, Date.now())
      uploads.delete(id)
    },
    deleteUpload: async (id) => void uploads.delete(id),
    listUploads: async () =>
      [...uploads].map(([id, u]) => ({
        id,
        repository: u.repository,
        startedAt: u.startedAt,
        size: u.chunks.reduce((n, c) => n + c.byteLength, 0),
      })),
  }
}
