// undici 7's WebSocketStream (experimental; it runs on Node 20 too). Like
// undici's WebSocket it always offers permessage-deflate, inflates what
// arrives compressed and sends uncompressed.
import { WebSocketStream } from 'undici'
import { main } from './common.mjs'
import { streamScenarios } from './stream-scenarios.mjs'

await main(streamScenarios(WebSocketStream))
