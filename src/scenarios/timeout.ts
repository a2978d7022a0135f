// broken/timeout:dur-<duration>: waits, then answers 408, as the original tool did. Docker sends
// HEAD then GET, so a pull takes twice the duration; containerd retries 408 up to five times.
import { RegistryError } from '../registry/errors.ts'
import { parseDuration } from '../util/duration.ts'
import { defineScenario } from './types.ts'

export const timeout = defineScenario<{ ms: number }>({
  name: 'timeout',
  summary: 'Wait the duration, then answer 408 TIMEOUT "Timeout duration has elapsed!"',
  example: 'dur-5s',
  params: [{ key: 'dur', summary: 'how long to wait, in Go syntax: 300ms, 5s, 1h2m3s' }],
  parse(tag) {
    // As the original: other pairs are ignored, and a tag without `dur-` is "missing" it.
    const raw = tag.split('_').findLast((pair) => pair.startsWith('dur-'))?.slice(4)
    if (raw === undefined) throw new RangeError('Tag missing duration')
    try {
      return { ms: Math.max(0, parseDuration(raw)) }
    } catch (err) {
      throw new RangeError(`error parsing duration: ${(err as Error).message}`)
    }
  },
  async handle(_c, params, { stage, sleep, correct }) {
    if (stage !== 'manifest' || !params) return correct()
    await sleep(params.ms)
    throw new RegistryError('TIMEOUT', { message: 'Timeout duration has elapsed!' })
  },
})
