// undici 7's WebSocketStream (experimental; it runs on Node 20 too).
import { WebSocketStream } from 'undici'
import { main } from './common.mjs'
import { streamScenarios } from './stream-scenarios.mjs'

await main(streamScenarios(WebSocketStream))
