// Garbage collection over a real store: what is kept, what goes, and --dry-run changing nothing.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { nativeHasher } from '../../../src/crypto/native.ts'
import { collectGarbage, type GcOptions } from '../../../src/registry/gc.ts'
import { storeManifest } from '../../../src/registry/manifests.ts'
import { storeBlobStream } from '../../../src/registry/uploads.ts'
import { createFsStorage } from '../../../src/storage/fs.ts'
import type { Storage } from '../../../src/storage/index.ts'
import { blobOf, bytes, imageManifest } from '../_image.ts'
import { tempDir } from '../_app.ts'

const HOUR = 3_600_000
const LATER = Date.now() + 25 * HOUR
const OPTIONS: GcOptions = {
  untagged: false,
  uploadTtlMs: 24 * HOUR,
  graceMs: HOUR,
  dryRun: false,
  now: LATER,
}

/** A store with every kind of thing gc must tell apart; returns their digests. */
async function buildStore(dir: string) {
  const storage = await createFsStorage(dir)
  const deps = { storage, hasher: nativeHasher, manifestLimit: 4 << 20, validate: true }
  const stream = (b: Uint8Array<ArrayBuffer>) => new Blob([b]).stream()
  async function image(
    name: string,
    seed: number,
    tag: string | undefined,
    origin: 'push' | 'proxy',
  ) {
    const config = bytes(`{"seed":${seed}}`)
    const layer = blobOf(1000, seed)
    await storeBlobStream(deps, name, stream(config))
    await storeBlobStream(deps, name, stream(layer))
    const m = imageManifest(config, [layer])
    await storeManifest(deps, name, m.digest, m.body, {
      mediaType: m.json.mediaType,
      size: m.body.byteLength,
      origin,
    }, tag)
    return { manifest: m.digest, config: m.json.config.digest, layer: m.json.layers[0].digest }
  }
  const kept = await image('broken/prepared/app', 1, 'v1', 'push')
  const untagged = await image('broken/prepared/app', 2, undefined, 'push')
  const proxied = await image('quay.io/team/tool', 3, '1.0', 'proxy')
  const loose = await storeBlobStream(deps, 'broken/prepared/app', stream(blobOf(500, 4)))
  const fresh = await storeBlobStream(deps, 'broken/prepared/app', stream(blobOf(600, 5)))
  const upload = await storage.createUpload('broken/prepared/app')
  // The fresh blob was written "just now" from the collection's point of view.
  const future = new Date(LATER)
  await utimes(
    join(dir, 'blobs', 'sha256', fresh.digest.slice(7, 9), fresh.digest.slice(7)),
    future,
    future,
  )
  await utimes(
    join(dir, 'repositories', 'broken/prepared/app', '_layers', 'sha256', fresh.digest.slice(7)),
    future,
    future,
  )
  return { storage, kept, untagged, proxied, loose: loose.digest, fresh: fresh.digest, upload }
}

const blobTargets = (actions: { kind: string; target: string }[]) =>
  actions.filter((a) => a.kind === 'blob').map((a) => a.target).sort()

describe('collectGarbage()', () => {
  let dir: string
  let remove: () => Promise<void>
  let store: Awaited<ReturnType<typeof buildStore>>
  beforeAll(async () => {
    ;({ dir, remove } = await tempDir())
    store = await buildStore(dir)
  })
  afterAll(() => remove())

  test('--dry-run lists exactly the unreferenced, expired and stale, and changes nothing', async () => {
    const { storage, proxied, loose, upload } = store
    const before = (await storage.listBlobs()).map((b) => b.digest).sort()
    const { actions, bytesFreed } = await collectGarbage(storage, {
      ...OPTIONS,
      dryRun: true,
      maxAgeMs: 24 * HOUR,
    })
    expect(blobTargets(actions)).toEqual(
      [loose, proxied.manifest, proxied.config, proxied.layer].sort(),
    )
    expect(actions.filter((a) => a.kind === 'upload').map((a) => a.target)).toEqual([upload])
    expect(actions.filter((a) => a.kind === 'manifest').map((a) => a.target)).toEqual([
      proxied.manifest,
    ])
    expect(bytesFreed).toBeGreaterThan(1500)
    expect((await storage.listBlobs()).map((b) => b.digest).sort()).toEqual(before)
    expect(await storage.statUpload(upload)).toBeDefined()
  })

  test('without expiry, cached images stay; untagged manifests stay unless --untagged', async () => {
    const { storage, untagged, loose } = store
    const plain = await collectGarbage(storage, { ...OPTIONS, dryRun: true })
    expect(blobTargets(plain.actions)).toEqual([loose])
    const strict = await collectGarbage(storage, { ...OPTIONS, dryRun: true, untagged: true })
    expect(blobTargets(strict.actions)).toEqual(
      [loose, untagged.manifest, untagged.config, untagged.layer].sort(),
    )
  })

  test('--max-size expires the least recently pulled cached images until the store fits', async () => {
    const { storage, proxied } = store
    const { actions } = await collectGarbage(storage, { ...OPTIONS, dryRun: true, maxSize: 1 })
    // Pushed images never expire: only the proxied one goes, however small the limit.
    expect(actions.filter((a) => a.kind === 'manifest').map((a) => a.target)).toEqual([
      proxied.manifest,
    ])
  })

  test('the real run removes that set, and what stays is whole', async () => {
    const { storage, kept, untagged, proxied, loose, fresh, upload } = store
    const { actions } = await collectGarbage(storage, { ...OPTIONS, maxAgeMs: 24 * HOUR })
    expect(blobTargets(actions)).toEqual(
      [loose, proxied.manifest, proxied.config, proxied.layer].sort(),
    )
    const left = new Set((await storage.listBlobs()).map((b) => b.digest))
    for (
      const d of [kept.manifest, kept.config, kept.layer, untagged.manifest, untagged.layer, fresh]
    ) {
      expect(left.has(d)).toBe(true)
    }
    for (const d of [loose, proxied.layer]) expect(left.has(d)).toBe(false)
    expect(await storage.getTag('quay.io/team/tool', '1.0')).toBeUndefined()
    expect(await storage.getTag('broken/prepared/app', 'v1')).toBe(kept.manifest)
    expect(await storage.statUpload(upload)).toBeUndefined()
    const again = await collectGarbage(storage, { ...OPTIONS, maxAgeMs: 24 * HOUR })
    expect(blobTargets(again.actions)).toEqual([])
  })
})

