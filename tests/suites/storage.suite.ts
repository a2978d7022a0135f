// The storage contract, shared by every adapter.
import { describe, expect, test } from 'bun:test'
import type { Storage } from '../../src/storage/index.ts'
import { readAll } from '../../src/util/streams.ts'
import { blobOf, sha256 } from '../unit/_image.ts'

/** Declares the storage suite; `make` returns a fresh, empty store. */
export function describeStorage(label: string, make: () => Promise<Storage>) {
  describe(`${label} storage`, () => {
    test('blobs are content-addressed and shared by repositories', async () => {
      const s = await make()
      const blob = blobOf(3000)
      const digest = sha256(blob)
      expect(await s.statBlob(digest)).toBeUndefined()
      await s.putBlob(digest, blob)
      expect(await s.statBlob(digest)).toBe(3000)
      expect(await s.getBlob(digest)).toEqual(blob)
      expect(await readAll(s.readBlob(digest))).toEqual(blob)
      expect(await readAll(s.readBlob(digest, { start: 10, end: 19 }))).toEqual(
        blob.subarray(10, 20),
      )
      await s.deleteBlob(digest)
      expect(await s.statBlob(digest)).toBeUndefined()
      expect(await s.getBlob(digest)).toBeUndefined()
    })

    test('links tie blobs to repositories', async () => {
      const s = await make()
      const digest = sha256('x')
      expect(await s.isBlobLinked('a/b', digest)).toBe(false)
      await s.linkBlob('a/b', digest)
      expect(await s.isBlobLinked('a/b', digest)).toBe(true)
      expect(await s.isBlobLinked('a', digest)).toBe(false)
      expect(await s.unlinkBlob('a/b', digest)).toBe(true)
      expect(await s.unlinkBlob('a/b', digest)).toBe(false)
    })

    test('manifests, tags and referrers per repository', async () => {
      const s = await make()
      const subject = sha256('subject')
      const m1 = sha256('m1')
      const m2 = sha256('m2')
      await s.putManifest('r', m1, { mediaType: 'x', size: 2 })
      await s.putManifest('r', m2, { mediaType: 'y', size: 2, subject, artifactType: 'a' })
      expect(await s.getManifest('r', m1)).toEqual({ mediaType: 'x', size: 2 })
      expect(await s.getManifest('other', m1)).toBeUndefined()
      expect(await s.listReferrers('r', subject)).toEqual([
        { digest: m2, record: { mediaType: 'y', size: 2, subject, artifactType: 'a' } },
      ])
      await s.setTag('r', 'b', m1)
      await s.setTag('r', 'a', m1)
      await s.setTag('r', 'c', m2)
      expect(await s.listTags('r')).toEqual(['a', 'b', 'c'])
      expect((await s.tagsOf('r', m1)).sort()).toEqual(['a', 'b'])
      expect(await s.getTag('r', 'c')).toBe(m2)
      expect(await s.deleteTag('r', 'c')).toBe(true)
      expect(await s.deleteTag('r', 'c')).toBe(false)
      expect(await s.getTag('r', 'c')).toBeUndefined()
      expect(await s.deleteManifest('r', m1)).toBe(true)
      expect(await s.getManifest('r', m1)).toBeUndefined()
      expect(await s.listTags('nobody')).toBeUndefined()
    })

    test('repositories are listed sorted, nested names included', async () => {
      const s = await make()
      await s.linkBlob('b/c/d', sha256('1'))
      await s.linkBlob('b', sha256('2'))
      await s.putManifest('a', sha256('3'), { mediaType: 'x', size: 1 })
      expect(await s.listRepositories()).toEqual(['a', 'b', 'b/c/d'])
    })

    test('uploads append, report their size, and commit into the blob store', async () => {
      const s = await make()
      const blob = blobOf(2_500_000, 3)
      const id = await s.createUpload('r')
      expect(await s.statUpload(id)).toMatchObject({ repository: 'r', size: 0 })
      const w1 = await s.openUpload(id)
      await w1.write(blob.subarray(0, 1_000_000))
      expect(await w1.close()).toBe(1_000_000)
      const w2 = await s.openUpload(id)
      for (let i = 1_000_000; i < blob.length; i += 65536) {
        await w2.write(blob.subarray(i, Math.min(i + 65536, blob.length)))
      }
      expect(await w2.close()).toBe(blob.length)
      expect(await readAll(s.readUpload(id))).toEqual(blob)
      await s.commitUpload(id, sha256(blob))
      expect(await s.statUpload(id)).toBeUndefined()
      expect(await s.getBlob(sha256(blob))).toEqual(blob)
    })

    test('listings show every blob, link, manifest and upload', async () => {
      const s = await make()
      const blob = blobOf(70)
      await s.putBlob(sha256(blob), blob)
      await s.linkBlob('r', sha256(blob))
      await s.putManifest('r', sha256('m'), { mediaType: 'x', size: 1 })
      const id = await s.createUpload('r')
      expect((await s.listBlobs()).map((b) => [b.digest, b.size])).toEqual([[sha256(blob), 70]])
      expect(await s.listLinks('r')).toEqual([sha256(blob)])
      expect(await s.listManifests('r')).toEqual([sha256('m')])
      expect((await s.listUploads()).map((u) => [u.id, u.repository])).toEqual([[id, 'r']])
    })

    test('access times and blob touches move forward', async () => {
      const s = await make()
      const blob = blobOf(10)
      await s.putBlob(sha256(blob), blob)
      await s.linkBlob('r', sha256(blob))
      const written = (await s.blobModifiedAt(sha256(blob)))!
      const linked = (await s.lastAccess('r', sha256(blob)))!
      expect(written).toBeGreaterThan(0)
      await Bun.sleep(15)
      await s.touchBlob(sha256(blob))
      await s.recordAccess('r', sha256(blob))
      expect(await s.blobModifiedAt(sha256(blob))).toBeGreaterThan(written)
      expect(await s.lastAccess('r', sha256(blob))).toBeGreaterThan(linked)
      expect(await s.lastAccess('r', sha256('none'))).toBeUndefined()
    })

    test('an upload reader sees flushed bytes while the upload grows, and after commit', async () => {
      const s = await make()
      const blob = blobOf(3000, 9)
      const id = await s.createUpload('r')
      const writer = await s.openUpload(id)
      const reader = await s.openUploadReader(id)
      await writer.write(blob.subarray(0, 1000))
      await writer.flush()
      expect(await reader.read(0, 5000)).toEqual(blob.subarray(0, 1000))
      await writer.write(blob.subarray(1000))
      await writer.close()
      await s.commitUpload(id, sha256(blob))
      expect(await reader.read(1000, 5000)).toEqual(blob.subarray(1000))
      await reader.close()
    })

    test('a deleted upload is gone', async () => {
      const s = await make()
      const id = await s.createUpload('r')
      await s.deleteUpload(id)
      expect(await s.statUpload(id)).toBeUndefined()
    })
  })
}
