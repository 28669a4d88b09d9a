// Public types of websocketstream: the WHATWG WebSocketStream draft's IDL,
// plus the Node-specific members of the options dictionary.

import type { ReadableStream, WritableStream } from 'node:stream/web'

/** What `opened` resolves with. */
export interface WebSocketOpenInfo {
  /** Each chunk is one message: text as `string`, binary as `Uint8Array`. */
  readable: ReadableStream<string | Uint8Array>
  /** Accepts strings (sent as text) and BufferSources (sent as binary); other values are stringified. */
  writable: WritableStream<string | ArrayBufferView | ArrayBuffer>
  /** Extensions in use; always `''` (none are offered). */
  extensions: string
  /** The subprotocol the server selected, or `''`. */
  protocol: string
}

/** A close code and reason, as `close()` takes them and `closed` reports them. */
export interface WebSocketCloseInfo {
  /** 1000 or 3000–4999 when sending; any code the server sent when reported. */
  closeCode?: number
  /** At most 123 bytes of UTF-8. */
  reason?: string
}

export interface WebSocketStreamOptions {
  /** Subprotocols to offer, in order of preference. Must be an iterable, not a bare string. */
  protocols?: Iterable<string>
  /** Aborts the opening handshake; does nothing once the connection is open. */
  signal?: AbortSignal
}

export declare class WebSocketStream {
  constructor(url: string | URL, options?: WebSocketStreamOptions)
  /** The URL as connected to (http → ws, https → wss, serialized). */
  readonly url: string
  readonly opened: Promise<WebSocketOpenInfo>
  readonly closed: Promise<{ closeCode: number; reason: string }>
  close(closeInfo?: WebSocketCloseInfo): void
}

export declare class WebSocketError extends DOMException {
  constructor(message?: string, init?: WebSocketCloseInfo)
  /** The close code, or `null` when none was given. */
  readonly closeCode: number | null
  readonly reason: string
}

declare const websocketstream: {
  WebSocketStream: typeof WebSocketStream
  WebSocketError: typeof WebSocketError
}
export default websocketstream
