// websocketstream, the package under test, straight from the repository root.
import { WebSocketStream } from '../../index.mjs'
import { main } from './common.mjs'
import { streamScenarios } from './stream-scenarios.mjs'

await main(streamScenarios(WebSocketStream))
