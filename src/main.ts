// The binary's entry point, and the only file that exits the process.
import process from 'node:process'
import { runCli } from './cli/index.ts'

const untilSignal = () =>
  new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve())
    process.once('SIGTERM', () => resolve())
  })

// Log lines are gathered and written once per turn of the event loop: at thousands of requests
// a second, one write per line would cost more than answering them.
let logged = ''
const flushLog = () => {
  if (logged) process.stderr.write(logged)
  logged = ''
}
const log = (line: string) => {
  if (!logged) setImmediate(flushLog)
  logged += `${line}\n`
  if (logged.length > 1 << 16) flushLog()
}

let code = 1
try {
  code = await runCli(process.argv.slice(2), {
    stdout: (line) => void process.stdout.write(`${line}\n`),
    stderr: log,
    write: (text) => void process.stdout.write(text),
    stdoutIsTty: Boolean(process.stdout.isTTY),
    env: process.env,
    untilSignal,
  })
} catch (err) {
  log(`broken-reg: ${(err as Error).stack ?? err}`)
}
flushLog()
process.exit(code)
