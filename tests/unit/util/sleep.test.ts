// sleep(): aborts at once, and waits past the 24.8 days a single timer can hold.
import { expect, test } from 'bun:test'
import { sleep } from '../../../src/util/sleep.ts'

test('a delay longer than a timer can hold does not fire early', async () => {
  const controller = new AbortController()
  const outcome = await Promise.race([
    sleep(2 ** 31 + 1000, controller.signal).then(() => 'slept'),
    Bun.sleep(50).then(() => 'still waiting'),
  ])
  expect(outcome).toBe('still waiting')
  controller.abort()
})

test('an abort rejects with an AbortError at once', async () => {
  const controller = new AbortController()
  const pending = sleep(60_000, controller.signal)
  controller.abort()
  await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
})
