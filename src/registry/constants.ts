// Header names, media types and grammars of the OCI Distribution and Image specs, in one place.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md

export const HEADER = {
  apiVersion: 'Docker-Distribution-API-Version',
  contentDigest: 'Docker-Content-Digest',
  uploadUuid: 'Docker-Upload-UUID',
  ociSubject: 'OCI-Subject',
  ociFiltersApplied: 'OCI-Filters-Applied',
} as const

export const API_VERSION = 'registry/2.0'

export const MEDIA_TYPE = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  octetStream: 'application/octet-stream',
  json: 'application/json',
} as const

/** The media types of each image format, by role and layer compression. */
export const IMAGE_TYPES = {
  docker: {
    manifest: MEDIA_TYPE.dockerManifest,
    index: MEDIA_TYPE.dockerManifestList,
    config: 'application/vnd.docker.container.image.v1+json',
    gzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
    none: 'application/vnd.docker.image.rootfs.diff.tar',
    // Docker's schema defines no zstd layer type, so the OCI one stands in (Docker 25+ does so).
    zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
    foreign: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  },
  oci: {
    manifest: MEDIA_TYPE.ociManifest,
    index: MEDIA_TYPE.ociIndex,
    config: 'application/vnd.oci.image.config.v1+json',
    gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
    none: 'application/vnd.oci.image.layer.v1.tar',
    zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  },
} as const

/** Manifests whose config and layers must exist before the manifest is accepted. */
export const IMAGE_MANIFEST_TYPES: ReadonlySet<string> = new Set([
  MEDIA_TYPE.ociManifest,
  MEDIA_TYPE.dockerManifest,
])

/** Manifests that list other manifests; their children may be absent (sparse indexes). */
export const INDEX_MANIFEST_TYPES: ReadonlySet<string> = new Set([
  MEDIA_TYPE.ociIndex,
  MEDIA_TYPE.dockerManifestList,
])

/** Every manifest media type the registry stores and serves. */
export const MANIFEST_TYPES: ReadonlySet<string> = new Set([
  ...IMAGE_MANIFEST_TYPES,
  ...INDEX_MANIFEST_TYPES,
  MEDIA_TYPE.dockerSchema1,
  MEDIA_TYPE.dockerSchema1Signed,
])

/** Repository name: path components of lowercase alphanumerics joined by separators. */
export const NAME_PATTERN =
  /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/
export const NAME_MAX_LENGTH = 255
export const TAG_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/
/** Digests this registry can verify; other well-formed algorithms are refused as unsupported. */
export const DIGEST_PATTERN = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/
/** The digest grammar of the image spec, to tell "unsupported" from "malformed". */
export const ANY_DIGEST_PATTERN = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/

/** Repositories that accept pushes: this one and every repository below it. */
export const PREPARED_REPOSITORY = 'broken/prepared'

/** The default limit on a pushed manifest's size, as most registries set it. */
export const DEFAULT_MANIFEST_LIMIT = 4 * 1024 * 1024

/** A JSON response with an exact Content-Length, so logs and clients see its size. */
export function jsonResponse(
  value: unknown,
  status = 200,
  headers: Record<string, string> = {},
  contentType: string = MEDIA_TYPE.json,
): Response {
  const body = new TextEncoder().encode(JSON.stringify(value))
  return new Response(body, {
    status,
    headers: { 'Content-Type': contentType, ...headers, 'Content-Length': String(body.byteLength) },
  })
}
