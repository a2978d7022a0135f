// The scenario interface: one `broken/<name>` repository each, a tag grammar, and a handler
// that decorates the answer a correct registry would give.
import type { Context } from 'hono'
import type { ErrorCode } from '../registry/errors.ts'
import type { RandomImageSpec } from '../images/random.ts'

/** Which part of a pull a request is. */
export type Stage = 'manifest' | 'blob'

/** What a scenario may use to answer. */
export interface ScenarioContext {
  stage: Stage
  /** The tag or digest of a manifest request, the digest of a blob request. */
  reference: string
  /** The answer a correct registry would give for this request in the scenario's repository. */
  correct(): Promise<Response>
  /** Waits, ending early (with an AbortError) when the client goes away. */
  sleep(ms: number): Promise<void>
  /** Makes sure a generated image is stored in the scenario's repository under the tag. */
  generate(spec: RandomImageSpec): Promise<void>
}

/** One documented parameter of a scenario's tag. */
export interface ParamDoc {
  key: string
  summary: string
  default?: string
}

/** A broken behaviour, served at `broken/<name>`. */
export interface Scenario<P> {
  /** broken/<name>; equal to the file name. */
  name: string
  /** One line for GET /_broken/scenarios and the README. */
  summary: string
  /** A tag that works: `layers-3_size-1024`. */
  example: string
  /** The keys of its tag grammar, documented. */
  params: ParamDoc[]
  /** The error code for a tag that does not parse; MANIFEST_INVALID unless the original differed. */
  invalidTag?: ErrorCode
  /** Reads a manifest request's tag (see parseTagParams); throws RangeError naming the problem. */
  parse(tag: string): P
  /** Answers a request; `params` is undefined when the request carries no tag. */
  handle(c: Context, params: P | undefined, ctx: ScenarioContext): Promise<Response>
}

/** Declares a scenario with its parameter type inferred. */
export const defineScenario = <P>(s: Scenario<P>): Scenario<P> => s
