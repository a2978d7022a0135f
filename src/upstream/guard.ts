// Keeps the proxy from being an open door into the network it runs in: upstream hosts that
// resolve to private, loopback or link-local addresses are refused unless allowed.
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { RegistryError } from '../registry/errors.ts'
import { isLoopbackHost } from './reference.ts'

/** Which internal upstreams are allowed. */
export interface GuardOptions {
  /** Hosts (with or without port) allowed whatever they resolve to. */
  allow: readonly string[]
  /** Loopback upstreams are allowed (by default when the server itself listens on loopback). */
  allowLoopback: boolean
}

/** Returns a check that throws DENIED for a host this server must not reach. */
export function createHostGuard({ allow, allowLoopback }: GuardOptions) {
  const allowed = new Set(allow.map((h) => h.toLowerCase()))
  return async (hostPort: string): Promise<void> => {
    const host = hostPort.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1').toLowerCase()
    if (allowed.has(hostPort.toLowerCase()) || allowed.has(host)) return
    const addresses = isIP(host) ? [host] : await resolve(host)
    for (const address of addresses) {
      const kind = classify(address)
      if (!kind || (kind === 'loopback' && allowLoopback && isLoopbackHost(address))) continue
      throw new RegistryError('DENIED', {
        message: `Upstream ${hostPort} resolves to the ${kind} address ${address}; ` +
          `allow it with --allow-upstream ${hostPort}`,
        detail: { host: hostPort, address },
      })
    }
  }
}

async function resolve(host: string): Promise<string[]> {
  try {
    return (await lookup(host, { all: true })).map((a) => a.address)
  } catch (err) {
    throw new RegistryError('UNAVAILABLE', {
      status: 502,
      message: `Cannot resolve upstream ${host}: ${(err as Error).message}`,
      detail: { host },
    })
  }
}

/** The kind of internal address, or undefined for a public one. */
export function classify(address: string): 'loopback' | 'private' | 'link-local' | undefined {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  if (isIP(v4) === 4) {
    const [a, b] = v4.split('.').map(Number)
    if (a === 127) return 'loopback'
    if (a === 10 || a === 0 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168)) {
      return 'private'
    }
    if (a === 100 && b >= 64 && b < 128) return 'private'
    if (a === 169 && b === 254) return 'link-local'
    return undefined
  }
  const lower = address.toLowerCase()
  if (lower === '::1') return 'loopback'
  if (lower === '::') return 'private'
  if (/^f[cd]/.test(lower)) return 'private'
  if (/^fe[89ab]/.test(lower)) return 'link-local'
  return undefined
}
