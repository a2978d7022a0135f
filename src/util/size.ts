// Byte sizes written as numbers with an optional k/m/g suffix (binary multiples): `512`, `10m`.

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }

/** Parses `10m`, `1.5g`, `512` into bytes; throws RangeError naming the bad value. */
export function parseSize(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i.exec(value.trim())
  if (!match) throw new RangeError(`Cannot parse size "${value}": use a number with k, m or g`)
  const bytes = Math.floor(Number(match[1]) * UNITS[match[2].toLowerCase()])
  if (!Number.isSafeInteger(bytes)) throw new RangeError(`Size "${value}" is too large`)
  return bytes
}

/** Formats bytes for people: `1.5 MiB`. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`
}
