// Both hashers against the same vectors, and the loader's choice.
import { expect, test } from 'bun:test'
import { loadHasher } from '../../../src/crypto/index.ts'
import { nativeHasher } from '../../../src/crypto/native.ts'
import { nobleHasher } from '../../../src/crypto/noble.ts'
import { describeHasher } from '../../suites/hasher.suite.ts'

describeHasher(nativeHasher, nobleHasher)
describeHasher(nobleHasher, nativeHasher)

test('loadHasher() picks native by default and noble on request', async () => {
  expect((await loadHasher()).name).toBe('native')
  expect((await loadHasher('noble')).name).toBe('noble')
})
