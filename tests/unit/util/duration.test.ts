// parseDuration() against the tables of Go's own time_test.go (parseDurationTests and
// parseDurationErrorTests) with Go's exact error texts; formatDuration() against Duration.String.
import { describe, expect, test } from 'bun:test'
import { formatDuration, parseDuration } from '../../../src/util/duration.ts'

const Nanosecond = 1n
const Microsecond = 1000n * Nanosecond
const Millisecond = 1000n * Microsecond
const Second = 1000n * Millisecond
const Minute = 60n * Second
const Hour = 60n * Minute
/** Go's nanoseconds as the milliseconds parseDuration returns. */
const ms = (ns: bigint) => Number(ns / Millisecond) + Number(ns % Millisecond) / 1e6

const valid: [string, bigint][] = [
  // simple
  ['0', 0n],
  ['5s', 5n * Second],
  ['30s', 30n * Second],
  ['1478s', 1478n * Second],
  // sign
  ['-5s', -5n * Second],
  ['+5s', 5n * Second],
  ['-0', 0n],
  ['+0', 0n],
  // decimal
  ['5.0s', 5n * Second],
  ['5.6s', 5n * Second + 600n * Millisecond],
  ['5.s', 5n * Second],
  ['.5s', 500n * Millisecond],
  ['1.0s', 1n * Second],
  ['1.00s', 1n * Second],
  ['1.004s', 1n * Second + 4n * Millisecond],
  ['1.0040s', 1n * Second + 4n * Millisecond],
  ['100.00100s', 100n * Second + 1n * Millisecond],
  // different units
  ['10ns', 10n * Nanosecond],
  ['11us', 11n * Microsecond],
  ['12µs', 12n * Microsecond], // U+00B5
  ['12μs', 12n * Microsecond], // U+03BC
  ['13ms', 13n * Millisecond],
  ['14s', 14n * Second],
  ['15m', 15n * Minute],
  ['16h', 16n * Hour],
  // composite durations
  ['3h30m', 3n * Hour + 30n * Minute],
  ['10.5s4m', 4n * Minute + 10n * Second + 500n * Millisecond],
  ['-2m3.4s', -(2n * Minute + 3n * Second + 400n * Millisecond)],
  ['1h2m3s4ms5us6ns', Hour + 2n * Minute + 3n * Second + 4n * Millisecond + 5n * Microsecond + 6n],
  ['39h9m14.425s', 39n * Hour + 9n * Minute + 14n * Second + 425n * Millisecond],
  // large value
  ['52763797000ns', 52763797000n * Nanosecond],
  // more than 9 digits after decimal point, see https://golang.org/issue/6617
  ['0.3333333333333333333h', 20n * Minute],
  // 9007199254740993 = 1<<53+1 cannot be stored precisely in a float64
  ['9007199254740993ns', (1n << 53n) + 1n],
  // largest duration that can be represented by int64 in nanoseconds
  ['9223372036854775807ns', (1n << 63n) - 1n],
  ['9223372036854775.807us', (1n << 63n) - 1n],
  ['9223372036s854ms775us807ns', (1n << 63n) - 1n],
  ['-9223372036854775808ns', -(1n << 63n)],
  ['-9223372036854775.808us', -(1n << 63n)],
  ['-9223372036s854ms775us808ns', -(1n << 63n)],
  // largest negative round trip value, see https://golang.org/issue/48629
  ['-2562047h47m16.854775808s', -(1n << 63n)],
  // huge string; issue 15011.
  ['0.100000000000000000000h', 6n * Minute],
  // This value tests the first overflow check in leadingFraction.
  ['0.830103483285477580700h', 49n * Minute + 48n * Second + 372539827n * Nanosecond],
  // the forms the original tool's README uses
  ['300ms', 300n * Millisecond],
  ['2h45m', 2n * Hour + 45n * Minute],
  ['1.5h', 90n * Minute],
]

