// The server's configuration: its options (flags with the original tool's environment names),
// and resolve(), which turns parsed values into a frozen Config or a UsageError.
import { join } from 'node:path'
import { type OptionTable, type OptionValues, UsageError } from './cli/options.ts'
import type { LogFormat } from './log.ts'
import { DEFAULT_MANIFEST_LIMIT } from './registry/constants.ts'
import { parseSize } from './util/size.ts'

/** The options of `broken-reg serve`. */
export const SERVE_OPTIONS = {
  'host': { type: 'string', value: 'ADDR', env: 'BIND_HOST', default: '0.0.0.0', help: 'Address to listen on' },
  'port': { type: 'string', value: 'PORT', env: 'BIND_PORT', default: '8080', help: 'Port to listen on; 0 picks a free one' },
  'data-dir': { type: 'string', value: 'DIR', env: 'BLOB_DIR', default: '$HOME/broken-reg', help: 'Where blobs, manifests and uploads are kept' },
  'tls-cert': { type: 'string', value: 'FILE', env: 'CERT_FILE', help: 'PEM certificate: serve HTTPS (needs --tls-key)' },
  'tls-key': { type: 'string', value: 'FILE', env: 'KEY_FILE', help: 'PEM private key of --tls-cert' },
  'storage': { type: 'string', value: 'KIND', env: 'BROKEN_REG_STORAGE', default: 'fs', choices: ['fs', 'memory'], help: 'Storage adapter' },
  'hasher': { type: 'string', value: 'KIND', env: 'BROKEN_REG_HASHER', default: 'native', choices: ['native', 'noble'], help: 'SHA-256 implementation' },
  'log-format': { type: 'string', value: 'FORMAT', env: 'BROKEN_REG_LOG_FORMAT', default: 'text', choices: ['text', 'json'], help: 'Log line format (stderr)' },
  'manifest-limit': { type: 'string', value: 'SIZE', env: 'BROKEN_REG_MANIFEST_LIMIT', default: '4m', help: 'Largest manifest a push may send (k/m/g)' },
  'no-validate': { type: 'boolean', env: 'BROKEN_REG_NO_VALIDATE', help: 'Accept any manifest bytes, for preparing invalid images' },
} as const satisfies OptionTable

/** The server's settings, resolved. */
export interface Config {
  host: string
  port: number
  dataDir: string
  tls?: { certFile: string; keyFile: string }
  storage: 'fs' | 'memory'
  hasher: 'native' | 'noble'
  logFormat: LogFormat
  manifestLimit: number
  validate: boolean
}

/** Turns parsed option values into a Config; throws UsageError on a bad value. */
export function resolveConfig(values: OptionValues, env: Record<string, string | undefined>): Config {
  const str = (name: keyof typeof SERVE_OPTIONS) => values[name] as string | undefined
  const port = Number(str('port'))
  if (!/^\d+$/.test(str('port') ?? '') || port > 65535) {
    throw new UsageError(`Invalid port "${str('port')}": use a number from 0 to 65535`)
  }
  const certFile = str('tls-cert')
  const keyFile = str('tls-key')
  if (!certFile !== !keyFile) throw new UsageError('--tls-cert and --tls-key go together')
  let manifestLimit = DEFAULT_MANIFEST_LIMIT
  try {
    manifestLimit = parseSize(str('manifest-limit') ?? '4m')
  } catch (err) {
    throw new UsageError(`Invalid --manifest-limit: ${(err as Error).message}`)
  }
  const home = env.HOME ?? env.USERPROFILE ?? '.'
  return Object.freeze({
    host: str('host') ?? '0.0.0.0',
    port,
    dataDir: (str('data-dir') ?? '').replace(/^\$HOME(?=\/|$)|^~(?=\/|$)/, home) || join(home, 'broken-reg'),
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    storage: str('storage') as Config['storage'],
    hasher: str('hasher') as Config['hasher'],
    logFormat: str('log-format') as LogFormat,
    manifestLimit,
    validate: !values['no-validate'],
  })
}
