// broken/random:layers-X_size-Y[_seed-Z]: a valid image of X layers holding Y random bytes each,
// generated once and then served from the store; the same tag gives the same digest everywhere.
import { parseTagParams } from './tag-params.ts'
import { defineScenario } from './types.ts'

const FORMATS = ['docker', 'oci'] as const
const COMPRESSIONS = ['gzip', 'none', 'zstd'] as const

interface Params {
  layers: number
  size: number
  seed: number
  format: (typeof FORMATS)[number]
  platforms: number
  compression: (typeof COMPRESSIONS)[number]
}

export const random = defineScenario<Params>({
  name: 'random',
  summary:
    'A valid image of X layers of Y random bytes each; the same tag always gives the same digest',
  example: 'layers-3_size-1024',
  invalidTag: 'BAD_REQUEST',
  params: [
    { key: 'layers', summary: 'number of layers (0-100)' },
    { key: 'size', summary: 'random bytes in each layer, with k/m/g suffixes: 1024, 10m, 2g' },
    { key: 'seed', summary: 'seed of the random content', default: '0' },
    { key: 'format', summary: 'docker (v2 manifest, as the original) or oci', default: 'docker' },
    { key: 'platforms', summary: 'serve an index / manifest list of N platforms (1-8)' },
    { key: 'compression', summary: 'layer compression: gzip, none or zstd', default: 'gzip' },
  ],
  parse(tag) {
    const t = parseTagParams(tag, ['layers', 'size', 'seed', 'format', 'platforms', 'compression'])
    return {
      layers: t.integer('layers', { missing: 'tag missing num layers', max: 100 }),
      size: t.size('size', { missing: 'tag missing layer size' }),
      seed: t.integer('seed', { fallback: 0 }),
      format: t.choice('format', FORMATS, 'docker'),
      platforms: t.integer('platforms', { fallback: 0, min: 1, max: 8 }),
      compression: t.choice('compression', COMPRESSIONS, 'gzip'),
    }
  },
  async handle(_c, params, { stage, generate, correct }) {
    if (stage === 'manifest' && params) {
      await generate({ ...params, salt: `random|seed-${params.seed}` })
    }
    return correct()
  },
})