test('gc keeps a blob a push touched after the collection listed it', async () => {
  const { dir, remove } = await tempDir()
  try {
    const storage: Storage = await createFsStorage(dir)
    const deps = { storage, hasher: nativeHasher, manifestLimit: 4 << 20, validate: true }
    const { digest } = await storeBlobStream(
      deps,
      'broken/prepared/x',
      new Blob([blobOf(100)]).stream(),
    )
    const racing: Storage = {
      ...storage,
      // The push happens between the listing and the sweep.
      async listBlobs() {
        const listed = await storage.listBlobs()
        await Bun.sleep(5)
        await storage.touchBlob(digest)
        return listed
      },
    }
    await collectGarbage(racing, { ...OPTIONS, now: Date.now() + 2 * HOUR })
    expect(await storage.statBlob(digest)).toBe(100)
  } finally {
    await remove()
  }
})

test('gc --untagged keeps the referrers of a kept manifest and drops those of a removed one', async () => {
  const { dir, remove } = await tempDir()
  try {
    const storage = await createFsStorage(dir)
    const deps = { storage, hasher: nativeHasher, manifestLimit: 4 << 20, validate: true }
    const name = 'broken/prepared/signed'
    const stream = (b: Uint8Array<ArrayBuffer>) => new Blob([b]).stream()
    const store = async (seed: number, tag?: string, subject?: string) => {
      const config = bytes(`{"n":${seed}}`)
      await storeBlobStream(deps, name, stream(config))
      const extra = subject ? { subject: { mediaType: 'x', digest: subject, size: 1 } } : {}
      const m = imageManifest(config, [], extra)
      const record = { mediaType: m.json.mediaType, size: m.body.byteLength, subject }
      await storeManifest(deps, name, m.digest, m.body, record, tag)
      return m.digest
    }
    const kept = await store(1, 'v1')
    const signature = await store(2, undefined, kept)
    const orphan = await store(3)
    const orphanSignature = await store(4, undefined, orphan)
    const { actions } = await collectGarbage(storage, { ...OPTIONS, untagged: true })
    const removed = actions.filter((a) => a.kind === 'manifest').map((a) => a.target).sort()
    expect(removed).toEqual([orphan, orphanSignature].sort())
    expect(await storage.getManifest(name, signature)).toBeDefined()
  } finally {
    await remove()
  }
})

test('a manifest pushed over an old blob makes the blob and its link recent again', async () => {
  const { dir, remove } = await tempDir()
  try {
    const storage = await createFsStorage(dir)
    const deps = { storage, hasher: nativeHasher, manifestLimit: 4 << 20, validate: true }
    const { createApp } = await import('../../../src/app.ts')
    const { silentLogger } = await import('../../../src/log.ts')
    const app = createApp({ ...deps, log: silentLogger })
    const name = 'broken/prepared/reuse'
    const config = bytes('{}')
    const layer = blobOf(100, 8)
    for (const b of [config, layer]) await storeBlobStream(deps, name, new Blob([b]).stream())
    const old = new Date(Date.now() - 2 * HOUR)
    const hex = sha256Hex(layer)
    await utimes(join(dir, 'blobs', 'sha256', hex.slice(0, 2), hex), old, old)
    await utimes(join(dir, 'repositories', name, '_layers', 'sha256', hex), old, old)
    const m = imageManifest(config, [layer])
    const put = await app.request(`/v2/${name}/manifests/v1`, {
      method: 'PUT',
      headers: { 'Content-Type': m.json.mediaType },
      body: m.body,
    })
    expect(put.status).toBe(201)
    expect(await storage.blobModifiedAt(`sha256:${hex}`)).toBeGreaterThan(Date.now() - HOUR)
    expect(await storage.lastAccess(name, `sha256:${hex}`)).toBeGreaterThan(Date.now() - HOUR)
  } finally {
    await remove()
  }
})

function sha256Hex(b: Uint8Array) {
  return new Bun.CryptoHasher('sha256').update(b).digest('hex')
}
