// The OCI Distribution API, endpoint by endpoint, success and failure, against any way of
// sending a request: in process (`app.request`) or over a socket to a running server.
import { describe, expect, test } from 'bun:test'
import { blobOf, bytes, imageManifest, sha256 } from '../unit/_image.ts'

/** Sends one request to the registry under test; `path` starts with `/`. */
export type Send = (path: string, init?: RequestInit) => Promise<Response>

const REPO = 'broken/prepared/suite'
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'

/** The error code of an OCI error body. */
async function errorCode(res: Response) {
  const body = await res.json() as { errors: { code: string; message: string }[] }
  expect(body.errors).toHaveLength(1)
  expect(typeof body.errors[0].message).toBe('string')
  return body.errors[0].code
}

/** Declares the API suite; `getSend` is called inside tests, after setup has run. */
export function describeRegistryApi(
  label: string,
  getSend: () => Send,
  opts: { manifestLimit?: number } = {},
) {
  const send: Send = (path, init) => getSend()(path, init)
  let counter = 0
  const repo = () => `${REPO}/r${++counter}`

  async function pushBlob(name: string, blob: Uint8Array<ArrayBuffer>) {
    const res = await send(`/v2/${name}/blobs/uploads/?digest=${sha256(blob)}`, {
      method: 'POST',
      body: blob,
    })
    expect(res.status).toBe(201)
    return sha256(blob)
  }
  async function pushImage(name: string, tag: string, layerCount = 2, extra: object = {}) {
    const config = bytes(JSON.stringify({ architecture: 'amd64', os: 'linux', n: counter }))
    const layers = Array.from({ length: layerCount }, (_, i) => blobOf(1000 + i, counter * 10 + i))
    for (const blob of [config, ...layers]) await pushBlob(name, blob)
    const manifest = imageManifest(config, layers, extra)
    const res = await send(`/v2/${name}/manifests/${tag}`, {
      method: 'PUT',
      headers: { 'Content-Type': OCI_MANIFEST },
      body: manifest.body,
    })
    expect(res.status).toBe(201)
    return { ...manifest, config, layers, res }
  }
  async function startUpload(name: string) {
    const res = await send(`/v2/${name}/blobs/uploads/`, { method: 'POST' })
    expect(res.status).toBe(202)
    return res.headers.get('Location')!
  }

  describe(`${label}: base and routing`, () => {
    test('GET /v2/ answers 200 with the API version header', async () => {
      const res = await send('/v2/')
      expect(res.status).toBe(200)
      expect(res.headers.get('Docker-Distribution-API-Version')).toBe('registry/2.0')
      expect(await res.json()).toEqual({})
    })
    test('an unknown path under /v2/ is a 404 with an OCI error body', async () => {
      const res = await send('/v2/nothing-here')
      expect(res.status).toBe(404)
      expect(await errorCode(res)).toBe('NOT_FOUND')
    })
    test('a name outside the grammar is NAME_INVALID', async () => {
      for (const name of ['broken/prepared/UPPER', 'broken/prepared/a..b', 'broken/prepared/-x']) {
        const res = await send(`/v2/${name}/tags/list`)
        expect(res.status).toBe(400)
        expect(await errorCode(res)).toBe('NAME_INVALID')
      }
    })
    test('a push outside broken/prepared is UNSUPPORTED and says where pushes go', async () => {
      const res = await send('/v2/team/app/blobs/uploads/', { method: 'POST' })
      expect(res.status).toBe(405)
      const body = await res.json() as { errors: { code: string; message: string }[] }
      expect(body.errors[0].code).toBe('UNSUPPORTED')
      expect(body.errors[0].message).toContain('broken/prepared')
    })
    test('a pull of a broken/ name that is no scenario is NAME_UNKNOWN, naming the scenarios', async () => {
      const res = await send('/v2/broken/nothing/manifests/latest')
      expect(res.status).toBe(404)
      const body = await res.json() as { errors: { code: string; message: string }[] }
      expect(body.errors[0].code).toBe('NAME_UNKNOWN')
      expect(body.errors[0].message).toContain('broken/random')
    })
    test('a method an endpoint lacks is UNSUPPORTED', async () => {
      const res = await send(`/v2/${REPO}/tags/list`, { method: 'POST' })
      expect(res.status).toBe(405)
      expect(await errorCode(res)).toBe('UNSUPPORTED')
    })
  })

  describe(`${label}: blob uploads`, () => {
    test('POST then PUT with the whole body stores the blob (monolithic)', async () => {
      const name = repo()
      const blob = blobOf(70_000)
      const location = await startUpload(name)
      const res = await send(`${location}?digest=${sha256(blob)}`, { method: 'PUT', body: blob })
      expect(res.status).toBe(201)
      expect(res.headers.get('Location')).toBe(`/v2/${name}/blobs/${sha256(blob)}`)
      expect(res.headers.get('Docker-Content-Digest')).toBe(sha256(blob))
      const got = await send(`/v2/${name}/blobs/${sha256(blob)}`)
      expect(new Uint8Array(await got.arrayBuffer())).toEqual(blob)
    })
    test('one POST with ?digest= stores the blob', async () => {
      const name = repo()
      const blob = blobOf(1234)
      await pushBlob(name, blob)
      const head = await send(`/v2/${name}/blobs/${sha256(blob)}`, { method: 'HEAD' })
      expect(head.status).toBe(200)
      expect(head.headers.get('Content-Length')).toBe('1234')
    })
    test('an empty blob can be pushed and pulled', async () => {
      const name = repo()
      const digest = await pushBlob(name, new Uint8Array(0))
      const res = await send(`/v2/${name}/blobs/${digest}`)
      expect(res.status).toBe(200)
      expect((await res.arrayBuffer()).byteLength).toBe(0)
    })
    test('chunked PATCHes with Content-Range, then PUT with the last chunk', async () => {
      const name = repo()
      const blob = blobOf(300_000, 7)
      let location = await startUpload(name)
      for (const [start, end] of [[0, 99_999], [100_000, 199_999]]) {
        const res = await send(location, {
          method: 'PATCH',
          headers: {
            'Content-Range': `${start}-${end}`,
            'Content-Type': 'application/octet-stream',
          },
          body: blob.subarray(start, end + 1),
        })
        expect(res.status).toBe(202)
        expect(res.headers.get('Range')).toBe(`0-${end}`)
        expect(res.headers.get('Docker-Upload-UUID')).toBeTruthy()
        location = res.headers.get('Location')!
      }
      const status = await send(location)
      expect(status.status).toBe(204)
      expect(status.headers.get('Range')).toBe('0-199999')
      const done = await send(`${location}?digest=${sha256(blob)}`, {
        method: 'PUT',
        headers: { 'Content-Range': '200000-299999' },
        body: blob.subarray(200_000),
      })
      expect(done.status).toBe(201)
      const got = await send(`/v2/${name}/blobs/${sha256(blob)}`)
      expect(sha256(new Uint8Array(await got.arrayBuffer()))).toBe(sha256(blob))
    })
    test('10 MiB pushed in 1 MiB chunks comes back whole, and in ranges', async () => {
      const name = repo()
      const blob = blobOf(10 * 1024 * 1024, 21)
      let location = await startUpload(name)
      const chunk = 1024 * 1024
      for (let start = 0; start < blob.length; start += chunk) {
        const end = Math.min(start + chunk, blob.length) - 1
        const res = await send(location, {
          method: 'PATCH',
          headers: { 'Content-Range': `${start}-${end}` },
          body: blob.subarray(start, end + 1),
        })
        expect(res.status).toBe(202)
        location = res.headers.get('Location')!
      }
      const digest = sha256(blob)
      expect((await send(`${location}?digest=${digest}`, { method: 'PUT' })).status).toBe(201)
      const whole = await send(`/v2/${name}/blobs/${digest}`)
      expect(whole.headers.get('Content-Length')).toBe(String(blob.length))
      expect(sha256(new Uint8Array(await whole.arrayBuffer()))).toBe(digest)
      const tail = await send(`/v2/${name}/blobs/${digest}`, {
        headers: { Range: 'bytes=5000000-' },
      })
      expect(tail.status).toBe(206)
      expect(sha256(new Uint8Array(await tail.arrayBuffer()))).toBe(
        sha256(blob.subarray(5_000_000)),
      )
    })
    test('a chunk that does not continue the upload is 416 with the current Range', async () => {
      const name = repo()
      const location = await startUpload(name)
      await send(location, {
        method: 'PATCH',
        headers: { 'Content-Range': '0-9' },
        body: blobOf(10),
      })
      const res = await send(location, {
        method: 'PATCH',
        headers: { 'Content-Range': '20-29' },
        body: blobOf(10),
      })
      expect(res.status).toBe(416)
      expect(res.headers.get('Range')).toBe('0-9')
      const body = await res.arrayBuffer()
      expect(Number(res.headers.get('Content-Length'))).toBe(body.byteLength)
    })
    test('streamed PATCHes without Content-Range append', async () => {
      const name = repo()
      const blob = blobOf(50_000, 3)
      const location = await startUpload(name)
      await send(location, { method: 'PATCH', body: blob.subarray(0, 20_000) })
      const res = await send(location, { method: 'PATCH', body: blob.subarray(20_000) })
      expect(res.headers.get('Range')).toBe('0-49999')
      const done = await send(`${location}?digest=${sha256(blob)}`, { method: 'PUT' })
      expect(done.status).toBe(201)
    })
    test('a digest mismatch is DIGEST_INVALID and stores nothing', async () => {
      const name = repo()
      const blob = blobOf(5000, 11)
      const wrong = sha256(blobOf(5000, 12))
      const location = await startUpload(name)
      const res = await send(`${location}?digest=${wrong}`, { method: 'PUT', body: blob })
      expect(res.status).toBe(400)
      expect(await errorCode(res)).toBe('DIGEST_INVALID')
      for (const digest of [wrong, sha256(blob)]) {
        expect((await send(`/v2/${name}/blobs/${digest}`, { method: 'HEAD' })).status).toBe(404)
      }
      expect((await send(location)).status).toBe(404)
    })
    test('PUT without a digest, or with a malformed one, is DIGEST_INVALID', async () => {
      const location = await startUpload(repo())
      for (const query of ['', '?digest=sha256:xyz', '?digest=md5:abc']) {
        const res = await send(`${location}${query}`, { method: 'PUT', body: blobOf(10) })
        expect(res.status).toBe(400)
        expect(await errorCode(res)).toBe('DIGEST_INVALID')
      }
    })
    test('an unknown or foreign upload is BLOB_UPLOAD_UNKNOWN', async () => {
      const location = await startUpload(repo())
      const id = location.split('/').pop()
      for (
        const path of [
          `/v2/${REPO}/blobs/uploads/00000000-0000-0000-0000-000000000000`,
          `/v2/${REPO}/blobs/uploads/not-a-uuid`,
          `/v2/${REPO}/other/blobs/uploads/${id}`,
        ]
      ) {
        const res = await send(path, { method: 'PATCH', body: blobOf(5) })
        expect(res.status).toBe(404)
        expect(await errorCode(res)).toBe('BLOB_UPLOAD_UNKNOWN')
      }
    })
    test('DELETE cancels an upload', async () => {
      const location = await startUpload(repo())
      expect((await send(location, { method: 'DELETE' })).status).toBe(204)
      const res = await send(location)
      expect(res.status).toBe(404)
      expect(await errorCode(res)).toBe('BLOB_UPLOAD_UNKNOWN')
    })
    test('mount from another repository links the blob (201), else falls back to 202', async () => {
      const from = repo()
      const to = repo()
      const digest = await pushBlob(from, blobOf(999, 5))
      const res = await send(`/v2/${to}/blobs/uploads/?mount=${digest}&from=${from}`, {
        method: 'POST',
      })
      expect(res.status).toBe(201)
      expect(res.headers.get('Location')).toBe(`/v2/${to}/blobs/${digest}`)
      expect((await send(`/v2/${to}/blobs/${digest}`, { method: 'HEAD' })).status).toBe(200)
      const missing = sha256(blobOf(5, 99))
      const fallback = await send(`/v2/${to}/blobs/uploads/?mount=${missing}&from=${from}`, {
        method: 'POST',
      })
      expect(fallback.status).toBe(202)
      expect(fallback.headers.get('Location')).toContain(`/v2/${to}/blobs/uploads/`)
    })
  })

  describe(`${label}: blobs`, () => {
    test('GET and HEAD answer size, digest and type; HEAD has no body', async () => {
      const name = repo()
      const blob = blobOf(4096)
      const digest = await pushBlob(name, blob)
      const head = await send(`/v2/${name}/blobs/${digest}`, { method: 'HEAD' })
      expect(head.status).toBe(200)
      expect(head.headers.get('Docker-Content-Digest')).toBe(digest)
      expect(head.headers.get('Content-Length')).toBe('4096')
      expect(head.headers.get('Accept-Ranges')).toBe('bytes')
      expect((await head.arrayBuffer()).byteLength).toBe(0)
    })
    test('Range requests get 206 with Content-Range; past the end 416', async () => {
      const name = repo()
      const blob = blobOf(1000, 4)
      const digest = await pushBlob(name, blob)
      const cases: [string, number, number][] = [['bytes=0-9', 0, 9], ['bytes=990-', 990, 999], [
        'bytes=-5',
        995,
        999,
      ], ['bytes=900-5000', 900, 999]]
      for (const [range, start, end] of cases) {
        const res = await send(`/v2/${name}/blobs/${digest}`, { headers: { Range: range } })
        expect(res.status).toBe(206)
        expect(res.headers.get('Content-Range')).toBe(`bytes ${start}-${end}/1000`)
        expect(new Uint8Array(await res.arrayBuffer())).toEqual(blob.subarray(start, end + 1))
      }
      const res = await send(`/v2/${name}/blobs/${digest}`, { headers: { Range: 'bytes=1000-' } })
      expect(res.status).toBe(416)
      expect(res.headers.get('Content-Range')).toBe('bytes */1000')
    })
    test('an unknown blob, or one not linked to the repository, is BLOB_UNKNOWN', async () => {
      const digest = await pushBlob(repo(), blobOf(10, 8))
      for (const name of [repo(), REPO]) {
        const res = await send(`/v2/${name}/blobs/${digest}`)
        expect(res.status).toBe(404)
        expect(await errorCode(res)).toBe('BLOB_UNKNOWN')
      }
      const bad = await send(`/v2/${REPO}/blobs/sha256:nothex`)
      expect(bad.status).toBe(400)
      expect(await errorCode(bad)).toBe('DIGEST_INVALID')
    })
    test('DELETE unlinks a blob; a second DELETE is BLOB_UNKNOWN', async () => {
      const name = repo()
      const digest = await pushBlob(name, blobOf(10, 9))
      expect((await send(`/v2/${name}/blobs/${digest}`, { method: 'DELETE' })).status).toBe(202)
      expect((await send(`/v2/${name}/blobs/${digest}`)).status).toBe(404)
      const again = await send(`/v2/${name}/blobs/${digest}`, { method: 'DELETE' })
      expect(again.status).toBe(404)
      expect(await errorCode(again)).toBe('BLOB_UNKNOWN')
    })
  })

  describe(`${label}: manifests`, () => {
    test('PUT by tag, then GET and HEAD by tag and digest return the exact bytes', async () => {
      const name = repo()
      const { body, digest, res } = await pushImage(name, 'v1')
      expect(res.headers.get('Location')).toBe(`/v2/${name}/manifests/${digest}`)
      expect(res.headers.get('Docker-Content-Digest')).toBe(digest)
      for (const ref of ['v1', digest]) {
        const got = await send(`/v2/${name}/manifests/${ref}`, {
          headers: { Accept: OCI_MANIFEST },
        })
        expect(got.status).toBe(200)
        expect(got.headers.get('Content-Type')).toBe(OCI_MANIFEST)
        expect(got.headers.get('Docker-Content-Digest')).toBe(digest)
        expect(got.headers.get('Content-Length')).toBe(String(body.byteLength))
        expect(new Uint8Array(await got.arrayBuffer())).toEqual(body)
        const head = await send(`/v2/${name}/manifests/${ref}`, { method: 'HEAD' })
        expect(head.status).toBe(200)
        expect(head.headers.get('Docker-Content-Digest')).toBe(digest)
        expect((await head.arrayBuffer()).byteLength).toBe(0)
      }
    })
    test('PUT by digest checks the digest', async () => {
      const name = repo()
      const { body, digest } = await pushImage(name, 'v1')
      const ok = await send(`/v2/${name}/manifests/${digest}`, {
        method: 'PUT',
        headers: { 'Content-Type': OCI_MANIFEST },
        body,
      })
      expect(ok.status).toBe(201)
      const wrong = sha256('something else')
      const bad = await send(`/v2/${name}/manifests/${wrong}`, {
        method: 'PUT',
        headers: { 'Content-Type': OCI_MANIFEST },
        body,
      })
      expect(bad.status).toBe(400)
      expect(await errorCode(bad)).toBe('DIGEST_INVALID')
    })
    test('a manifest whose blobs are missing is MANIFEST_BLOB_UNKNOWN', async () => {
      const name = repo()
      const manifest = imageManifest(bytes('{}'), [blobOf(10)])
      const res = await send(`/v2/${name}/manifests/v1`, {
        method: 'PUT',
        headers: { 'Content-Type': OCI_MANIFEST },
        body: manifest.body,
      })
      expect(res.status).toBe(400)
      expect(await errorCode(res)).toBe('MANIFEST_BLOB_UNKNOWN')
    })
    test('invalid JSON, an unknown media type and a bad tag are MANIFEST_INVALID', async () => {
      const name = repo()
      const cases: [string, string, string][] = [
        ['v1', OCI_MANIFEST, '{not json'],
        ['v1', 'application/x-nonsense', '{}'],
        ['-bad-tag', OCI_MANIFEST, '{}'],
      ]
      for (const [tag, type, body] of cases) {
        const res = await send(`/v2/${name}/manifests/${tag}`, {
          method: 'PUT',
          headers: { 'Content-Type': type },
          body,
        })
        expect(res.status).toBe(400)
        expect(await errorCode(res)).toBe('MANIFEST_INVALID')
      }
    })
    test('an index may reference children the registry lacks (sparse index)', async () => {
      const name = repo()
      const index = {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{
          mediaType: OCI_MANIFEST,
          digest: sha256('absent'),
          size: 6,
          platform: { os: 'linux', architecture: 'arm64' },
        }],
      }
      const res = await send(`/v2/${name}/manifests/multi`, {
        method: 'PUT',
        headers: { 'Content-Type': OCI_INDEX },
        body: JSON.stringify(index),
      })
      expect(res.status).toBe(201)
      const got = await send(`/v2/${name}/manifests/multi`)
      expect(got.headers.get('Content-Type')).toBe(OCI_INDEX)
    })
    if (opts.manifestLimit) {
      test('a manifest over the size limit is 413', async () => {
        const res = await send(`/v2/${repo()}/manifests/big`, {
          method: 'PUT',
          headers: { 'Content-Type': OCI_MANIFEST },
          body: JSON.stringify({ schemaVersion: 2, pad: 'x'.repeat(opts.manifestLimit!) }),
        })
        expect(res.status).toBe(413)
        expect(await errorCode(res)).toBe('SIZE_INVALID')
      })
    }
    test('an unknown tag or digest is MANIFEST_UNKNOWN', async () => {
      const name = repo()
      await pushImage(name, 'v1')
      for (const ref of ['nope', sha256('nope')]) {
        const res = await send(`/v2/${name}/manifests/${ref}`)
        expect(res.status).toBe(404)
        expect(await errorCode(res)).toBe('MANIFEST_UNKNOWN')
      }
    })
    test('DELETE by tag removes the tag; by digest removes the manifest and its tags', async () => {
      const name = repo()
      const { digest, body } = await pushImage(name, 'v1')
      await send(`/v2/${name}/manifests/v2`, {
        method: 'PUT',
        headers: { 'Content-Type': OCI_MANIFEST },
        body,
      })
      expect((await send(`/v2/${name}/manifests/v2`, { method: 'DELETE' })).status).toBe(202)
      expect((await send(`/v2/${name}/manifests/v2`)).status).toBe(404)
      expect((await send(`/v2/${name}/manifests/v1`)).status).toBe(200)
      expect((await send(`/v2/${name}/manifests/${digest}`, { method: 'DELETE' })).status).toBe(202)
      expect((await send(`/v2/${name}/manifests/v1`)).status).toBe(404)
      expect((await send(`/v2/${name}/manifests/${digest}`)).status).toBe(404)
      const again = await send(`/v2/${name}/manifests/${digest}`, { method: 'DELETE' })
      expect(await errorCode(again)).toBe('MANIFEST_UNKNOWN')
    })
  })

  describe(`${label}: tags, catalog and referrers`, () => {
    test('tags/list is sorted and pages with n, last and Link', async () => {
      const name = repo()
      const { body } = await pushImage(name, 'c')
      for (const tag of ['a', 'b', 'd']) {
        await send(`/v2/${name}/manifests/${tag}`, {
          method: 'PUT',
          headers: { 'Content-Type': OCI_MANIFEST },
          body,
        })
      }
      expect(await (await send(`/v2/${name}/tags/list`)).json()).toEqual({
        name,
        tags: ['a', 'b', 'c', 'd'],
      })
      const first = await send(`/v2/${name}/tags/list?n=2`)
      expect(await first.json()).toEqual({ name, tags: ['a', 'b'] })
      expect(first.headers.get('Link')).toBe(`</v2/${name}/tags/list?n=2&last=b>; rel="next"`)
      const second = await send(`/v2/${name}/tags/list?n=2&last=b`)
      expect(await second.json()).toEqual({ name, tags: ['c', 'd'] })
      expect(second.headers.get('Link')).toBeNull()
      const bad = await send(`/v2/${name}/tags/list?n=-1`)
      expect(bad.status).toBe(400)
    })
    test('tags/list of an unknown repository is NAME_UNKNOWN', async () => {
      const res = await send(`/v2/${REPO}/never/tags/list`)
      expect(res.status).toBe(404)
      expect(await errorCode(res)).toBe('NAME_UNKNOWN')
    })
    test('the catalog lists repositories and pages like tags', async () => {
      const a = repo()
      const b = repo()
      await pushImage(a, 'v1')
      await pushImage(b, 'v1')
      const all = (await (await send('/v2/_catalog')).json()) as { repositories: string[] }
      expect(all.repositories).toContain(a)
      expect(all.repositories).toContain(b)
      expect([...all.repositories].sort()).toEqual(all.repositories)
      const page = await send(`/v2/_catalog?n=1&last=${a}`)
      const next = (await page.json()) as { repositories: string[] }
      expect(next.repositories).toEqual([all.repositories[all.repositories.indexOf(a) + 1]])
    })
    test('a manifest with a subject answers OCI-Subject and is listed by referrers', async () => {
      const name = repo()
      const subject = await pushImage(name, 'v1')
      const descriptor = {
        mediaType: OCI_MANIFEST,
        digest: subject.digest,
        size: subject.body.byteLength,
      }
      const sig = await pushImage(name, 'sig', 1, {
        artifactType: 'application/vnd.example.sig',
        subject: descriptor,
      })
      expect(sig.res.headers.get('OCI-Subject')).toBe(subject.digest)
      const sbom = await pushImage(name, 'sbom', 1, {
        artifactType: 'application/vnd.example.sbom',
        subject: descriptor,
      })
      const all = await send(`/v2/${name}/referrers/${subject.digest}`)
      expect(all.headers.get('Content-Type')).toBe(OCI_INDEX)
      const index = await all.json() as { manifests: { digest: string; artifactType: string }[] }
      expect(index.manifests.map((m) => m.digest).sort()).toEqual([sig.digest, sbom.digest].sort())
      const filtered = await send(
        `/v2/${name}/referrers/${subject.digest}?artifactType=application/vnd.example.sbom`,
      )
      expect(filtered.headers.get('OCI-Filters-Applied')).toBe('artifactType')
      const only = await filtered.json() as {
        manifests: { digest: string; artifactType: string }[]
      }
      expect(only.manifests).toEqual([
        expect.objectContaining({
          digest: sbom.digest,
          artifactType: 'application/vnd.example.sbom',
        }),
      ])
      const none = await (await send(`/v2/${name}/referrers/${sha256('none')}`)).json() as {
        manifests: unknown[]
      }
      expect(none.manifests).toEqual([])
    })
  })
}
