// The shape of a subcommand and of the process facilities it may use.
import type { OptionTable, OptionValues } from './options.ts'

/** What a command may touch of the process: streams, environment, signals. */
export interface Io {
  stdout(line: string): void
  stderr(line: string): void
  /** Writes to stdout without a newline (live progress on a terminal). */
  write(text: string): void
  stdoutIsTty: boolean
  env: Record<string, string | undefined>
  /** Resolves on the first SIGINT or SIGTERM. */
  untilSignal(): Promise<void>
}

/** One subcommand of the binary. */
export interface Command {
  name: string
  summary: string
  usage: string
  options: OptionTable
  positionals?: boolean
  /** Returns the exit code: 0 success, 1 failure. Throws UsageError for bad usage. */
  run(args: { values: OptionValues; positionals: string[] }, io: Io): Promise<number>
}
