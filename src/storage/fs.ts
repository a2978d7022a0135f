// Filesystem storage, the default. Every write lands in tmp/ first and is renamed into place, so
// a crash never leaves a half-written blob, manifest or tag. The tree under the data directory:
//
//   blobs/sha256/ab/abcd…                       blob bytes, shared by every repository
//   repositories/<name>/_layers/sha256/abcd…    empty file: the blob is linked to <name>
//   repositories/<name>/_manifests/revisions/sha256/abcd…   JSON ManifestRecord
//   repositories/<name>/_manifests/tags/<tag>   the digest the tag points at
//   uploads/<uuid>/data, uploads/<uuid>/info.json            upload sessions in progress
//   tmp/                                        files being written
//
// Repository names cannot start a component with `_`, so `_layers` and `_manifests` never clash.
import { randomUUID } from 'node:crypto'
import {
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises'
import { dirname, join, resolve, sep } from 'node:path'
import { fileStream } from '../util/streams.ts'
import type {
  BlobEntry,
  ByteRange,
  ManifestRecord,
  Storage,
  UploadInfo,
  UploadWriter,
} from './types.ts'

const WRITE_BATCH = 1024 * 1024

/** Creates the filesystem adapter rooted at `root`, creating the directory if needed. */
export async function createFsStorage(root: string): Promise<Storage> {
  root = resolve(root)
  await mkdir(join(root, 'tmp'), { recursive: true })
  await removeStaleTemp(join(root, 'tmp'))

  /** Joins path parts under root, refusing anything that would step outside it. */
  const at = (...parts: string[]) => {
    const path = resolve(root, ...parts)
    if (!path.startsWith(root + sep)) throw new Error(`path escapes the data directory: ${path}`)
    return path
  }
  const split = (digest: string) => digest.split(':') as [string, string]
  const blobFile = (digest: string) => {
    const [algorithm, hex] = split(digest)
    return at('blobs', algorithm, hex.slice(0, 2), hex)
  }
  const repo = (name: string, ...parts: string[]) => at('repositories', name, ...parts)
  const layerLink = (name: string, digest: string) => repo(name, '_layers', ...split(digest))
  const revision = (name: string, digest: string) =>
    repo(name, '_manifests', 'revisions', ...split(digest))
  const tagFile = (name: string, tag: string) => {
    // Callers check tags; a name that could address another file is refused here too.
    if (!/^[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(tag)) throw new Error(`invalid tag name: ${tag}`)
    return repo(name, '_manifests', 'tags', tag)
  }
  const uploadDir = (id: string) => at('uploads', id)

  const atomicWrite = async (path: string, data: Uint8Array | string) => {
    const tmp = at('tmp', randomUUID())
    await writeFile(tmp, data)
    await mkdir(dirname(path), { recursive: true })
    await rename(tmp, path)
  }
  const readText = async (path: string) => {
    try {
      return await readFile(path, 'utf8')
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
  }
  const remove = async (path: string) => {
    try {
      await rm(path)
      return true
    } catch (err) {
      if (isMissing(err)) return false
      throw err
    }
  }
  const list = async (path: string) => {
    try {
      return await readdir(path)
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
  }
  const size = async (path: string) => {
    try {
      return (await stat(path)).size
    } catch (err) {
      if (isMissing(err)) return undefined
      throw err
    }
  }

  const statUpload = async (id: string) => {
    const text = await readText(join(uploadDir(id), 'info.json'))
    const bytes = await size(join(uploadDir(id), 'data'))
    if (text === undefined || bytes === undefined) return undefined
    return { ...JSON.parse(text), size: bytes } as UploadInfo
  }
  /** The `<algorithm>:<hex>` names under a directory of `<algorithm>/<hex>` files. */
  const listDigests = async (dir: string) => {
    const found: string[] = []
    for (const algorithm of await list(dir) ?? []) {
      for (const hex of await list(join(dir, algorithm)) ?? []) found.push(`${algorithm}:${hex}`)
    }
    return found
  }
  const getManifest = async (name: string, digest: string) => {
    const text = await readText(revision(name, digest))
    return text === undefined ? undefined : JSON.parse(text) as ManifestRecord
  }
  const getTag = (name: string, tag: string) => readText(tagFile(name, tag))
  const listTags = async (name: string) => {
    if ((await list(repo(name))) === undefined) return undefined
    return ((await list(repo(name, '_manifests', 'tags'))) ?? []).sort()
  }

  return {
    kind: 'fs',

    statBlob: (digest) => size(blobFile(digest)),
    readBlob: (digest, range?: ByteRange) => fileStream(blobFile(digest), range?.start, range?.end),
    blobPath: blobFile,
    async getBlob(digest) {
      try {
        return new Uint8Array(await readFile(blobFile(digest)))
      } catch (err) {
        if (isMissing(err)) return undefined
        throw err
      }
    },
    putBlob: (digest, bytes) => atomicWrite(blobFile(digest), bytes),
    deleteBlob: async (digest) => void await remove(blobFile(digest)),
    async blobModifiedAt(digest) {
      try {
        return (await stat(blobFile(digest))).mtimeMs
      } catch (err) {
        if (isMissing(err)) return undefined
        throw err
      }
    },
    async touchBlob(digest) {
      const now = new Date()
      await utimes(blobFile(digest), now, now).catch((err) => {
        if (!isMissing(err)) throw err
      })
    },
    async listBlobs() {
      const found: BlobEntry[] = []
      for (const algorithm of await list(at('blobs')) ?? []) {
        for (const prefix of await list(at('blobs', algorithm)) ?? []) {
          const names = await list(at('blobs', algorithm, prefix)) ?? []
          const stats = await Promise.all(
            names.map((hex) => stat(at('blobs', algorithm, prefix, hex)).catch(() => undefined)),
          )
          stats.forEach((s, i) => {
            if (s) {
              found.push({
                digest: `${algorithm}:${names[i]}`,
                size: s.size,
                modifiedAt: s.mtimeMs,
              })
            }
          })
        }
      }
      return found
    },

    linkBlob: (name, digest) => atomicWrite(layerLink(name, digest), ''),
    isBlobLinked: async (name, digest) => (await size(layerLink(name, digest))) !== undefined,
    unlinkBlob: (name, digest) => remove(layerLink(name, digest)),
    listLinks: (name) => listDigests(repo(name, '_layers')),

    putManifest: (name, digest, record) =>
      atomicWrite(revision(name, digest), JSON.stringify(record)),
    getManifest,
    deleteManifest: (name, digest) => remove(revision(name, digest)),
    listManifests: (name) => listDigests(repo(name, '_manifests', 'revisions')),
    async listReferrers(name, subject) {
      const found: { digest: string; record: ManifestRecord }[] = []
      for (const digest of await listDigests(repo(name, '_manifests', 'revisions'))) {
        const record = await getManifest(name, digest)
        if (record?.subject === subject) found.push({ digest, record })
      }
      return found
    },

    setTag: (name, tag, digest) => atomicWrite(tagFile(name, tag), digest),
    getTag,
    deleteTag: (name, tag) => remove(tagFile(name, tag)),
    listTags,
    async tagsOf(name, digest) {
      const tags = (await listTags(name)) ?? []
      const pointing = await Promise.all(tags.map(async (t) => (await getTag(name, t)) === digest))
      return tags.filter((_, i) => pointing[i])
    },
    async listRepositories() {
      const found: string[] = []
      const walk = async (relative: string) => {
        const entries = (await list(at('repositories', relative))) ?? []
        if (entries.some((e) => e === '_manifests' || e === '_layers')) found.push(relative)
        for (const entry of entries) {
          if (!entry.startsWith('_')) await walk(relative ? `${relative}/${entry}` : entry)
        }
      }
      await walk('')
      return found.filter(Boolean).sort()
    },

    async recordAccess(name, digest) {
      const now = new Date()
      for (const path of [revision(name, digest), layerLink(name, digest)]) {
        await utimes(path, now, now).catch((err) => {
          if (!isMissing(err)) throw err
        })
      }
    },
    async lastAccess(name, digest) {
      for (const path of [revision(name, digest), layerLink(name, digest)]) {
        try {
          return (await stat(path)).mtimeMs
        } catch (err) {
          if (!isMissing(err)) throw err
        }
      }
      return undefined
    },

    async createUpload(name) {
      const id = randomUUID()
      const info: Omit<UploadInfo, 'size'> = { repository: name, startedAt: Date.now() }
      await mkdir(uploadDir(id), { recursive: true })
      await writeFile(join(uploadDir(id), 'data'), '')
      await writeFile(join(uploadDir(id), 'info.json'), JSON.stringify(info))
      return id
    },
    statUpload,
    async openUpload(id): Promise<UploadWriter> {
      const handle = await open(join(uploadDir(id), 'data'), 'a')
      let pending: Uint8Array[] = []
      let pendingBytes = 0
      // One batch is written while the next is gathered (and hashed by the caller); a failed
      // write is kept and thrown by the next call, so no error goes unobserved.
      let writing: Promise<void> = Promise.resolve()
      let failure: unknown
      const check = () => {
        if (failure !== undefined) throw failure
      }
      const writeBatch = async () => {
        if (pendingBytes === 0) return
        const batch = pending
        pending = []
        pendingBytes = 0
        await writing
        check()
        writing = writeAll(handle, batch).catch((err) => void (failure ??= err))
      }
      const flush = async () => {
        await writeBatch()
        await writing
        check()
      }
      return {
        async write(chunk) {
          check()
          pending.push(chunk)
          pendingBytes += chunk.byteLength
          if (pendingBytes >= WRITE_BATCH) await writeBatch()
        },
        flush,
        async close() {
          try {
            await flush()
            return (await handle.stat()).size
          } finally {
            await writing
            await handle.close()
          }
        },
      }
    },
    readUpload: (id) => fileStream(join(uploadDir(id), 'data')),
    async openUploadReader(id) {
      // The open handle keeps reading the same file after commitUpload renames it.
      const handle = await open(join(uploadDir(id), 'data'), 'r')
      return {
        async read(position, length) {
          const buffer = new Uint8Array(length)
          const { bytesRead } = await handle.read(buffer, 0, length, position)
          return buffer.subarray(0, bytesRead)
        },
        close: () => handle.close(),
      }
    },
    async commitUpload(id, digest) {
      const target = blobFile(digest)
      await mkdir(dirname(target), { recursive: true })
      await rename(join(uploadDir(id), 'data'), target)
      await rm(uploadDir(id), { recursive: true, force: true })
    },
    deleteUpload: (id) => rm(uploadDir(id), { recursive: true, force: true }),
    async listUploads() {
      const ids = await list(at('uploads')) ?? []
      const infos = await Promise.all(ids.map(async (id) => {
        const info = await statUpload(id).catch(() => undefined)
        if (info) return { ...info, id }
        // Left half made by a crash: listed with its directory's age, so gc removes it.
        const dir = await stat(uploadDir(id)).catch(() => undefined)
        return dir && { id, repository: '', startedAt: dir.mtimeMs, size: 0 }
      }))
      return infos.filter((i) => i !== undefined)
    },
  }
}

/** Writes take moments: a file in tmp/ older than this was left by a crash. */
const STALE_TEMP_MS = 60 * 60 * 1000

async function removeStaleTemp(dir: string) {
  for (const name of await readdir(dir)) {
    const path = join(dir, name)
    const info = await stat(path).catch(() => undefined)
    if (info && Date.now() - info.mtimeMs > STALE_TEMP_MS) await rm(path, { force: true })
  }
}

/** Writes every byte of the chunks, going on after short writes. */
async function writeAll(handle: Awaited<ReturnType<typeof open>>, chunks: Uint8Array[]) {
  let left = chunks
  while (left.length) {
    const { bytesWritten } = await handle.writev(left)
    left = skipBytes(left, bytesWritten)
  }
}

function skipBytes(chunks: Uint8Array[], bytes: number): Uint8Array[] {
  const rest: Uint8Array[] = []
  for (const chunk of chunks) {
    if (bytes >= chunk.byteLength) bytes -= chunk.byteLength
    else {
      rest.push(bytes ? chunk.subarray(bytes) : chunk)
      bytes = 0
    }
  }
  return rest
}

function isMissing(err: unknown): boolean {
  const code = (err as { code?: string }).code
  return code === 'ENOENT' || code === 'ENOTDIR'
}
