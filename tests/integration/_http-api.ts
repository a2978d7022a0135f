// Runs the registry API suite over a real socket against a server started by a command.
import { afterAll, beforeAll } from 'bun:test'
import { describeRegistryApi, type Send } from '../suites/registry-api.suite.ts'
import { type Server, startScratchServer } from './_harness.ts'

/** Starts `command` with a scratch data dir and declares the API suite against it. */
export function describeHttpApi(label: string, command: string[]) {
  let server: Server | undefined
  beforeAll(async () => {
    server = await startScratchServer(command)
  }, 30_000)
  afterAll(async () => {
    await server?.stop()
  })
  const send: Send = (path, init) => fetch(`${server!.url}${path}`, { ...init, redirect: 'manual' })
  describeRegistryApi(label, () => send, { manifestLimit: 4 * 1024 * 1024 })
}
