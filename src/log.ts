// Logging: one line per event, as text or as JSON lines, to a sink the caller provides.

export type LogFormat = 'text' | 'json'
type Fields = Record<string, string | number | boolean | null | undefined>

/** Writes log lines. */
export interface Logger {
  info(message: string, fields?: Fields): void
  error(message: string, fields?: Fields, err?: unknown): void
}

/** A logger writing `format` lines through `write`. */
export function createLogger(format: LogFormat, write: (line: string) => void): Logger {
  const emit = (level: string, message: string, fields: Fields = {}) => {
    if (format === 'json') {
      write(JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields }))
      return
    }
    const pairs = Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'string' && /[\s"]/.test(v) ? JSON.stringify(v) : v}`)
    write([new Date().toISOString(), level, message, ...pairs].join(' '))
  }
  return {
    info: (message, fields) => emit('info', message, fields),
    error: (message, fields, err) =>
      emit('error', message, { ...fields, error: err === undefined ? undefined : String(err) }),
  }
}

/** A logger that drops everything, for tests. */
export const silentLogger: Logger = { info() {}, error() {} }
