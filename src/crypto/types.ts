// The hasher interface: incremental digests of streamed bytes, behind one small type so the
// native and the portable implementation are interchangeable and share one test suite.

/** The digest algorithms the OCI image spec registers. */
export type Algorithm = 'sha256' | 'sha512'

/** An incremental digest computation. */
export interface HashState {
  update(bytes: Uint8Array): void
  /** Lowercase hex of the digest; the state cannot be used afterwards. */
  hex(): string
}

/** Creates incremental digest computations. */
export interface Hasher {
  readonly name: 'native' | 'noble'
  create(algorithm: Algorithm): HashState
}
