// Digests: parsing, checking and computing them over bytes and streams.
// https://github.com/opencontainers/image-spec/blob/v1.1.0/descriptor.md#digests
import type { Algorithm, Hasher } from '../crypto/index.ts'
import { ANY_DIGEST_PATTERN, DIGEST_PATTERN } from './constants.ts'
import { RegistryError } from './errors.ts'

/** Checks a digest string, throwing DIGEST_INVALID for a malformed or unsupported one. */
export function parseDigest(value: string | undefined): { digest: string; algorithm: Algorithm } {
  if (value && DIGEST_PATTERN.test(value)) {
    return { digest: value, algorithm: value.slice(0, value.indexOf(':')) as Algorithm }
  }
  const problem = !value
    ? 'A digest is required'
    : ANY_DIGEST_PATTERN.test(value)
    ? `Unsupported digest "${value}": use sha256 or sha512`
    : `Invalid digest "${value}"`
  throw new RegistryError('DIGEST_INVALID', { message: problem, detail: { digest: value ?? null } })
}

/** Whether a string is a digest (rather than a tag). */
export const isDigest = (reference: string): boolean => reference.includes(':')

/** The digest of bytes held in memory. */
export function digestOf(hasher: Hasher, bytes: Uint8Array, algorithm: Algorithm = 'sha256') {
  const state = hasher.create(algorithm)
  state.update(bytes)
  return `${algorithm}:${state.hex()}`
}

/** The digest of a stream, read to its end. */
export async function digestOfStream(
  hasher: Hasher,
  stream: ReadableStream<Uint8Array>,
  algorithm: Algorithm = 'sha256',
): Promise<string> {
  const state = hasher.create(algorithm)
  for await (const chunk of stream) state.update(chunk)
  return `${algorithm}:${state.hex()}`
}
