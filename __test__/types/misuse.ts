// Wrong uses of the public types. Each line below must be a type error: if
// the types get too loose, `@ts-expect-error` itself fails the check.
import { WebSocketError, WebSocketStream } from '../../index.js'
import type { WebSocketCloseResult } from '../../index.js'

export async function misuse(wss: WebSocketStream): Promise<void> {
  // @ts-expect-error the url is required
  new WebSocketStream()

  // @ts-expect-error protocols must be an iterable object, not a bare string (a TypeError at run time)
  new WebSocketStream('ws://127.0.0.1/', { protocols: 'chat' })

  // @ts-expect-error protocols are strings
  new WebSocketStream('ws://127.0.0.1/', { protocols: [1, 2] })

  // @ts-expect-error signal must be an AbortSignal
  new WebSocketStream('ws://127.0.0.1/', { signal: {} })

  // @ts-expect-error maxMessageSize is a number of bytes
  new WebSocketStream('ws://127.0.0.1/', { maxMessageSize: '1 MiB' })

  // @ts-expect-error lookup is a function like dns.lookup, not a resolver's name
  new WebSocketStream('ws://127.0.0.1/', { lookup: 'dns' })

  // @ts-expect-error tls.rejectUnauthorized is a boolean
  new WebSocketStream('wss://127.0.0.1/', { tls: { rejectUnauthorized: 'no' } })

  // @ts-expect-error the cause's code is a string: a misspelt comparison with a number is caught
  if (new WebSocketError().cause?.code === 111) return

  // @ts-expect-error a class constructor needs new
  WebSocketStream('ws://127.0.0.1/')

  // @ts-expect-error the member is closeCode: MDN's old `code` is not part of the dictionary
  wss.close({ code: 1000 })

  // @ts-expect-error closeCode is a number
  wss.close({ closeCode: '1000' })

  // @ts-expect-error reason is a string
  wss.close({ closeCode: 1000, reason: 42 })

  // @ts-expect-error close takes a dictionary, not positional code and reason as WebSocket does
  wss.close(1000, 'bye')

  // @ts-expect-error url is read-only
  wss.url = 'ws://127.0.0.1/other'

  // @ts-expect-error opened is read-only
  wss.opened = Promise.reject(new Error('no'))

  // @ts-expect-error closed is read-only
  wss.closed = Promise.reject(new Error('no'))

  const { readable } = await wss.opened
  const result = await readable.getReader().read()
  if (!result.done) {
    // @ts-expect-error a chunk may be binary: it is not always a string (nor `any`)
    const text: string = result.value
  }

  const { closeCode } = await wss.closed
  // @ts-expect-error closed reports a number, never a string (nor `any`)
  const asString: string = closeCode

  // @ts-expect-error closed always reports both members: a WebSocketCloseResult needs a reason
  const partial: WebSocketCloseResult = { closeCode: 1000 }

  const error = new WebSocketError()
  // @ts-expect-error closeCode may be null
  const code: number = error.closeCode

  // @ts-expect-error closeCode is read-only
  error.closeCode = 1000

  // @ts-expect-error reason is read-only
  error.reason = 'x'

  // @ts-expect-error the init's closeCode is a number
  new WebSocketError('m', { closeCode: '4000' })

  // @ts-expect-error the init has no member `code`
  new WebSocketError('m', { code: 4000 })
}