const invalid: [string, string][] = [
  ['', 'time: invalid duration ""'],
  ['3', 'time: missing unit in duration "3"'],
  ['-', 'time: invalid duration "-"'],
  ['s', 'time: invalid duration "s"'],
  ['.', 'time: invalid duration "."'],
  ['-.', 'time: invalid duration "-."'],
  ['.s', 'time: invalid duration ".s"'],
  ['+.s', 'time: invalid duration "+.s"'],
  ['1d', 'time: unknown unit "d" in duration "1d"'],
  ['\uFFFD', 'time: invalid duration "\\xef\\xbf\\xbd"'], // utf8.RuneError
  [
    '\uFFFD hello \uFFFD world',
    'time: invalid duration "\\xef\\xbf\\xbd hello \\xef\\xbf\\xbd world"',
  ],
  // overflow
  ['9223372036854775810ns', 'time: invalid duration "9223372036854775810ns"'],
  ['9223372036854775808ns', 'time: invalid duration "9223372036854775808ns"'],
  ['-9223372036854775809ns', 'time: invalid duration "-9223372036854775809ns"'],
  ['9223372036854776us', 'time: invalid duration "9223372036854776us"'],
  ['3000000h', 'time: invalid duration "3000000h"'],
  ['9223372036854775.808us', 'time: invalid duration "9223372036854775.808us"'],
  ['9223372036854ms775us808ns', 'time: invalid duration "9223372036854ms775us808ns"'],
  // quoting as Go's time.quote does it: `"` and `\` escaped, other bytes outside ASCII as \xHH
  ['5x"\\', 'time: unknown unit "x\\"\\\\" in duration "5x\\"\\\\"'],
  ['1µm', 'time: unknown unit "\\xc2\\xb5m" in duration "1\\xc2\\xb5m"'],
  ['1s\n', 'time: unknown unit "s\\x0a" in duration "1s\\x0a"'],
  ['1 s', 'time: unknown unit " s" in duration "1 s"'],
  [' 1s', 'time: invalid duration " 1s"'],
  ['1s ', 'time: unknown unit "s " in duration "1s "'],
  ['1s.', 'time: invalid duration "1s."'],
  ['1S', 'time: unknown unit "S" in duration "1S"'],
  ['--1s', 'time: invalid duration "--1s"'],
  ['1e3s', 'time: unknown unit "e" in duration "1e3s"'],
]

describe('parseDuration()', () => {
  test.each(valid)('parses %p as Go does', (text, ns) => {
    expect(parseDuration(text)).toBe(ms(ns))
  })

  test.each(invalid)("rejects %p with Go's message", (text, message) => {
    expect(() => parseDuration(text)).toThrow(new RangeError(message))
    try {
      parseDuration(text)
    } catch (err) {
      expect(err).toBeInstanceOf(RangeError)
      expect((err as Error).message).toBe(message)
    }
  })

  test('returns fractional milliseconds and never -0', () => {
    expect(parseDuration('1.5us')).toBe(0.0015)
    expect(parseDuration('1ns')).toBe(0.000001)
    expect(Object.is(parseDuration('-0'), 0)).toBe(true)
    expect(Object.is(parseDuration('-0s'), 0)).toBe(true)
  })
})

describe('formatDuration()', () => {
  test.each([
    [0, '0s'],
    [1.5e-6, '2ns'],
    [0.000001, '1ns'],
    [0.0011, '1.1µs'],
    [2.2, '2.2ms'],
    [300, '300ms'],
    [1500, '1.5s'],
    [3300, '3.3s'],
    [120_000, '2m0s'],
    [266_700, '4m26.7s'],
    [3_600_000, '1h0m0s'],
    [5_025_005.1, '1h23m45.0051s'],
    [-1500, '-1.5s'],
    [-0.5, '-500µs'],
  ])('formats %p ms as %p', (value, text) => {
    expect(formatDuration(value)).toBe(text)
  })

  test('round-trips through parseDuration()', () => {
    for (const text of ['1h2m3.004005006s', '300ms', '1.5s', '2m0s', '-4m5s', '7µs', '8ns']) {
      expect(formatDuration(parseDuration(text))).toBe(text)
    }
  })
})
