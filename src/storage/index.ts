// Picks the storage adapter the configuration names.
import type { Storage } from './types.ts'

export type {
  BlobEntry,
  ByteRange,
  ManifestRecord,
  Storage,
  UploadInfo,
  UploadReader,
  UploadWriter,
} from './types.ts'

/** Opens the configured store: `fs` under `dataDir` (behind a short read cache), or `memory`. */
export async function openStorage(kind: 'fs' | 'memory', dataDir: string): Promise<Storage> {
  if (kind === 'memory') return (await import('./memory.ts')).createMemoryStorage()
  const { withReadCache } = await import('./cached.ts')
  return withReadCache(await (await import('./fs.ts')).createFsStorage(dataDir))
}
