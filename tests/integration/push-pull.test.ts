// Acceptance: skopeo and docker push images to the compiled binary and pull them back with every
// digest unchanged, also after the server restarts on the same data directory.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import {
  BINARY,
  buildOciLayout,
  buildSingleImageLayout,
  describeIf,
  ensureBinary,
  type ImageDigests,
  LAYOUT_TAG,
  makeTempDir,
  NEEDS,
  readOciLayout,
  removeDir,
  serveArgs,
  type Server,
  skopeo,
  startDockerd,
  startServer,
  testIf,
  useDaemon,
} from './_harness.ts'

const INDEX_REPO = 'broken/prepared/team/app'
const SINGLE_REPO = 'broken/prepared'
const DOCKER_REPO = 'broken/prepared/docker'

let tmp: string | undefined
let server: Server | undefined
let built: { index: ImageDigests; single: ImageDigests }
let pulls = 0

const inTmp = (name: string) => join(tmp!, name)
const startBinary = () => startServer([BINARY, ...serveArgs(inTmp('data'))])

beforeAll(async () => {
  tmp = await makeTempDir('push-pull')
  await ensureBinary()
  built = {
    index: await buildOciLayout(inTmp('index')),
    single: await buildSingleImageLayout(inTmp('single')),
  }
  server = await startBinary()
}, 600_000)

afterAll(async () => {
  await server?.stop()
  await removeDir(tmp)
})

/** Runs skopeo and asserts that it succeeded, showing its stderr if not. */
async function skopeoOk(args: string[]) {
  const result = await skopeo(args)
  expect(result.code, `skopeo ${args.join(' ')}\n${result.stderr}`).toBe(0)
  return result.stdout
}

/** Pushes the image of a layout in tmp with every platform and its digests as they are. */
const push = (layout: string, ref: string) =>
  skopeoOk([
    ...['copy', '--all', '--preserve-digests', '--dest-tls-verify=false'],
    `oci:${inTmp(layout)}:${LAYOUT_TAG}`,
    `docker://${server!.hostPort}/${ref}`,
  ])

/** Pulls an image with every platform into a fresh layout and reads back its digests. */
async function pull(ref: string): Promise<ImageDigests> {
  const layout = inTmp(`pull-${++pulls}`)
  await skopeoOk([
    ...['copy', '--all', '--preserve-digests', '--src-tls-verify=false'],
    `docker://${server!.hostPort}/${ref}`,
    `oci:${layout}:${LAYOUT_TAG}`,
  ])
  return readOciLayout(layout)
}

const listTags = async (repo: string) =>
  JSON.parse(
    await skopeoOk(['list-tags', '--tls-verify=false', `docker://${server!.hostPort}/${repo}`]),
  )

describe('dist/broken-reg with real clients', () => {
  testIf(NEEDS.skopeo)('skopeo copy --all pushes a two-platform index', async () => {
    await push('index', `${INDEX_REPO}:v1`)
    expect(await listTags(INDEX_REPO)).toEqual({ Repository: expect.any(String), Tags: ['v1'] })
  }, 120_000)

  testIf(NEEDS.skopeo)('skopeo copy pushes a single-platform image', async () => {
    await push('single', `${SINGLE_REPO}:single`)
    expect(await listTags(SINGLE_REPO)).toEqual({
      Repository: expect.any(String),
      Tags: ['single'],
    })
  }, 120_000)

  testIf(NEEDS.skopeo)(
    'skopeo pulls the index back with the same index, manifest, layer digests',
    async () => {
      expect(await pull(`${INDEX_REPO}:v1`)).toEqual(built.index)
    },
    120_000,
  )

  testIf(NEEDS.skopeo)('skopeo pulls the single image back with the same digests', async () => {
    expect(await pull(`${SINGLE_REPO}:single`)).toEqual(built.single)
  }, 120_000)

  describeIf(NEEDS.skopeo, NEEDS.dockerd)('docker', () => {
    const dockerd = useDaemon('dockerd', startDockerd)

    /** Runs the docker CLI and asserts that it succeeded, showing its stderr if not. */
    async function docker(...args: string[]) {
      const result = await dockerd().docker(args)
      expect(result.code, `docker ${args.join(' ')}\n${result.stderr}`).toBe(0)
      return result.stdout
    }

    async function inspect(ref: string) {
      const [image] = JSON.parse(await docker('image', 'inspect', ref))
      return { id: image.Id, repoDigests: image.RepoDigests }
    }

    test('docker pull by tag records the manifest digest in RepoDigests', async () => {
      const repo = `${server!.hostPort}/${SINGLE_REPO}`
      await docker('pull', `${repo}:single`)
      expect(await inspect(`${repo}:single`)).toEqual({
        id: built.single.configs[0],
        repoDigests: [`${repo}@${built.single.digest}`],
      })
    }, 120_000)

    test(
      'docker push to broken/prepared/docker:v1, then pull by digest, keeps the image',
      async () => {
        const repo = `${server!.hostPort}/${DOCKER_REPO}`
        await docker('tag', `${server!.hostPort}/${SINGLE_REPO}:single`, `${repo}:v1`)
        const pushed = /digest: (sha256:[0-9a-f]{64})/.exec(await docker('push', `${repo}:v1`))?.[1]
        expect(pushed).toBeString()
        // Deleting every tag of the image makes the pull below fetch all of its blobs again.
        await docker('rmi', '--force', built.single.configs[0])
        await docker('pull', `${repo}@${pushed}`)
        expect(await inspect(`${repo}@${pushed}`)).toEqual({
          id: built.single.configs[0],
          repoDigests: [`${repo}@${pushed}`],
        })
      },
      120_000,
    )
  })

  testIf(NEEDS.skopeo)('a restart on the same data dir serves both images unchanged', async () => {
    expect(await server!.stop()).toBe(0)
    server = await startBinary()
    expect(await pull(`${INDEX_REPO}:v1`)).toEqual(built.index)
    expect(await pull(`${SINGLE_REPO}:single`)).toEqual(built.single)
  }, 120_000)
})
