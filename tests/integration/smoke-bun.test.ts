// The registry API suite over HTTP against the unbundled source under Bun: `bun src/main.ts serve`.
import { SERVER_COMMANDS } from './_harness.ts'
import { describeHttpApi } from './_http-api.ts'

describeHttpApi('bun src/main.ts', SERVER_COMMANDS.bun)
