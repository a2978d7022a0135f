// What the registry's handlers need: injected adapters and the settings that shape answers.
import type { Hasher } from '../crypto/index.ts'
import type { Storage } from '../storage/index.ts'

/** The dependencies of every registry handler. */
export interface RegistryDeps {
  storage: Storage
  hasher: Hasher
  /** Largest manifest accepted by PUT, in bytes. */
  manifestLimit: number
  /** Whether pushed manifests are checked (JSON, media type, referenced blobs). */
  validate: boolean
}

/**
 * What a manifest's JSON may hold, as far as this project reads it. It is parsed from bytes that
 * clients, layouts and upstreams send, so any field may be missing or of another type.
 */
export interface ManifestJson {
  schemaVersion?: number
  mediaType?: string
  artifactType?: string
  config?: Descriptor
  layers?: Descriptor[]
  manifests?: Descriptor[]
  /** Artifact manifests (application/vnd.oci.artifact.manifest.v1+json). */
  blobs?: Descriptor[]
  subject?: Descriptor
  annotations?: Record<string, string>
  /** Docker schema 1. */
  fsLayers?: { blobSum?: string }[]
}

/** A content descriptor inside a manifest's JSON; as untrusted as the rest of it. */
export interface Descriptor {
  mediaType?: string
  digest?: string
  size?: number
  urls?: string[]
  annotations?: Record<string, string>
}
