// `broken-reg gc`: prunes the data directory, also while `serve` runs on it.
import { DATA_DIR_OPTION, resolveDataDir } from '../config.ts'
import { collectGarbage, type GcAction } from '../registry/gc.ts'
import { createFsStorage } from '../storage/fs.ts'
import { parseDuration } from '../util/duration.ts'
import { formatSize, parseSize } from '../util/size.ts'
import { UsageError } from './options.ts'
import type { Command } from './types.ts'

export const gcCommand: Command = {
  name: 'gc',
  summary: 'Prune the store: unreferenced blobs, expired cache, stale uploads',
  usage: 'broken-reg gc [options]',
  options: {
    'data-dir': DATA_DIR_OPTION,
    'untagged': {
      type: 'boolean',
      help: 'Also remove manifests that no tag or kept manifest reaches',
    },
    'max-age': {
      type: 'string',
      value: 'DURATION',
      help: 'Expire proxied images not pulled within DURATION (72h)',
    },
    'max-size': {
      type: 'string',
      value: 'SIZE',
      help: 'Expire least recently pulled proxied images until the store fits SIZE (10g)',
    },
    'upload-ttl': {
      type: 'string',
      value: 'DURATION',
      default: '24h',
      help: 'Remove upload sessions older than this',
    },
    'grace': {
      type: 'string',
      value: 'DURATION',
      default: '1h',
      help: 'Never remove what was written or used within this',
    },
    'dry-run': {
      type: 'boolean',
      help: 'Print what would be removed and the bytes freed; change nothing',
    },
    'json': { type: 'boolean', help: 'One JSON object per action, then a summary object' },
  },
  async run({ values }, io) {
    const option = <T>(name: string, parse: (v: string) => T): T | undefined => {
      const value = values[name] as string | undefined
      if (value === undefined) return undefined
      try {
        return parse(value)
      } catch (err) {
        throw new UsageError(`Invalid --${name} "${value}": ${(err as Error).message}`)
      }
    }
    const options = {
      untagged: Boolean(values.untagged),
      maxAgeMs: option('max-age', parseDuration),
      maxSize: option('max-size', parseSize),
      uploadTtlMs: option('upload-ttl', parseDuration)!,
      graceMs: option('grace', parseDuration)!,
      dryRun: Boolean(values['dry-run']),
      now: Date.now(),
    }
    const storage = await createFsStorage(resolveDataDir(values, io.env))
    const verb = options.dryRun ? 'would remove' : 'removed'
    const print = (a: GcAction) =>
      io.stdout(
        values.json ? JSON.stringify({ ...a, dryRun: options.dryRun }) : formatAction(verb, a),
      )
    const started = performance.now()
    const { actions, bytesFreed } = await collectGarbage(storage, options, print)
    const seconds = (performance.now() - started) / 1000
    const summary = { removed: actions.length, bytesFreed, dryRun: options.dryRun, seconds }
    io.stdout(
      values.json
        ? JSON.stringify(summary)
        : `${verb} ${actions.length} items, ${formatSize(bytesFreed)} freed, in ${
          seconds.toFixed(2)
        } s`,
    )
    return 0
  },
}

function formatAction(verb: string, a: GcAction): string {
  const where = a.repository ? `${a.repository} ` : ''
  const size = a.bytes ? ` (${formatSize(a.bytes)})` : ''
  return `${verb} ${a.kind} ${where}${a.target}${size}: ${a.reason}`
}
