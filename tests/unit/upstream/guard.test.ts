// classify() and createHostGuard(): upstreams on private, loopback and link-local addresses are
// refused unless allowed, so the proxy is no door into the network it runs in.
import { describe, expect, test } from 'bun:test'
import { RegistryError } from '../../../src/registry/errors.ts'
import { classify, createHostGuard } from '../../../src/upstream/guard.ts'

describe('classify()', () => {
  test.each([
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.1.10', 'private'],
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['::1', 'loopback'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fe80::1', 'link-local'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['8.8.8.8', undefined],
    ['172.15.0.1', undefined],
    ['172.32.0.1', undefined],
    ['192.169.0.1', undefined],
    ['2606:4700:4700::1111', undefined],
  ])('%p is %p', (address, kind) => {
    expect(classify(address)).toBe(kind as ReturnType<typeof classify>)
  })
})

describe('createHostGuard()', () => {
  test('refuses a private address with DENIED naming the flag that allows it', async () => {
    const guard = createHostGuard({ allow: [], allowLoopback: true })
    const refused = await guard('10.1.2.3:5000').then(() => undefined, (err: unknown) => err)
    expect(refused).toBeInstanceOf(RegistryError)
    expect((refused as RegistryError).code).toBe('DENIED')
    expect((refused as RegistryError).message).toContain('--allow-upstream 10.1.2.3:5000')
  })

  test('lets loopback through only when loopback is allowed', async () => {
    const open = createHostGuard({ allow: [], allowLoopback: true })
    const closed = createHostGuard({ allow: [], allowLoopback: false })
    expect(await open('127.0.0.1:5001')).toBeUndefined()
    await expect(closed('127.0.0.1:5001')).rejects.toBeInstanceOf(RegistryError)
  })

  test('lets an allowed host through with or without its port', async () => {
    const withPort = createHostGuard({ allow: ['10.1.2.3:5000'], allowLoopback: false })
    const bare = createHostGuard({ allow: ['10.1.2.3'], allowLoopback: false })
    expect(await withPort('10.1.2.3:5000')).toBeUndefined()
    expect(await bare('10.1.2.3:5000')).toBeUndefined()
  })
})
