// The scenarios, and the runner that hands a request for `broken/<name>` to its scenario with
// a context: the correct answer to decorate, an abortable sleep, the image generator.
import type { Context } from 'hono'
import { isDigest } from '../registry/digest.ts'
import { RegistryError } from '../registry/errors.ts'
import type { Route } from '../registry/routes.ts'
import type { RegistryDeps } from '../registry/types.ts'
import { sleep } from '../util/sleep.ts'
import { createGenerator } from './_generate.ts'
import { error } from './error.ts'
import { random } from './random.ts'
import { timeout } from './timeout.ts'
import type { Scenario, ScenarioContext } from './types.ts'

export type { Scenario } from './types.ts'

/** Every scenario, in the order the README and /_broken/scenarios list them. */
export const SCENARIOS: readonly Scenario<never>[] = [error, timeout, random] as Scenario<never>[]

/** The repository prefix of every scenario. */
export const SCENARIO_PREFIX = 'broken/'

/** The scenario serving a repository name, if any. */
export const findScenario = (name: string): Scenario<unknown> | undefined =>
  SCENARIOS.find((s) => name === `${SCENARIO_PREFIX}${s.name}`) as Scenario<unknown> | undefined

/** Counters the admin endpoints report. */
export interface ScenarioStats {
  pendingDelays: number
}

/** Builds the runner of scenario requests over the registry that gives correct answers. */
export function createScenarioRunner(
  deps: RegistryDeps,
  correct: (c: Context, route: Route) => Promise<Response>,
  stats: ScenarioStats,
) {
  const generate = createGenerator(deps)

  const countedSleep = async (ms: number, signal: AbortSignal) => {
    stats.pendingDelays++
    try {
      await sleep(ms, signal)
    } finally {
      stats.pendingDelays--
    }
  }

  return async (c: Context, scenario: Scenario<unknown>, route: Route & { name: string }) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      throw new RegistryError('UNSUPPORTED', {
        message: `${route.name} is a scenario and takes no pushes; pushes go to broken/prepared`,
        detail: { name: route.name },
      })
    }
    const reference = route.kind === 'manifest'
      ? route.reference
      : route.kind === 'blob'
      ? route.digest
      : ''
    const tagged = route.kind === 'manifest' && !isDigest(reference)
    let params: unknown
    try {
      params = tagged ? scenario.parse(reference) : undefined
    } catch (err) {
      if (!(err instanceof RangeError)) throw err
      throw new RegistryError(scenario.invalidTag ?? 'MANIFEST_INVALID', {
        message: err.message,
        detail: { scenario: scenario.name, tag: reference },
      })
    }
    const ctx: ScenarioContext = {
      stage: route.kind === 'manifest' ? 'manifest' : 'blob',
      reference,
      correct: () => correct(c, route),
      sleep: (ms) => countedSleep(ms, c.req.raw.signal),
      generate: (spec) => generate(route.name, reference, spec),
    }
    return scenario.handle(c, params, ctx)
  }
}
