// Portable hasher: @noble/hashes in pure JavaScript, about 10x slower than native; the fallback
// where node:crypto is missing, and a cross-check of the native one in tests.
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import type { Hasher } from './types.ts'

const IMPLEMENTATIONS = { sha256, sha512 }

/** The pure JavaScript hasher. */
export const nobleHasher: Hasher = {
  name: 'noble',
  create(algorithm) {
    const hash = IMPLEMENTATIONS[algorithm].create()
    return {
      update: (bytes) => void hash.update(bytes),
      hex: () => bytesToHex(hash.digest()),
    }
  },
}
