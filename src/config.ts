// The server's configuration: its options (flags with the original tool's environment names),
// and resolveConfig(), which turns parsed values into a frozen Config or a UsageError.
import { join } from 'node:path'
import { type OptionTable, type OptionValues, UsageError } from './cli/options.ts'
import type { LogFormat } from './log.ts'
import { DEFAULT_MANIFEST_LIMIT } from './registry/constants.ts'
import { parseDuration } from './util/duration.ts'
import { parseSize } from './util/size.ts'

/** The data directory, shared by serve, seed and gc. */
export const DATA_DIR_OPTION = {
  type: 'string',
  value: 'DIR',
  env: 'BLOB_DIR',
  default: '$HOME/broken-reg',
  help: 'Where blobs, manifests and uploads are kept',
} as const

/** The data directory the options name, with `$HOME` and `~` expanded. */
export function resolveDataDir(values: OptionValues, env: Record<string, string | undefined>) {
  const home = env.HOME ?? env.USERPROFILE ?? '.'
  const dir = ((values['data-dir'] as string | undefined) ?? '').replace(
    /^(\$HOME|~)(?=\/|$)/,
    home,
  )
  return dir || join(home, 'broken-reg')
}

/** The options of `broken-reg serve`. */
export const SERVE_OPTIONS = {
  'host': {
    type: 'string',
    value: 'ADDR',
    env: 'BIND_HOST',
    default: '0.0.0.0',
    help: 'Address to listen on',
  },
  'port': {
    type: 'string',
    value: 'PORT',
    env: 'BIND_PORT',
    default: '8080',
    help: 'Port to listen on; 0 picks a free one',
  },
  'data-dir': DATA_DIR_OPTION,
  'tls-cert': {
    type: 'string',
    value: 'FILE',
    env: 'CERT_FILE',
    help: 'PEM certificate: serve HTTPS (needs --tls-key)',
  },
  'tls-key': {
    type: 'string',
    value: 'FILE',
    env: 'KEY_FILE',
    help: 'PEM private key of --tls-cert',
  },
  'storage': {
    type: 'string',
    value: 'KIND',
    env: 'BROKEN_REG_STORAGE',
    default: 'fs',
    choices: ['fs', 'memory'],
    help: 'Storage adapter',
  },
  'hasher': {
    type: 'string',
    value: 'KIND',
    env: 'BROKEN_REG_HASHER',
    default: 'native',
    choices: ['native', 'noble'],
    help: 'SHA-256 implementation',
  },
  'log-format': {
    type: 'string',
    value: 'FORMAT',
    env: 'BROKEN_REG_LOG_FORMAT',
    default: 'text',
    choices: ['text', 'json'],
    help: 'Log line format (stderr)',
  },
  'manifest-limit': {
    type: 'string',
    value: 'SIZE',
    env: 'BROKEN_REG_MANIFEST_LIMIT',
    default: '4m',
    help: 'Largest manifest a push may send (k/m/g)',
  },
  'no-validate': {
    type: 'boolean',
    env: 'BROKEN_REG_NO_VALIDATE',
    help: 'Accept any manifest bytes, for preparing invalid images',
  },
  'catalog-delay': {
    type: 'string',
    value: 'DURATION',
    env: 'V2_CATALOG_DELAY',
    help: 'Stall /v2/_catalog this long (Go duration: 300ms, 5s)',
  },
  'catalog-num-repos': {
    type: 'string',
    value: 'N',
    env: 'V2_CATALOG_NUM_REPOS',
    help: 'Answer /v2/_catalog with N fabricated repositories (/repo/path0 … /repo/last)',
  },
  'warning': {
    type: 'string',
    value: 'P:MESSAGE',
    env: 'BROKEN_REG_WARNING',
    multiple: true,
    help:
      'Add `Warning: 299 - "MESSAGE"` to responses with probability P (0-1); env: comma-separated',
  },
  'upstream': {
    type: 'string',
    value: 'HOST',
    env: 'BROKEN_REG_UPSTREAM',
    default: 'quay.io',
    help: 'Registry of proxied names without a host (`stackrox-io/main`)',
  },
  'insecure-upstream': {
    type: 'string',
    value: 'HOST',
    env: 'BROKEN_REG_INSECURE_UPSTREAM',
    multiple: true,
    help: 'Reach this upstream over plain HTTP (loopback hosts always are)',
  },
  'allow-upstream': {
    type: 'string',
    value: 'HOST',
    env: 'BROKEN_REG_ALLOW_UPSTREAM',
    multiple: true,
    help: 'Allow an upstream that resolves to a private, loopback or link-local address',
  },
  'cache-ttl': {
    type: 'string',
    value: 'DURATION',
    env: 'BROKEN_REG_CACHE_TTL',
    default: '5m',
    help: 'How long a proxied tag is served from cache before it is checked upstream again',
  },
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
  catalogDelayMs: number
  catalogFakeRepos: number
  warnings: { probability: number; message: string }[]
  upstream: string
  insecureUpstreams: string[]
  allowedUpstreams: string[]
  cacheTtlMs: number
}

