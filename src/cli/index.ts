// runCli(argv, io): parses the command line, dispatches to a subcommand and returns the exit
// code: 0 success, 1 failure, 2 bad usage.
import pkg from '../../package.json' with { type: 'json' }
import { formatOptions, parseOptions, UsageError } from './options.ts'
import { gcCommand } from './gc.ts'
import { seedCommand } from './seed.ts'
import { serveCommand } from './serve.ts'
import type { Command, Io } from './types.ts'

export type { Io } from './types.ts'

const COMMANDS: Command[] = [serveCommand, seedCommand, gcCommand]

/** The top-level `--help`. */
export function formatUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  return [
    `broken-reg ${pkg.version}: a container image registry that fails on demand`,
    '',
    'Usage: broken-reg <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `broken-reg <command> --help` for its options.',
  ].join('\n')
}

function formatCommandUsage(command: Command): string {
  return [
    `Usage: ${command.usage}`,
    '',
    command.summary,
    '',
    'Options:',
    formatOptions(command.options),
  ]
    .join('\n')
}

/** Runs the command line; the caller exits with the returned code. */
export async function runCli(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(formatUsage())
    return name === undefined ? 2 : 0
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout(pkg.version)
    return 0
  }
  const command = COMMANDS.find((c) => c.name === name)
  if (!command) {
    io.stderr(`broken-reg: unknown command "${name}"\n\n${formatUsage()}`)
    return 2
  }
  try {
    const args = parseOptions(command.options, rest, io.env, command.positionals)
    if (args.values.help) {
      io.stdout(formatCommandUsage(command))
      return 0
    }
    return await command.run(args, io)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    io.stderr(`broken-reg ${name}: ${err.message}\n\n${formatCommandUsage(command)}`)
    return 2
  }
}
