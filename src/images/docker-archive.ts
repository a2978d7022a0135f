// Imports a `docker save` or `skopeo copy … docker-archive:FILE` tarball as a docker v2 image. A
// small tar reader (ustar, pax, GNU long names, links) indexes the entries, so layers stream from
// their byte range in the file and a multi-GiB archive never sits in memory.
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { posix } from 'node:path'
import { IMAGE_TYPES, MEDIA_TYPE } from '../registry/constants.ts'
import { fileStream } from '../util/streams.ts'
import type { BundleBlob, ImageBundle } from './types.ts'

const CONFIG_TYPE = IMAGE_TYPES.docker.config
const LAYER_TYPES = IMAGE_TYPES.docker
const BLOCK = 512
// For the JSON entries read into memory (manifest.json, configs) and pax/GNU name records.
const SMALL_ENTRY_LIMIT = 64 * 1024 * 1024

/** One file in the tarball: where its content starts and how long it is. */
interface TarEntry {
  name: string
  /** '0' regular file, '1' hard link, '2' symbolic link, '5' directory, … */
  type: string
  offset: number
  size: number
  linkname: string
}

/** An entry of manifest.json; Docker writes more fields, which the image does not need. */
interface ArchiveImage {
  Config?: unknown
  RepoTags?: unknown
  Layers?: unknown
}

type FileHandle = Awaited<ReturnType<typeof open>>

/**
 * The image of a docker-archive tarball (the one named `ref` in its RepoTags when it holds more):
 * its config, its layers as they are in the archive (uncompressed tars, whose digest is their
 * diff_id) and a docker v2 manifest over them.
 */
export async function readDockerArchive(path: string, ref?: string): Promise<ImageBundle> {
  const handle = await open(path, 'r')
  try {
    const entries = await indexTar(handle, path)
    if (!entries.has('manifest.json')) {
      throw new Error(`${path} is not a docker archive: it has no manifest.json`)
    }
    const listing = await readEntry(handle, resolve(entries, 'manifest.json', path), path)
    const image = pickImage(parseJson(listing, 'manifest.json', path), path, ref)
    const configEntry = resolve(entries, String(image.Config), path)
    const configBytes = await readEntry(handle, configEntry, path)
    const config = blobOf(path, configEntry, sha256(configBytes))
    const layers: { blob: BundleBlob; mediaType: string }[] = []
    for (const name of image.Layers as string[]) {
      const entry = resolve(entries, name, path)
      const magic = await readRange(handle, entry.offset, Math.min(4, entry.size), path)
      const mediaType = LAYER_TYPES[compressionOf(magic)]
      // Docker 25+ names layers by digest; older archives need a pass over each layer.
      const named = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/.exec(name)
      const digest = named ? `${named[1]}:${named[2]}` : await hashRange(path, entry)
      layers.push({ blob: blobOf(path, entry, digest), mediaType })
    }
    const manifest = new TextEncoder().encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.dockerManifest,
      config: { mediaType: CONFIG_TYPE, size: config.size, digest: config.digest },
      layers: layers.map(({ blob, mediaType }) => ({
        mediaType,
        size: blob.size,
        digest: blob.digest,
      })),
    }))
    const blobs = new Map([config, ...layers.map((l) => l.blob)].map((b) => [b.digest, b]))
    return {
      blobs: [...blobs.values()],
      manifests: [{
        digest: sha256(manifest),
        mediaType: MEDIA_TYPE.dockerManifest,
        bytes: manifest,
      }],
    }
  } finally {
    await handle.close()
  }
}

