// The storage interface: content-addressed blobs shared by all repositories, per-repository
// links, manifests and tags, referrers and upload sessions. Adapters return `undefined` for
// "not there" and throw only on real failures; the registry decides what that means to a client.

/** An inclusive byte range, as HTTP `Range` has it. */
export interface ByteRange {
  start: number
  end: number
}

/** What the registry remembers of a manifest pushed to a repository. */
export interface ManifestRecord {
  mediaType: string
  size: number
  /** The digest of the manifest this one refers to (`subject`), for the referrers API. */
  subject?: string
  artifactType?: string
  annotations?: Record<string, string>
  /** How the manifest got here: pushed by a client, cached from an upstream, or generated. */
  origin?: 'push' | 'proxy' | 'generated'
}

/** An upload session in progress. */
export interface UploadInfo {
  repository: string
  size: number
  startedAt: number
}

/** Appends bytes to an upload session; `close` flushes and returns the new size. */
export interface UploadWriter {
  write(chunk: Uint8Array): Promise<void>
  /** Makes everything written so far readable through an UploadReader. */
  flush(): Promise<void>
  close(): Promise<number>
}

/** Reads an upload while it grows; it stays readable after the upload is committed. */
export interface UploadReader {
  /** Up to `length` bytes from `position`; fewer (or none) where the upload ends for now. */
  read(position: number, length: number): Promise<Uint8Array>
  close(): Promise<void>
}

/** A blob of the shared store, as garbage collection sees it. */
export interface BlobEntry {
  digest: string
  size: number
  /** When the blob was last written (its file's mtime), in ms since the epoch. */
  modifiedAt: number
}

/** Where blobs, repositories and upload sessions live. */
export interface Storage {
  readonly kind: 'fs' | 'memory'

  /** The size of a blob in the shared store. */
  statBlob(digest: string): Promise<number | undefined>
  /** Streams a blob (or a range of it); the caller has checked that it exists. */
  readBlob(digest: string, range?: ByteRange): ReadableStream<Uint8Array>
  /** The blob's file, when the adapter keeps one, so a server can send it directly. */
  blobPath(digest: string): string | undefined
  /** Reads a small blob (a manifest or config) whole. */
  getBlob(digest: string): Promise<Uint8Array<ArrayBuffer> | undefined>
  /** Stores a small blob whose digest the caller has verified. */
  putBlob(digest: string, bytes: Uint8Array): Promise<void>
  deleteBlob(digest: string): Promise<void>
  /** Every blob in the shared store. */
  listBlobs(): Promise<BlobEntry[]>
  /** When a blob was last written or touched; gc keeps recent ones. */
  blobModifiedAt(digest: string): Promise<number | undefined>
  /** Marks a blob as used now, so a collection running beside this push keeps it. */
  touchBlob(digest: string): Promise<void>

  linkBlob(repository: string, digest: string): Promise<void>
  isBlobLinked(repository: string, digest: string): Promise<boolean>
  unlinkBlob(repository: string, digest: string): Promise<boolean>
  /** Digests of the blobs linked to a repository. */
  listLinks(repository: string): Promise<string[]>

  putManifest(repository: string, digest: string, record: ManifestRecord): Promise<void>
  getManifest(repository: string, digest: string): Promise<ManifestRecord | undefined>
  deleteManifest(repository: string, digest: string): Promise<boolean>
  /** Digests of every manifest of a repository, tagged or not. */
  listManifests(repository: string): Promise<string[]>
  /** Digests of the manifests in a repository whose `subject` is the given digest. */
  listReferrers(
    repository: string,
    subject: string,
  ): Promise<{ digest: string; record: ManifestRecord }[]>

  setTag(repository: string, tag: string, digest: string): Promise<void>
  getTag(repository: string, tag: string): Promise<string | undefined>
  deleteTag(repository: string, tag: string): Promise<boolean>
  /** Tags of a repository, sorted; `undefined` when the repository does not exist. */
  listTags(repository: string): Promise<string[] | undefined>
  /** Tags of a repository that point at a digest. */
  tagsOf(repository: string, digest: string): Promise<string[]>
  /** Every repository holding at least one manifest or blob, sorted. */
  listRepositories(): Promise<string[]>
  /** Notes that a repository's manifest or blob was pulled now. */
  recordAccess(repository: string, digest: string): Promise<void>
  /** When a repository's manifest or blob was last pulled (or stored), in ms since the epoch. */
  lastAccess(repository: string, digest: string): Promise<number | undefined>

  createUpload(repository: string): Promise<string>
  statUpload(id: string): Promise<UploadInfo | undefined>
  openUpload(id: string): Promise<UploadWriter>
  readUpload(id: string): ReadableStream<Uint8Array>
  openUploadReader(id: string): Promise<UploadReader>
  /** Moves a finished upload into the blob store under its verified digest. */
  commitUpload(id: string, digest: string): Promise<void>
  deleteUpload(id: string): Promise<void>
  /** Every upload session in progress, with its id. */
  listUploads(): Promise<(UploadInfo & { id: string })[]>
}
