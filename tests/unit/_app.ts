// Builds an in-process app over a chosen storage and hasher, for app.request() tests.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../../src/app.ts'
import { nativeHasher } from '../../src/crypto/native.ts'
import { nobleHasher } from '../../src/crypto/noble.ts'
import { silentLogger } from '../../src/log.ts'
import { openStorage } from '../../src/storage/index.ts'

export const HASHERS = { native: nativeHasher, noble: nobleHasher }

/** A fresh temporary directory, removed by the returned function. */
export async function tempDir(prefix = 'broken-reg-test-') {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

/** An app over `storage` in `dir` (ignored for memory). */
export async function makeApp(
  storage: 'fs' | 'memory',
  dir: string,
  options: { hasher?: keyof typeof HASHERS; manifestLimit?: number; validate?: boolean } = {},
) {
  return createApp({
    storage: await openStorage(storage, dir),
    hasher: HASHERS[options.hasher ?? 'native'],
    log: silentLogger,
    manifestLimit: options.manifestLimit ?? 4 * 1024 * 1024,
    validate: options.validate ?? true,
  })
}
