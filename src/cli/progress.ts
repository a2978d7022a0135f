// Progress of a batch of items (seed): on a terminal a live line per item with bytes and a
// total; otherwise one line per finished item; with --json one JSON object per item.
import { formatSize } from '../util/size.ts'
import type { Io } from './types.ts'

/** Reports one batch; `summary` returns whether everything succeeded. */
export function createProgress(io: Io, json: boolean) {
  let total = 0
  let failed = 0
  let done = 0
  const live = io.stdoutIsTty && !json
  return {
    /** Starts an item; report its bytes as they pass, then finish or fail it. */
    item(name: string) {
      let bytes = 0
      const started = performance.now()
      const seconds = () => ((performance.now() - started) / 1000).toFixed(1)
      return {
        bytes(n: number) {
          bytes += n
          total += n
          if (live) io.write(`\r\x1b[K${name}: ${formatSize(bytes)} (total ${formatSize(total)})`)
        },
        finish(result: string) {
          done++
          if (live) io.write('\r\x1b[K')
          io.stdout(
            json
              ? JSON.stringify({ item: name, ok: true, result, bytes, seconds: Number(seconds()) })
              : `ok ${name}: ${result} (${formatSize(bytes)}, ${seconds()} s)`,
          )
        },
        fail(err: unknown) {
          failed++
          if (live) io.write('\r\x1b[K')
          const message = err instanceof Error ? err.message : String(err)
          if (json) io.stdout(JSON.stringify({ item: name, ok: false, error: message }))
          else io.stderr(`failed ${name}: ${message}`)
        },
      }
    },
    /** Prints the totals; true when no item failed. */
    summary(): boolean {
      io.stdout(
        json
          ? JSON.stringify({ done, failed, bytes: total })
          : `${done} done, ${failed} failed, ${formatSize(total)} in all`,
      )
      return failed === 0
    },
  }
}
