// Command-line options declared once: the parseArgs call, the environment fallback and the
// `--help` text all come from the same table. Precedence: flag > environment > default.
import { parseArgs } from 'node:util'

/** One option of a subcommand. */
export interface OptionSpec {
  type: 'string' | 'boolean'
  help: string
  /** Environment variable read when the flag is absent. */
  env?: string
  default?: string
  /** Shown in help after the flag: `--port PORT`. */
  value?: string
  choices?: readonly string[]
  multiple?: boolean
}

export type OptionTable = Record<string, OptionSpec>

/** Bad usage: the CLI prints the message and the usage, and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** The resolved values: strings (or lists) for string options, booleans for flags. */
export type OptionValues = Record<string, string | string[] | boolean | undefined>

/** Parses argv against a table, filling gaps from the environment and defaults. */
export function parseOptions(
  table: OptionTable,
  argv: string[],
  env: Record<string, string | undefined>,
  allowPositionals = false,
): { values: OptionValues; positionals: string[] } {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        ...Object.fromEntries(
          Object.entries(table).map((
            [name, o],
          ) => [name, { type: o.type, multiple: o.multiple ?? false }]),
        ),
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals,
      strict: true,
    })
  } catch (err) {
    if (!String((err as { code?: string }).code).startsWith('ERR_PARSE_ARGS')) throw err
    throw new UsageError((err as Error).message.replace(/\. To specify a positional.*$/s, ''))
  }
  const given = parsed.values as OptionValues
  const values: OptionValues = { help: given.help }
  for (const [name, spec] of Object.entries(table)) {
    let value = given[name]
    const fromEnv = spec.env ? env[spec.env] : undefined
    if (value === undefined && fromEnv !== undefined && fromEnv !== '') {
      // An environment variable holds a list as comma-separated values.
      value = spec.type === 'boolean'
        ? /^(1|true|yes|on)$/i.test(fromEnv)
        : spec.multiple
        ? fromEnv.split(',').map((s) => s.trim()).filter(Boolean)
        : fromEnv
    }
    value ??= spec.default
    for (const v of [value].flat()) {
      if (spec.choices && typeof v === 'string' && !spec.choices.includes(v)) {
        const source = given[name] === undefined && fromEnv ? spec.env : `--${name}`
        throw new UsageError(`Invalid ${source} "${v}": use one of ${spec.choices.join(', ')}`)
      }
    }
    values[name] = value
  }
  return { values, positionals: parsed.positionals }
}

/** The options part of `--help`. */
export function formatOptions(table: OptionTable): string {
  const rows = Object.entries(table).map(([name, o]) => {
    const flag = `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`
    const extras = [
      o.choices && `one of ${o.choices.join('|')}`,
      o.default !== undefined && `default ${o.default}`,
      o.env && `env ${o.env}`,
      o.multiple && 'repeatable',
    ].filter(Boolean)
    return [flag, `${o.help}${extras.length ? ` (${extras.join('; ')})` : ''}`]
  })
  rows.push(['-h, --help', 'Show this help'])
  const width = Math.max(...rows.map(([flag]) => flag.length))
  return rows.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`).join('\n')
}
