// An abortable sleep: the timer is cleared the moment the signal aborts, so nothing lingers.

/** The longest delay one timer takes; longer ones fire at once, so they are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal))
    let timer: ReturnType<typeof setTimeout>
    const onAbort = () => {
      clearTimeout(timer)
      reject(abortError(signal!))
    }
    const until = Date.now() + Math.max(0, ms)
    const wait = () => {
      const left = until - Date.now()
      if (left > 0) return void (timer = setTimeout(wait, Math.min(left, MAX_TIMER_MS)))
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    timer = setTimeout(wait, Math.min(Math.max(0, ms), MAX_TIMER_MS))
  })
}

function abortError(signal: AbortSignal) {
  return signal.reason instanceof Error && signal.reason.name === 'AbortError'
    ? signal.reason
    : new DOMException(String(signal.reason ?? 'aborted'), 'AbortError')
}
