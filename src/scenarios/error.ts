// broken/error:<status>: answers manifest requests with an error, as the original tool did for
// 400, 403, 404, 405 and 500 (its codes and messages exactly), and with any status 400-599
// beyond them. Docker shows codes it does not know as "unknown: <message>".
import { STATUS_CODES } from 'node:http'
import type { ErrorCode } from '../registry/errors.ts'
import { RegistryError } from '../registry/errors.ts'
import { parseTagParams } from './tag-params.ts'
import { defineScenario } from './types.ts'

/** The original tool's answers, kept byte for byte. */
const ORIGINAL: Record<number, [ErrorCode, string]> = {
  400: ['MANIFEST_INVALID', 'Eww! That request looks bad, very bad... just awful.'],
  403: ['FORBIDDEN', 'Fakereg: Access to this resource is forbidden'],
  404: ['MANIFEST_UNKNOWN', 'Looking for something?'],
  405: ['UNAUTHORIZED', 'Method not allowed'],
  500: ['INTERNAL_SERVER_ERROR', 'Working as intended... probably...'],
}
const HUH: [ErrorCode, string] = ['NOT_IMPLEMENTED', 'Huh?']

/** The code that fits other statuses: the spec's where one exists. */
const FITTING: Record<number, ErrorCode> = {
  401: 'UNAUTHORIZED',
  408: 'TIMEOUT',
  410: 'MANIFEST_UNKNOWN',
  411: 'SIZE_INVALID',
  413: 'SIZE_INVALID',
  414: 'NAME_INVALID',
  415: 'UNSUPPORTED',
  429: 'TOOMANYREQUESTS',
  501: 'NOT_IMPLEMENTED',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'UNAVAILABLE',
}

interface Params {
  status: number
  retryAfterMs?: number
}

export const error = defineScenario<Params>({
  name: 'error',
  summary:
    'Answer manifest requests with an HTTP error: the original 400/403/404/405/500, or any 400-599',
  example: '429_retry-after-5s',
  params: [
    {
      key: '<status>',
      summary:
        'the status: 400, 403, 404, 405, 500 as the original tool; any other 400-599 with a fitting code; anything else 501 "Huh?"',
    },
    {
      key: 'retry-after',
      summary: 'add a Retry-After header (Go duration, rounded up to seconds)',
    },
  ],
  parse(tag) {
    const [first, ...rest] = tag.split('_')
    const status = /^[45]\d\d$/.test(first) ? Number(first) : 0
    if (!status) return { status: 0 } // the original answered any other tag with 501 "Huh?"
    const retryAfterMs = rest.length
      ? parseTagParams(rest.join('_'), ['retry-after']).duration('retry-after', { min: 0 })
      : undefined
    return { status, retryAfterMs }
  },
  async handle(_c, params, { stage, correct }) {
    if (stage !== 'manifest') return correct()
    const { status = 0, retryAfterMs } = params ?? {}
    const [code, message] = ORIGINAL[status] ?? (status ? fitting(status) : HUH)
    const headers: Record<string, string> = {}
    if (retryAfterMs !== undefined) headers['Retry-After'] = String(Math.ceil(retryAfterMs / 1000))
    if (status === 401) headers['WWW-Authenticate'] = 'Basic realm="broken-reg"'
    throw new RegistryError(code, { status: (status || 501) as 501, message, headers })
  },
})

function fitting(status: number): [ErrorCode, string] {
  const code = FITTING[status] ?? (status < 500 ? 'DENIED' : 'UNKNOWN')
  return [code, `broken/error: ${status} ${STATUS_CODES[status] ?? 'Error'}`]
}
