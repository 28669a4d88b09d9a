// Typed use of every public type of index.d.ts. Compiled only, never run:
// `tsc -p __test__/types` fails if a correct use stops type-checking.
import { WebSocketError, WebSocketStream } from '../../index.js'
import type {
  Pem,
  WebSocketCloseInfo,
  WebSocketCloseResult,
  WebSocketOpenInfo,
  WebSocketStreamCloseMessage,
  WebSocketStreamControlFrameMessage,
  WebSocketStreamErrorCause,
  WebSocketStreamErrorCode,
  WebSocketStreamErrorMessage,
  WebSocketStreamLookupFunction,
  WebSocketStreamOpenMessage,
  WebSocketStreamOptions,
  WebSocketStreamTlsOptions,
} from '../../index.js'
import dns from 'node:dns'
import diagnosticsChannel from 'node:diagnostics_channel'
import { Readable } from 'node:stream'

/** Compile-time equality of two types: `true` only when they are the same. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
function assertType<T extends true>(): void {}

export async function pingPong(url: string): Promise<void> {
  const controller = new AbortController()
  const options: WebSocketStreamOptions = {
    protocols: ['chat', 'superchat'],
    signal: controller.signal,
  }
  const wss = new WebSocketStream(url, options)
  new WebSocketStream(new URL(url))
  new WebSocketStream(url, { protocols: new Set(['chat']) })
  new WebSocketStream(url, {})
  new WebSocketStream(url)

  // The Node extensions to the options dictionary.
  const ca: Pem = Buffer.from('-----BEGIN CERTIFICATE-----')
  const tls: WebSocketStreamTlsOptions = {
    ca: [ca, 'pem text'],
    cert: 'pem',
    key: new Uint8Array(4),
    rejectUnauthorized: true,
    servername: 'example.test',
  }
  new WebSocketStream('wss://127.0.0.1/', { tls, maxMessageSize: 1 << 20, proxy: 'http://127.0.0.1:3128' })
  new WebSocketStream(url, { headers: { 'x-one': '1', 'x-many': ['a', 'b'] }, proxy: new URL('http://127.0.0.1:3128') })
  new WebSocketStream(url, { headers: [['x-pair', 'v']] })
  new WebSocketStream(url, { headers: new Headers({ 'x-headers': 'v' }) })
  new WebSocketStream(url, { idleTimeout: 30_000, closeTimeout: 1000 })

  // exactOptionalPropertyTypes: every optional member takes an explicit undefined.
  const unset: WebSocketStreamOptions = {
    protocols: undefined,
    signal: undefined,
    headers: undefined,
    tls: { ca: undefined, cert: undefined, key: undefined, rejectUnauthorized: undefined, servername: undefined },
    maxMessageSize: undefined,
    perMessageDeflate: { threshold: undefined, level: undefined },
    idleTimeout: undefined,
    closeTimeout: undefined,
    lookup: undefined,
    proxy: undefined,
  }
  new WebSocketStream(url, unset)

  // `lookup`: dns.lookup itself, or a function answering in either of its forms.
  new WebSocketStream(url, { lookup: dns.lookup })
  const fixed: WebSocketStreamLookupFunction = (hostname, options, callback) => {
    const all: true = options.all
    if (hostname === 'one.test') callback(null, '127.0.0.1', 4)
    else callback(null, [{ address: '::1', family: 6 }])
  }
  new WebSocketStream(url, { lookup: fixed })

  // The diagnostics_channel messages.
  diagnosticsChannel.subscribe('websocketstream:open', (message) => {
    const { remoteAddress, remotePort, handshakeDurationMs } = message as WebSocketStreamOpenMessage
    const peer: string = `${remoteAddress}:${remotePort} in ${handshakeDurationMs.toFixed(1)} ms`
  })
  diagnosticsChannel.subscribe('websocketstream:close', (message) => {
    const { code, reason, wasClean } = message as WebSocketStreamCloseMessage
    const clean: boolean = wasClean && code === 1000 && reason === ''
  })
  diagnosticsChannel.subscribe('websocketstream:error', (message) => {
    const error: unknown = (message as WebSocketStreamErrorMessage).error
  })
  diagnosticsChannel.subscribe('websocketstream:ping', (message) => {
    const { url: from, payload } = message as WebSocketStreamControlFrameMessage
    const bytes: number = payload.byteLength + from.length
  })

  const href: string = wss.url
  assertType<Equal<typeof wss.url, string>>()

  const info: WebSocketOpenInfo = await wss.opened
  const { readable, writable, extensions, protocol } = info
  const ext: string = extensions
  const proto: string = protocol
  // The global stream types (not node:stream/web's), async iterable whatever the lib.
  assertType<Equal<typeof readable, ReadableStream<string | Uint8Array> & AsyncIterable<string | Uint8Array>>>()
  assertType<Equal<typeof writable, WritableStream<string | ArrayBufferView | ArrayBuffer>>>()
  const asGlobal: ReadableStream<string | Uint8Array> = readable
  const w: WritableStream = writable
  const textOnly: WritableStream<string> = writable
  const lengths: ReadableStream<number> = readable.pipeThrough(
    new TransformStream<string | Uint8Array, number>({
      transform: (chunk, controller) => controller.enqueue(chunk.length),
    }),
  )
  // Without the DOM the global ReadableStream is Node's, so Node's stream adapters take it.
  const nodeReadable: Readable = Readable.fromWeb(readable)
  // `opened` is a ReadableWritablePair: a connection pipes like a TransformStream.
  const echoed: ReadableStream<string | Uint8Array> = ReadableStream.from(['a', 'b']).pipeThrough(info)

  const writer = writable.getWriter()
  await writer.ready
  await writer.write('text')
  await writer.write(new Uint8Array([1, 2, 3]))
  await writer.write(new ArrayBuffer(8))
  await writer.write(new DataView(new ArrayBuffer(8)))
  await writer.write(new Int16Array(4))
  await writer.write(Buffer.from('buffer'))
  const written: void = await writer.write('x')

  const reader = readable.getReader()
  const result = await reader.read()
  if (!result.done) {
    const value: string | Uint8Array = result.value
    assertType<Equal<typeof result.value, string | Uint8Array>>()
    if (typeof value === 'string') {
      value.toUpperCase()
    } else {
      const bytes: Uint8Array = value
      bytes.byteLength
    }
  }
  for await (const chunk of readable) {
    const message: string | Uint8Array = chunk
  }

  const closeInfo: WebSocketCloseInfo = { closeCode: 1000, reason: "That's all folks" }
  wss.close(closeInfo)
  wss.close({ closeCode: 4000 })
  wss.close({ reason: 'only a reason' })
  wss.close({})
  wss.close({ closeCode: undefined, reason: undefined })
  wss.close()
  const nothing: void = wss.close()

  try {
    const result: WebSocketCloseResult = await wss.closed
    assertType<Equal<Awaited<typeof wss.closed>, WebSocketCloseResult>>()
    const { closeCode, reason } = result
    const code: number = closeCode
    const why: string = reason
  } catch (error) {
    if (error instanceof WebSocketError) {
      const code: number | null = error.closeCode
      assertType<Equal<typeof error.closeCode, number | null>>()
      const why: string = error.reason
      const name: string = error.name
      const message: string = error.message
      const legacy: number = error.code
      const asDOMException: DOMException = error
      const asError: Error = error
      // The cause: a stable code to branch on, and the details it documents.
      const cause: WebSocketStreamErrorCause | undefined = error.cause
      if (cause?.code === 'ERR_WEBSOCKETSTREAM_UNEXPECTED_RESPONSE') {
        const status: number | undefined = cause.statusCode
        const retryAfter: string | undefined = cause.headers?.['retry-after']
      }
      const retryable: ReadonlySet<string> = new Set<WebSocketStreamErrorCode>(['ECONNREFUSED', 'ETIMEDOUT'])
      const retry: boolean = cause !== undefined && retryable.has(cause.code)
      const sent: number | undefined = cause?.sentCloseCode
      const certificate: string | undefined = cause?.certificateError
    }
  }

  const error = new WebSocketError('going away', { closeCode: 4000, reason: 'bye' })
  new WebSocketError()
  new WebSocketError('message only')
  new WebSocketError('reason only', { reason: 'r' })
  new WebSocketError('unset', { closeCode: undefined, reason: undefined })
  const isDOMException: boolean = error instanceof DOMException
  await writer.abort(error)
  await reader.cancel(error)
  controller.abort(new WebSocketError('stop', { closeCode: 1000 }))
}