/** The manifest.json entry to import, or an Error that lists the RepoTags to choose from. */
function pickImage(manifest: unknown, path: string, ref: string | undefined): ArchiveImage {
  if (!Array.isArray(manifest) || manifest.length === 0) {
    throw new Error(`manifest.json in ${path} lists no images`)
  }
  const images = manifest as ArchiveImage[]
  const tagsOf = (image: ArchiveImage) =>
    Array.isArray(image.RepoTags) ? image.RepoTags.map(String) : []
  const choices = images.map((image, i) => tagsOf(image).join(' ') || `#${i} (untagged)`)
  let image: ArchiveImage | undefined
  if (ref === undefined) {
    if (images.length > 1) {
      throw new Error(`${path} holds ${images.length} images: name one of ${choices.join(', ')}`)
    }
    image = images[0]
  } else {
    image = images.find((i) => tagsOf(i).some((tag) => normalizeTag(tag) === normalizeTag(ref)))
    if (!image) throw new Error(`${path} has no image "${ref}": it has ${choices.join(', ')}`)
  }
  if (typeof image.Config !== 'string' || !Array.isArray(image.Layers)) {
    throw new Error(`manifest.json in ${path} has an image without Config or Layers`)
  }
  if (!image.Layers.every((layer) => typeof layer === 'string')) {
    throw new Error(`manifest.json in ${path} has a layer path that is not a string`)
  }
  return image
}

/** `busybox`, `library/busybox:latest` and `docker.io/library/busybox:latest` are one name. */
function normalizeTag(tag: string): string {
  const name = tag.replace(/^(docker\.io|index\.docker\.io)\//, '').replace(/^library\//, '')
  return /:[\w][\w.-]*$/.test(name.slice(name.lastIndexOf('/') + 1)) ? name : `${name}:latest`
}

function compressionOf(magic: Uint8Array): keyof typeof LAYER_TYPES {
  if (magic[0] === 0x1f && magic[1] === 0x8b) return 'gzip'
  if (magic[0] === 0x28 && magic[1] === 0xb5 && magic[2] === 0x2f && magic[3] === 0xfd) {
    return 'zstd'
  }
  return 'none'
}

function blobOf(path: string, entry: TarEntry, digest: string): BundleBlob {
  const { offset, size } = entry
  return { digest, size, open: () => fileStream(path, offset, offset + size - 1) }
}

async function hashRange(path: string, { offset, size }: TarEntry): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of fileStream(path, offset, offset + size - 1)) hash.update(chunk)
  return `sha256:${hash.digest('hex')}`
}

function parseJson(bytes: Uint8Array, name: string, path: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes))
  } catch (err) {
    throw new Error(`${name} in ${path} is not JSON: ${(err as Error).message}`)
  }
}

/** Follows hard and symbolic links (skopeo links `<id>/layer.tar` to `<hex>.tar`). */
function resolve(entries: Map<string, TarEntry>, name: string, path: string): TarEntry {
  let current = normalizeName(name)
  for (let hops = 0; hops < 16; hops++) {
    const entry = entries.get(current)
    if (!entry) throw new Error(`${path} has no entry "${current}" (from "${name}")`)
    if (entry.type === '1') current = normalizeName(entry.linkname)
    else if (entry.type === '2') {
      current = normalizeName(posix.join(posix.dirname(current), entry.linkname))
    } else if (entry.type === '0' || entry.type === '7') return entry
    else throw new Error(`"${current}" in ${path} is not a file (tar type ${entry.type})`)
  }
  throw new Error(`"${name}" in ${path} is a chain of too many links`)
}

function normalizeName(name: string): string {
  return posix.normalize(name).replace(/^(\.\/)+|^\/+|\/+$/g, '')
}

/**
 * Reads every header of an uncompressed tar: ustar with its name prefix, pax extended headers
 * (path, linkpath, size) and GNU long names and links ('L', 'K'). Later entries of the same name
 * replace earlier ones, as extraction would.
 */
