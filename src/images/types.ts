// What `broken-reg seed` stores in one repository: blobs that stream, manifests held in memory.
// The fixtures (catalog.ts) and the importers (oci-layout.ts, docker-archive.ts) make them.

/** A blob to store: its digest is of the bytes `open()` streams (callers verify it). */
export interface BundleBlob {
  digest: string
  size: number
  open(): ReadableStream<Uint8Array>
}

/** A manifest to store verbatim, under its digest, with its media type as Content-Type. */
export interface BundleManifest {
  digest: string
  mediaType: string
  bytes: Uint8Array
}

/** An image (or index, or artifact) ready to be stored in one repository. */
export interface ImageBundle {
  /** Every blob the manifests reference that should exist (a fixture may leave some out). */
  blobs: BundleBlob[]
  /** Children before parents; the last one is the root that gets tagged. */
  manifests: BundleManifest[]
}
