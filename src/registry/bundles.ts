// Stores an ImageBundle (a fixture, an imported OCI layout or docker archive) in a repository:
// blobs verified against their digests, manifests kept byte for byte, the root tagged.
import type { ImageBundle } from '../images/types.ts'
import type { ManifestRecord } from '../storage/index.ts'
import { digestOf } from './digest.ts'
import { RegistryError } from './errors.ts'
import { storeManifest } from './manifests.ts'
import type { ManifestJson, RegistryDeps } from './types.ts'
import { storeBlobStream } from './uploads.ts'

/** Stores a bundle; `onBytes` hears of blob bytes as they are written. */
export async function storeBundle(
  deps: RegistryDeps,
  name: string,
  tag: string,
  bundle: ImageBundle,
  onBytes: (n: number) => void = () => {},
): Promise<string> {
  for (const blob of bundle.blobs) {
    if (await deps.storage.statBlob(blob.digest) !== undefined) {
      await deps.storage.linkBlob(name, blob.digest)
      onBytes(blob.size)
      continue
    }
    const counted = blob.open().pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          onBytes(chunk.byteLength)
          controller.enqueue(chunk)
        },
      }),
    )
    await storeBlobStream(deps, name, counted, blob.digest)
  }
  const root = bundle.manifests.at(-1)
  if (!root) throw new RegistryError('MANIFEST_INVALID', { message: 'The image has no manifest' })
  for (const manifest of bundle.manifests) {
    const digest = digestOf(deps.hasher, manifest.bytes)
    if (digest !== manifest.digest) {
      throw new RegistryError('DIGEST_INVALID', {
        message: `Manifest has digest ${digest}, not ${manifest.digest}`,
      })
    }
    const record: ManifestRecord = {
      ...referrerFields(manifest.bytes),
      mediaType: manifest.mediaType,
      size: manifest.bytes.byteLength,
      origin: 'push',
    }
    await storeManifest(
      deps,
      name,
      digest,
      manifest.bytes,
      record,
      manifest === root ? tag : undefined,
    )
  }
  return root.digest
}

/** `subject` and `artifactType` of a manifest, for the referrers API; none if it is not JSON. */
export function referrerFields(
  bytes: Uint8Array,
): Pick<ManifestRecord, 'subject' | 'artifactType'> {
  try {
    const json: ManifestJson | null = JSON.parse(new TextDecoder().decode(bytes))
    const subject = typeof json?.subject?.digest === 'string' ? json.subject.digest : undefined
    const artifactType = json?.artifactType ?? json?.config?.mediaType
    return {
      ...(subject && { subject }),
      ...(typeof artifactType === 'string' && { artifactType }),
    }
  } catch {
    return {}
  }
}