type Name = keyof typeof SERVE_OPTIONS

/** Turns parsed option values into a Config; throws UsageError on a bad value. */
export function resolveConfig(
  values: OptionValues,
  env: Record<string, string | undefined>,
): Config {
  // Commands that take only some of these options get the defaults of the rest.
  const str = (name: Name) =>
    (values[name] ?? (SERVE_OPTIONS[name] as { default?: string }).default) as string | undefined
  /** Parses an option's value, turning a failure into a UsageError that names the option. */
  const parsed = <T>(name: Name, parse: (value: string) => T, fallback: T): T => {
    const value = str(name)
    if (value === undefined) return fallback
    try {
      return parse(value)
    } catch (err) {
      const source = env[SERVE_OPTIONS[name].env] === value ? SERVE_OPTIONS[name].env : `--${name}`
      throw new UsageError(`Invalid ${source} "${value}": ${(err as Error).message}`)
    }
  }
  const certFile = str('tls-cert')
  const keyFile = str('tls-key')
  if (!certFile !== !keyFile) throw new UsageError('--tls-cert and --tls-key go together')
  return Object.freeze({
    host: str('host') ?? '0.0.0.0',
    port: parsed('port', (v) => wholeNumber(v, 65535), 8080),
    dataDir: resolveDataDir(values, env),
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    storage: str('storage') as Config['storage'],
    hasher: str('hasher') as Config['hasher'],
    logFormat: str('log-format') as LogFormat,
    manifestLimit: parsed('manifest-limit', parseSize, DEFAULT_MANIFEST_LIMIT),
    validate: !values['no-validate'],
    catalogDelayMs: parsed('catalog-delay', parseDuration, 0),
    catalogFakeRepos: parsed('catalog-num-repos', (v) => wholeNumber(v, 1_000_000), 0),
    upstream: str('upstream') ?? 'quay.io',
    insecureUpstreams: (values['insecure-upstream'] as string[] | undefined) ?? [],
    allowedUpstreams: (values['allow-upstream'] as string[] | undefined) ?? [],
    cacheTtlMs: parsed('cache-ttl', parseDuration, 5 * 60_000),
    warnings: ((values.warning as string[] | undefined) ?? []).map((rule) => {
      try {
        return parseWarning(rule)
      } catch (err) {
        throw new UsageError(`Invalid --warning "${rule}": ${(err as Error).message}`)
      }
    }),
  })
}

function wholeNumber(value: string, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) > max) {
    throw new RangeError(`use a whole number from 0 to ${max}`)
  }
  return Number(value)
}

/** Parses `P:message`, P a probability from 0 to 1. */
export function parseWarning(rule: string) {
  const colon = rule.indexOf(':')
  const probability = Number(rule.slice(0, colon))
  const message = rule.slice(colon + 1)
  if (colon < 1 || !(probability >= 0 && probability <= 1) || !message) {
    throw new RangeError('use P:message with P from 0 to 1, e.g. 0.5:registry is degraded')
  }
  return { probability, message }
}
