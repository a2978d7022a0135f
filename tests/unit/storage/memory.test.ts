// The memory adapter against the shared storage suite.
import { createMemoryStorage } from '../../../src/storage/memory.ts'
import { describeStorage } from '../../suites/storage.suite.ts'

describeStorage('memory', async () => createMemoryStorage())
