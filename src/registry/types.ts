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