async function indexTar(handle: FileHandle, path: string): Promise<Map<string, TarEntry>> {
  const entries = new Map<string, TarEntry>()
  const { size: fileSize } = await handle.stat()
  let position = 0
  let pending: { path?: string; linkpath?: string; size?: number } = {}
  while (position + BLOCK <= fileSize) {
    const header = await readRange(handle, position, BLOCK, path)
    if (header.every((byte) => byte === 0)) break
    checkHeader(header, position, path)
    const type = header[156] === 0 ? '0' : String.fromCharCode(header[156])
    const text = (from: number, length: number) => cString(header.subarray(from, from + length))
    const ustar = text(257, 6) === 'ustar' && header[262] === 0 // POSIX; GNU has 'ustar  '
    const prefix = ustar ? text(345, 155) : ''
    const offset = position + BLOCK
    const meta = type === 'x' || type === 'g' || type === 'L' || type === 'K'
    // A pax size (for files of 8 GiB and more) applies to the next file, not to other headers.
    const size = (meta ? undefined : pending.size) ??
      numeric(header.subarray(124, 136), position, path)
    position = offset + Math.ceil(size / BLOCK) * BLOCK
    if (position > fileSize) throw new Error(`${path} is truncated: an entry ends past its end`)
    if (type === 'x' || type === 'L' || type === 'K') {
      if (size > SMALL_ENTRY_LIMIT) throw new Error(`${path} has a tar header of ${size} bytes`)
      const data = await readRange(handle, offset, size, path)
      if (type === 'x') pending = { ...pending, ...parsePax(data, path) }
      else if (type === 'L') pending.path = cString(data)
      else pending.linkpath = cString(data)
      continue
    }
    if (type === 'g') continue // global pax headers: nothing in them changes where files are
    const name = pending.path ?? (prefix ? `${prefix}/${text(0, 100)}` : text(0, 100))
    const linkname = pending.linkpath ?? text(157, 100)
    pending = {}
    entries.set(normalizeName(name), { name, type, offset, size, linkname })
  }
  return entries
}

function checkHeader(header: Uint8Array, position: number, path: string) {
  let unsigned = 0
  let signed = 0
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : header[i]
    unsigned += byte
    signed += byte > 127 ? byte - 256 : byte
  }
  const stored = parseInt(cString(header.subarray(148, 156)).trim(), 8)
  if (stored === unsigned || stored === signed) return
  if (position > 0) throw new Error(`${path} has a corrupt tar header at byte ${position}`)
  const gzip = header[0] === 0x1f && header[1] === 0x8b
  throw new Error(
    gzip ? `${path} is compressed: decompress it first` : `${path} is not a tar archive`,
  )
}

/** A tar number: octal text, or GNU base-256 when the high bit of the first byte is set. */
function numeric(field: Uint8Array, position: number, path: string): number {
  if (field[0] & 0x80) {
    let value = field[0] & 0x7f
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]
    return value
  }
  const text = cString(field).trim()
  const value = text === '' ? 0 : parseInt(text, 8)
  if (!/^[0-7]*$/.test(text) || !Number.isSafeInteger(value)) {
    throw new Error(`${path} has an invalid size "${text}" at byte ${position}`)
  }
  return value
}

/** The records of a pax extended header (`<length> <key>=<value>\n`) that locate a file. */
function parsePax(
  data: Uint8Array,
  path: string,
): { path?: string; linkpath?: string; size?: number } {
  const out: { path?: string; linkpath?: string; size?: number } = {}
  const decoder = new TextDecoder()
  let at = 0
  while (at < data.length && data[at] !== 0) {
    const space = data.indexOf(0x20, at)
    const length = space < 0 ? NaN : Number(decoder.decode(data.subarray(at, space)))
    if (!(length > 0) || at + length > data.length) {
      throw new Error(`${path} has a malformed pax header record at offset ${at}`)
    }
    const record = decoder.decode(data.subarray(space + 1, at + length - 1))
    const equals = record.indexOf('=')
    const key = record.slice(0, equals)
    const value = record.slice(equals + 1)
    if (key === 'path') out.path = value
    else if (key === 'linkpath') out.linkpath = value
    else if (key === 'size') out.size = Number(value)
    at += length
  }
  return out
}

function readEntry(handle: FileHandle, entry: TarEntry, path: string): Promise<Uint8Array> {
  if (entry.size > SMALL_ENTRY_LIMIT) {
    throw new Error(`${entry.name} in ${path} is ${entry.size} bytes: too large for JSON`)
  }
  return readRange(handle, entry.offset, entry.size, path)
}

async function readRange(handle: FileHandle, position: number, length: number, path: string) {
  const bytes = new Uint8Array(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await handle.read(bytes, done, length - done, position + done)
    if (bytesRead === 0) throw new Error(`${path} ended at byte ${position + done}`)
    done += bytesRead
  }
  return bytes
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0)
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end))
}

const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`
