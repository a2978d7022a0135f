// Stores a generated random image in a scenario's repository under a tag: layers stream from
// the generator into the blob store while being hashed, then config, manifests and the index.
import {
  type BlobRef,
  imageConfig,
  imageIndex,
  imageManifest,
  type RandomImageSpec,
  randomLayer,
} from '../images/random.ts'
import { digestOf } from '../registry/digest.ts'
import { storeManifest } from '../registry/manifests.ts'
import type { RegistryDeps } from '../registry/types.ts'
import { storeBlobStream } from '../registry/uploads.ts'

/** Generates and stores the image unless the tag already exists; concurrent calls share work. */
export function createGenerator(deps: RegistryDeps) {
  const inFlight = new Map<string, Promise<void>>()

  async function storeJson(name: string, doc: { mediaType: string; bytes: Uint8Array }) {
    const digest = digestOf(deps.hasher, doc.bytes)
    await deps.storage.putBlob(digest, doc.bytes)
    await deps.storage.linkBlob(name, digest)
    return { mediaType: doc.mediaType, digest, size: doc.bytes.byteLength }
  }

  async function storeImage(name: string, spec: RandomImageSpec, platform: number) {
    const layers: BlobRef[] = []
    const diffIds: string[] = []
    for (let index = 0; index < spec.layers; index++) {
      const layer = randomLayer(spec, platform, index, deps.hasher)
      const { digest, size } = await storeBlobStream(deps, name, layer.stream())
      layers.push({ mediaType: layer.mediaType, digest, size })
      diffIds.push(await layer.diffId())
    }
    const config = await storeJson(name, imageConfig(spec, platform, diffIds))
    const manifest = imageManifest(spec, config, layers)
    const digest = digestOf(deps.hasher, manifest.bytes)
    const record = {
      mediaType: manifest.mediaType,
      size: manifest.bytes.byteLength,
      origin: 'generated' as const,
    }
    await storeManifest(deps, name, digest, manifest.bytes, record)
    return { ...record, digest }
  }

  async function store(name: string, tag: string, spec: RandomImageSpec) {
    if (await deps.storage.getTag(name, tag)) return
    if (spec.platforms === 0) {
      const image = await storeImage(name, spec, 0)
      await deps.storage.setTag(name, tag, image.digest)
      return
    }
    const manifests = []
    for (let platform = 0; platform < spec.platforms; platform++) {
      manifests.push({ ...await storeImage(name, spec, platform), platform })
    }
    const index = imageIndex(spec, manifests)
    const digest = digestOf(deps.hasher, index.bytes)
    const record = {
      mediaType: index.mediaType,
      size: index.bytes.byteLength,
      origin: 'generated' as const,
    }
    await storeManifest(deps, name, digest, index.bytes, record, tag)
  }

  return (name: string, tag: string, spec: RandomImageSpec): Promise<void> => {
    const key = `${name}:${tag}`
    let work = inFlight.get(key)
    if (!work) {
      work = store(name, tag, spec).finally(() => inFlight.delete(key))
      inFlight.set(key, work)
    }
    return work
  }
}
