// The filesystem adapter against the shared storage suite, plus what only it promises.
import { afterAll, expect, test } from 'bun:test'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createFsStorage } from '../../../src/storage/fs.ts'
import { describeStorage } from '../../suites/storage.suite.ts'
import { blobOf, sha256 } from '../_image.ts'
import { tempDir } from '../_app.ts'

const dirs: (() => Promise<void>)[] = []
afterAll(() => Promise.all(dirs.map((remove) => remove())))
const fresh = async () => {
  const { dir, remove } = await tempDir()
  dirs.push(remove)
  return dir
}

describeStorage('fs', async () => createFsStorage(await fresh()))

test('fs storage keeps blobs on disk and leaves no temporary files behind', async () => {
  const dir = await fresh()
  const s = await createFsStorage(dir)
  const blob = blobOf(100)
  await s.putBlob(sha256(blob), blob)
  await s.setTag('r', 't', sha256(blob))
  const hex = sha256(blob).slice(7)
  expect(await readdir(join(dir, 'blobs', 'sha256', hex.slice(0, 2)))).toEqual([hex])
  expect(await readdir(join(dir, 'tmp'))).toEqual([])
  expect(await (await createFsStorage(dir)).getTag('r', 't')).toBe(sha256(blob))
})

test('fs storage refuses paths outside its directory', async () => {
  const s = await createFsStorage(await fresh())
  const attempt = Promise.resolve().then(() => s.linkBlob('../../escape', sha256('x')))
  await expect(attempt).rejects.toThrow('escapes the data directory')
})

test('an upload directory left half made is listed, so gc can remove it', async () => {
  const dir = await fresh()
  const s = await createFsStorage(dir)
  const { mkdir } = await import('node:fs/promises')
  await mkdir(join(dir, 'uploads', 'crashed'), { recursive: true })
  expect((await s.listUploads()).map((u) => u.id)).toEqual(['crashed'])
})

test('files a crash left in tmp/ are removed when the store is opened, fresh ones stay', async () => {
  const dir = await fresh()
  await createFsStorage(dir)
  const { utimes, writeFile, readdir: list } = await import('node:fs/promises')
  await writeFile(join(dir, 'tmp', 'old'), 'x')
  await writeFile(join(dir, 'tmp', 'new'), 'x')
  const old = new Date(Date.now() - 2 * 3600_000)
  await utimes(join(dir, 'tmp', 'old'), old, old)
  await createFsStorage(dir)
  expect(await list(join(dir, 'tmp'))).toEqual(['new'])
})
