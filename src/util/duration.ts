// Durations in Go syntax (`300ms`, `-1.5h`, `1h2m3s`): a port of Go's time.ParseDuration and
// Duration.String, error messages included, so tags written for the original tool behave the same.
// https://pkg.go.dev/time#ParseDuration

const NS_PER: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
}

const LIMIT = 1n << 63n
const MS = 1_000_000n
const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9'

/** Parses a Go duration into milliseconds (fractional below 1 ms); throws Go's RangeError text. */
export function parseDuration(text: string): number {
  const ns = parseNanoseconds(text)
  // Number(ns) / 1e6 would round twice; split to keep whole milliseconds exact.
  return Number(ns / MS) + Number(ns % MS) / 1e6 + 0 // `+ 0` turns -0 into 0, as Go has no -0
}

function parseNanoseconds(orig: string): bigint {
  const invalid = () => new RangeError(`time: invalid duration ${quote(orig)}`)
  let s = orig
  let neg = false
  if (s[0] === '-' || s[0] === '+') {
    neg = s[0] === '-'
    s = s.slice(1)
  }
  if (s === '0') return 0n
  if (s === '') throw invalid()
  let d = 0n
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) throw invalid()
    let i = 0
    let v = 0n
    for (; isDigit(s[i]); i++) {
      v = v * 10n + BigInt(s.charCodeAt(i) - 48)
      if (v > LIMIT) throw invalid()
    }
    const pre = i > 0
    s = s.slice(i)
    let f = 0n
    let scale = 1
    let post = false
    if (s[0] === '.') {
      s = s.slice(1)
      let overflow = false
      for (i = 0; isDigit(s[i]); i++) {
        if (overflow) continue
        // Go stops accumulating precision here instead of failing: `0.1000…0h` is valid.
        const y = f * 10n + BigInt(s.charCodeAt(i) - 48)
        if (f > (LIMIT - 1n) / 10n || y > LIMIT) {
          overflow = true
          continue
        }
        f = y
        scale *= 10
      }
      post = i > 0
      s = s.slice(i)
    }
    if (!pre && !post) throw invalid()
    for (i = 0; i < s.length && s[i] !== '.' && !isDigit(s[i]); i++);
    if (i === 0) throw new RangeError(`time: missing unit in duration ${quote(orig)}`)
    const u = s.slice(0, i)
    s = s.slice(i)
    const unit = NS_PER[u]
    if (unit === undefined) {
      throw new RangeError(`time: unknown unit ${quote(u)} in duration ${quote(orig)}`)
    }
    if (v > LIMIT / unit) throw invalid()
    v *= unit
    if (f > 0n) {
      // The same float64 arithmetic as Go, so fractions of hours round to the same nanosecond.
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)))
      if (v > LIMIT) throw invalid()
    }
    d += v
    if (d > LIMIT) throw invalid()
  }
  if (neg) return -d
  if (d > LIMIT - 1n) throw invalid()
  return d
}

/** Formats milliseconds as Go's Duration.String does: `1.5s`, `2m0s`, `300ms`, `1h0m0s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`Cannot format duration ${ms}`)
  let u = BigInt(Math.round(ms * 1e6))
  const sign = u < 0n ? '-' : ''
  if (u < 0n) u = -u
  if (u === 0n) return '0s'
  if (u < 1_000n) return `${sign}${u}ns`
  if (u < 1_000_000n) return `${sign}${decimal(u, 3)}µs`
  if (u < 1_000_000_000n) return `${sign}${decimal(u, 6)}ms`
  const seconds = decimal(u % 60_000_000_000n, 9)
  const minutes = u / 60_000_000_000n
  if (minutes === 0n) return `${sign}${seconds}s`
  const hours = minutes / 60n
  return `${sign}${hours > 0n ? `${hours}h` : ''}${minutes % 60n}m${seconds}s`
}

/** `value / 10**digits` in decimal, without trailing zeros or a bare point. */
function decimal(value: bigint, digits: number): string {
  const unit = 10n ** BigInt(digits)
  const fraction = String(value % unit).padStart(digits, '0').replace(/0+$/, '')
  return fraction ? `${value / unit}.${fraction}` : `${value / unit}`
}

/** Go's time.quote: `"` and `\` escaped, bytes of non-ASCII and control characters as \xHH. */
function quote(text: string): string {
  let out = '"'
  for (const char of text) {
    const code = char.codePointAt(0)!
    if (code < 0x20 || code >= 0x80) {
      for (const byte of new TextEncoder().encode(char)) {
        out += `\\x${byte.toString(16).padStart(2, '0')}`
      }
    } else out += char === '"' || char === '\\' ? `\\${char}` : char
  }
  return `${out}"`
}
