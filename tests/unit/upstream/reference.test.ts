// parseUpstreamName(): which upstream registry and repository a proxied name means, with Docker
// Hub's spellings and the default registry for names without a host.
import { describe, expect, test } from 'bun:test'
import { isLoopbackHost, parseUpstreamName } from '../../../src/upstream/reference.ts'

describe('parseUpstreamName()', () => {
  test.each([
    ['docker.io/library/nginx', 'docker.io', 'registry-1.docker.io', 'library/nginx'],
    ['docker.io/nginx', 'docker.io', 'registry-1.docker.io', 'library/nginx'],
    ['index.docker.io/nginx', 'docker.io', 'registry-1.docker.io', 'library/nginx'],
    ['localhost/x', 'localhost', 'localhost', 'x'],
    ['127.0.0.1:5001/team/app', '127.0.0.1:5001', '127.0.0.1:5001', 'team/app'],
    ['ghcr.io/owner/tool', 'ghcr.io', 'ghcr.io', 'owner/tool'],
    ['stackrox-io/main', 'quay.io', 'quay.io', 'stackrox-io/main'],
    ['single', 'quay.io', 'quay.io', 'single'],
  ])('%p is %p repository %p', (name, registry, host, repository) => {
    expect(parseUpstreamName(name, 'quay.io')).toEqual({
      registry,
      host,
      repository,
      cacheName: `${registry}/${repository}`,
    })
  })

  test('a name without a host goes to the default registry given', () => {
    expect(parseUpstreamName('team/app', '127.0.0.1:5001')).toEqual({
      registry: '127.0.0.1:5001',
      host: '127.0.0.1:5001',
      repository: 'team/app',
      cacheName: '127.0.0.1:5001/team/app',
    })
  })

  test('a one-component name on a docker.io default gains library/', () => {
    expect(parseUpstreamName('nginx', 'docker.io').repository).toBe('library/nginx')
  })

  test('every spelling of a Docker Hub image shares one cache name', () => {
    const names = ['nginx', 'docker.io/nginx', 'docker.io/library/nginx', 'index.docker.io/nginx']
    const cacheNames = names.map((name) => parseUpstreamName(name, 'docker.io').cacheName)
    expect(new Set(cacheNames)).toEqual(new Set(['docker.io/library/nginx']))
  })
})

describe('isLoopbackHost()', () => {
  test.each([
    ['localhost', true],
    ['localhost:5000', true],
    ['127.0.0.1:5001', true],
    ['127.1.2.3', true],
    ['[::1]:5000', true],
    ['10.0.0.1:5000', false],
    ['quay.io', false],
  ])('%p is loopback: %p', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback)
  })
})

test('isLoopbackHost() knows IPv4-mapped and bracketed IPv6 loopback addresses', () => {
  expect(isLoopbackHost('::ffff:127.0.0.1')).toBe(true)
  expect(isLoopbackHost('[::1]:5000')).toBe(true)
  expect(isLoopbackHost('::ffff:10.0.0.1')).toBe(false)
})
