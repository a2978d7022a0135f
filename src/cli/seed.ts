// `broken-reg seed`: prepares a data directory before (or while) `serve` runs on it: random
// images, the catalog of odd fixtures, imports of OCI layouts and docker archives, and
// pre-pulls of upstream images into the proxy cache. Generation and pulls go through the same
// app the server runs, so a later offline `serve` answers exactly what was seeded.
import { stat } from 'node:fs/promises'
import { type Config, resolveConfig, SERVE_OPTIONS } from '../config.ts'
import { FIXTURES } from '../images/catalog.ts'
import { readDockerArchive } from '../images/docker-archive.ts'
import { readOciLayout } from '../images/oci-layout.ts'
import type { ImageBundle } from '../images/types.ts'
import { storeBundle } from '../registry/bundles.ts'
import { MANIFEST_TYPES } from '../registry/constants.ts'
import { isValidName } from '../registry/routes.ts'
import { referencesOf } from '../registry/gc.ts'
import { UsageError } from './options.ts'
import { createProgress } from './progress.ts'
import { createConfiguredApp } from './serve.ts'
import type { Command } from './types.ts'

const FIXTURE_REPOSITORY = 'broken/prepared/fixtures'
const ACCEPT = [...MANIFEST_TYPES].join(', ')

export const seedCommand: Command = {
  name: 'seed',
  summary: 'Prepare a store offline: random images, odd fixtures, imports, pre-pulls',
  usage: [
    'broken-reg seed random <tag>...            generate broken/random:<tag> images',
    '       broken-reg seed fixtures [--list]           store the catalog of odd images',
    '       broken-reg seed import <path> --as <repo:tag>   an OCI layout dir or docker archive',
    '       broken-reg seed pull <ref>...               cache upstream images (docker.io/library/x:1)',
  ].join('\n'),
  positionals: true,
  options: {
    'data-dir': SERVE_OPTIONS['data-dir'],
    'hasher': SERVE_OPTIONS.hasher,
    'upstream': SERVE_OPTIONS.upstream,
    'insecure-upstream': SERVE_OPTIONS['insecure-upstream'],
    'as': {
      type: 'string',
      value: 'REPO:TAG',
      help: 'Where `seed import` stores the image (under broken/prepared)',
    },
    'list': { type: 'boolean', help: 'With `fixtures`: print the catalog instead of storing it' },
    'json': { type: 'boolean', help: 'One JSON object per item, then a summary' },
  },
  async run({ values, positionals }, io) {
    const [action, ...args] = positionals
    if (action === 'fixtures' && values.list) {
      for (const f of FIXTURES) {
        io.stdout(values.json ? JSON.stringify(f) : `${f.name.padEnd(28)} ${f.summary}`)
      }
      return 0
    }
    const plans: Record<string, () => Step[]> = {
      random: () => required(args, 'a tag').map((tag) => randomStep(tag)),
      fixtures: () =>
        FIXTURES.map((f) =>
          bundleStep(`${FIXTURE_REPOSITORY}/${f.name}`, 'latest', () => f.build())
        ),
      import: () => [importStep(args, values.as as string | undefined)],
      pull: () => required(args, 'an image reference').map((ref) => pullStep(ref)),
    }
    const plan = plans[action ?? '']
    if (!plan) {
      throw new UsageError(action ? `unknown seed action "${action}"` : 'seed needs an action')
    }
    const steps = plan()
    const config: Config = resolveConfig(values, io.env)
    const context = await createConfiguredApp(config, { ...io, stderr: () => {} }, {
      trustUpstreams: true,
    })
    const progress = createProgress(io, Boolean(values.json))
    for (const step of steps) {
      const item = progress.item(step.name)
      try {
        item.finish(await step.run(context, item.bytes))
      } catch (err) {
        item.fail(err)
      }
    }
    return progress.summary() ? 0 : 1
  },
}

type Context = Awaited<ReturnType<typeof createConfiguredApp>>
interface Step {
  name: string
  run(context: Context, onBytes: (n: number) => void): Promise<string>
}

function required(args: string[], what: string) {
  if (args.length === 0) throw new UsageError(`give ${what} or more`)
  return args
}

/** Generates broken/random:<tag> through the server's own scenario. */
function randomStep(tag: string): Step {
  return {
    name: `broken/random:${tag}`,
    async run({ app }) {
      const res = await app.request(`/v2/broken/random/manifests/${tag}`)
      if (!res.ok) throw new Error(await describeError(res))
      await res.body?.cancel()
      return res.headers.get('Docker-Content-Digest') ?? 'stored'
    },
  }
}

function bundleStep(
  name: string,
  tag: string,
  load: () => ImageBundle | Promise<ImageBundle>,
): Step {
  return {
    name: `${name}:${tag}`,
    run: async (context, onBytes) => storeBundle(context, name, tag, await load(), onBytes),
  }
}

function importStep(args: string[], as: string | undefined): Step {
  const [path] = required(args, 'a path')
  if (!as) throw new UsageError('seed import needs --as <repo:tag>')
  const colon = as.lastIndexOf(':')
  const [name, tag] = colon > 0 ? [as.slice(0, colon), as.slice(colon + 1)] : [as, 'latest']
  const full = name === 'broken/prepared' || name.startsWith('broken/prepared/')
    ? name
    : `broken/prepared/${name}`
  if (!isValidName(full)) throw new UsageError(`Invalid repository name "${name}"`)
  return bundleStep(full, tag, async () => {
    return (await stat(path)).isDirectory() ? readOciLayout(path) : readDockerArchive(path)
  })
}

/** Pulls an image through the server's own proxy, reading every blob so it is cached. */
function pullStep(ref: string): Step {
  const at = ref.lastIndexOf('@')
  const colon = ref.lastIndexOf(':')
  const split = at > 0 ? at : colon > ref.lastIndexOf('/') ? colon : -1
  const name = split > 0 ? ref.slice(0, split) : ref
  const reference = split > 0 ? ref.slice(split + 1) : 'latest'
  return {
    name: ref,
    async run({ app }, onBytes) {
      const fetch = async (path: string) => {
        const res = await app.request(`/v2/${name}/${path}`, { headers: { Accept: ACCEPT } })
        if (!res.ok) throw new Error(`${path}: ${await describeError(res)}`)
        return res
      }
      const visit = async (manifestRef: string): Promise<string> => {
        const res = await fetch(`manifests/${manifestRef}`)
        const digest = res.headers.get('Docker-Content-Digest')!
        const bytes = new Uint8Array(await res.arrayBuffer())
        const json = JSON.parse(new TextDecoder().decode(bytes))
        for (const child of json.manifests ?? []) await visit(child.digest)
        for (const blob of referencesOf(bytes)) {
          if ((json.manifests ?? []).some((m: { digest: string }) => m.digest === blob)) continue
          const body = (await fetch(`blobs/${blob}`)).body
          for await (const chunk of body ?? []) onBytes(chunk.byteLength)
        }
        return digest
      }
      return await visit(reference)
    },
  }
}

async function describeError(res: Response) {
  const text = await res.text()
  try {
    const { errors } = JSON.parse(text) as { errors: { code: string; message: string }[] }
    return `${res.status} ${errors.map((e) => `${e.code}: ${e.message}`).join('; ')}`
  } catch {
    return `${res.status} ${text.slice(0, 200)}`
  }
}
