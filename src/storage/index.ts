// Picks the storage adapter the configuration names.
import type { Storage } from './types.ts'

export type {
  ByteRange,
  ManifestRecord,
  Storage,
  UploadInfo,
  UploadReader,
  UploadWriter,
} from './types.ts'

/** Opens the configured store: `fs` under `dataDir`, or `memory`. */
export async function openStorage(kind: 'fs' | 'memory', dataDir: string): Promise<Storage> {
  if (kind === 'memory') return (await import('./memory.ts')).createMemoryStorage()
  return (await import('./fs.ts')).createFsStorage(dataDir)
}
