// The tag grammar of scenarios: `key-value` pairs joined by `_` (`layers-3_size-10m_seed-1`).
// Keys are kebab-case (`retry-after-2s`), so a pair is split at the longest known key.
import { parseDuration } from '../util/duration.ts'
import { parseSize } from '../util/size.ts'

/** The parameters of one tag, read through typed accessors that throw RangeError. */
export interface TagParams {
  readonly tag: string
  /** The raw text of a key's value, if the tag has the key. */
  raw(key: string): string | undefined
  /** A whole number; `fallback` when absent, else RangeError `missing`. */
  integer(key: string, options?: NumberOptions): number
  /** A decimal number. */
  number(key: string, options?: NumberOptions): number
  /** A byte size with an optional k/m/g suffix. */
  size(key: string, options?: NumberOptions): number
  /** A Go duration (`300ms`, `1h2m3s`), in milliseconds. */
  duration(key: string, options?: NumberOptions): number
  /** One of a fixed set of words. */
  choice<T extends string>(key: string, choices: readonly T[], fallback: T): T
  /** Whether a flag-like key is present (`on-layer`), with any value. */
  has(key: string): boolean
}

interface NumberOptions {
  fallback?: number
  min?: number
  max?: number
  /** The message when the key is absent and there is no fallback. */
  missing?: string
}

/** Parses a tag against the keys a scenario knows; unknown keys are an error. */
export function parseTagParams(tag: string, keys: readonly string[]): TagParams {
  const byLength = [...keys].sort((a, b) => b.length - a.length)
  const values = new Map<string, string>()
  for (const pair of tag.split('_').filter(Boolean)) {
    const key = byLength.find((k) => pair === k || pair.startsWith(`${k}-`))
    if (!key) {
      const known = keys.length ? `known keys: ${keys.join(', ')}` : 'this scenario takes none'
      throw new RangeError(`Unknown parameter "${pair}" in tag "${tag}" (${known})`)
    }
    values.set(key, pair.slice(key.length + 1))
  }

  const read = (
    key: string,
    options: NumberOptions,
    parse: (v: string) => number,
    what: string,
  ) => {
    const raw = values.get(key)
    if (raw === undefined) {
      if (options.fallback !== undefined) return options.fallback
      throw new RangeError(options.missing ?? `Tag "${tag}" needs "${key}-<${what}>"`)
    }
    let value: number
    try {
      value = parse(raw)
    } catch (err) {
      throw new RangeError(`Cannot parse ${key} "${raw}": ${(err as Error).message}`)
    }
    if (Number.isNaN(value)) throw new RangeError(`Cannot parse ${key} "${raw}": not a ${what}`)
    if (options.min !== undefined && value < options.min) {
      throw new RangeError(`${key} must be at least ${options.min}, not ${raw}`)
    }
    if (options.max !== undefined && value > options.max) {
      throw new RangeError(`${key} must be at most ${options.max}, not ${raw}`)
    }
    return value
  }
  const integer = (v: string) => /^\d+$/.test(v) ? Number(v) : NaN
  const decimal = (v: string) => /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN

  return {
    tag,
    raw: (key) => values.get(key),
    has: (key) => values.has(key),
    integer: (key, options = {}) => read(key, options, integer, 'whole number'),
    number: (key, options = {}) => read(key, options, decimal, 'number'),
    size: (key, options = {}) => read(key, options, parseSize, 'size'),
    duration: (key, options = {}) => read(key, options, parseDuration, 'duration'),
    choice(key, choices, fallback) {
      const raw = values.get(key)
      if (raw === undefined) return fallback
      const found = choices.find((c) => c === raw)
      if (!found) throw new RangeError(`${key} must be one of ${choices.join(', ')}, not "${raw}"`)
      return found
    },
  }
}
