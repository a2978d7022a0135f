// The registry API suite over HTTP against the unbundled source under Deno:
// `deno run --allow-all src/main.ts serve`.
import { describeIf, NEEDS, SERVER_COMMANDS } from './_harness.ts'
import { describeHttpApi } from './_http-api.ts'

describeIf(NEEDS.deno)('deno', () => {
  describeHttpApi('deno run --allow-all src/main.ts', SERVER_COMMANDS.deno)
})
