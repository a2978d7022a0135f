// Picks a hasher: native when node:crypto loads, else noble; `--hasher` overrides.
import type { Hasher } from './types.ts'

export type { Algorithm, Hasher, HashState } from './types.ts'

/** Loads the named hasher, or the best one available. */
export async function loadHasher(name?: 'native' | 'noble'): Promise<Hasher> {
  if (name === 'noble') return (await import('./noble.ts')).nobleHasher
  try {
    return (await import('./native.ts')).nativeHasher
  } catch (err) {
    if (name === 'native') throw err
    return (await import('./noble.ts')).nobleHasher
  }
}
