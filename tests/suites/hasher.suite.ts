// Test vectors every hasher must pass: FIPS 180 examples, chunk boundaries and a 100 MiB input.
import { describe, expect, test } from 'bun:test'
import type { Hasher } from '../../src/crypto/index.ts'
import { blobOf } from '../unit/_image.ts'

const VECTORS: [string, Uint8Array, string][] = [
  ['sha256', new Uint8Array(0), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  [
    'sha256',
    new Uint8Array([0x61]),
    'ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb',
  ],
  [
    'sha256',
    new TextEncoder().encode('abc'),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  ],
  [
    'sha512',
    new TextEncoder().encode('abc'),
    'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
  ],
]

/** Declares the hasher suite for one implementation, checked against `reference` where needed. */
export function describeHasher(hasher: Hasher, reference: Hasher) {
  describe(`${hasher.name} hasher`, () => {
    test.each(VECTORS)('%s of a known input', (algorithm, input, hex) => {
      const state = hasher.create(algorithm as 'sha256' | 'sha512')
      state.update(input)
      expect(state.hex()).toBe(hex)
    })

    test('split at any chunk boundary, the digest is the same', () => {
      const data = blobOf(200, 5)
      const whole = reference.create('sha256')
      whole.update(data)
      const expected = whole.hex()
      for (const size of [1, 3, 55, 56, 63, 64, 65, 127, 128, 199]) {
        const state = hasher.create('sha256')
        for (let i = 0; i < data.length; i += size) state.update(data.subarray(i, i + size))
        expect(state.hex()).toBe(expected)
      }
    })

    test('100 MiB of zeros in 1 MiB chunks', () => {
      const chunk = new Uint8Array(1024 * 1024)
      const state = hasher.create('sha256')
      for (let i = 0; i < 100; i++) state.update(chunk)
      expect(state.hex()).toBe('20492a4d0d84f8beb1767f6616229f85d44c2827b64bdbfb260ee12fa1109e0e')
    })
  })
}
