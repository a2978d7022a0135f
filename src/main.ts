// The binary's entry point, and the only file that exits the process.
import process from 'node:process'
import { runCli } from './cli/index.ts'

const untilSignal = () =>
  new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })

try {
  const code = await runCli(process.argv.slice(2), {
    stdout: (line) => void process.stdout.write(`${line}\n`),
    stderr: (line) => void process.stderr.write(`${line}\n`),
    write: (text) => void process.stdout.write(text),
    stdoutIsTty: Boolean(process.stdout.isTTY),
    env: process.env,
    untilSignal,
  })
  process.exit(code)
} catch (err) {
  process.stderr.write(`broken-reg: ${(err as Error).stack ?? err}\n`)
  process.exit(1)
}
