// A null registry for `bench.ts --target sink`: it discards uploads and serves sparse files of
// zeros, so the bench's figures against it are the client's ceiling. CLI as broken-reg serve.
import { truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  args: Bun.argv.slice(3), // after `serve`
  options: { host: { type: 'string' }, port: { type: 'string' }, 'data-dir': { type: 'string' } },
})

const dataDir = values['data-dir'] ?? '.'
const blobFile = (digest: string) => join(dataDir, digest.replace(':', '-'))
const manifests = new Map<string, { body: Uint8Array<ArrayBuffer>; type: string }>()
const uploads = new Map<string, number>() // session id -> bytes received

async function drain(body: ReadableStream<Uint8Array> | null): Promise<number> {
  let bytes = 0
  if (body) { for await (const chunk of body) bytes += chunk.byteLength }
  return bytes
}

const server = Bun.serve({
  hostname: values.host ?? '127.0.0.1',
  port: Number(values.port ?? 0),
  maxRequestBodySize: Number.MAX_SAFE_INTEGER,
  idleTimeout: 0,
  async fetch(req) {
    const url = new URL(req.url)
    const path = url.pathname
    const m = /^\/v2\/(.+)\/(blobs\/uploads|blobs|manifests)\/(.*)$/.exec(path)
    if (path === '/v2/') return Response.json({})
    if (!m) return new Response('not found', { status: 404 })
    const [, name, kind, ref] = m
    if (kind === 'blobs/uploads') {
      const id = ref || crypto.randomUUID()
      const size = (uploads.get(id) ?? 0) + (await drain(req.body))
      uploads.set(id, size)
      const headers = { Location: `/v2/${name}/blobs/uploads/${id}`, Range: `0-${size - 1}` }
      if (req.method !== 'PUT') return new Response(null, { status: 202, headers })
      const digest = url.searchParams.get('digest') ?? ''
      uploads.delete(id)
      await writeFile(blobFile(digest), '')
      await truncate(blobFile(digest), size)
      return new Response(null, {
        status: 201,
        headers: { Location: `/v2/${name}/blobs/${digest}` },
      })
    }
    if (kind === 'manifests' && req.method === 'PUT') {
      const body = new Uint8Array(await req.arrayBuffer())
      manifests.set(`${name}:${ref}`, { body, type: req.headers.get('Content-Type') ?? '' })
      return new Response(null, { status: 201 })
    }
    if (kind === 'manifests') {
      const manifest = manifests.get(`${name}:${ref}`)
      if (!manifest) return new Response('unknown manifest', { status: 404 })
      return new Response(req.method === 'HEAD' ? null : manifest.body, {
        headers: { 'Content-Type': manifest.type, 'Content-Length': String(manifest.body.length) },
      })
    }
    const blob = Bun.file(blobFile(ref))
    if (!(await blob.exists())) return new Response('unknown blob', { status: 404 })
    return new Response(blob)
  },
})

console.log(`listening on http://${server.hostname}:${server.port} runtime=bun storage=none`)
