// Public types of websocketstream: the WHATWG WebSocketStream draft's IDL,
// plus the Node-specific members of the options dictionary.
//
// The streams are the global ReadableStream and WritableStream (lib.dom's
// with the DOM library, @types/node's without it), never node:stream/web's,
// so code shared with browsers type-checks under any `lib` setting. Optional
// members accept `undefined` too, for `exactOptionalPropertyTypes`.

/** What `opened` resolves with. */
export interface WebSocketOpenInfo {
  /**
   * Each chunk is one message: text as `string`, binary as `Uint8Array`.
   * Async iterable (`for await`) under any `lib` setting, as Node's streams
   * are: lib.dom alone declares that only with `dom.asynciterable`.
   */
  readable: ReadableStream<string | Uint8Array> & AsyncIterable<string | Uint8Array>
  /** Accepts strings (sent as text) and BufferSources (sent as binary); other values are stringified. */
  writable: WritableStream<string | ArrayBufferView | ArrayBuffer>
  /** Extensions in use; always `''` (none are offered). */
  extensions: string
  /** The subprotocol the server selected, or `''`. */
  protocol: string
}

/** A close code and reason, as `close()` and `new WebSocketError()` take them. */
export interface WebSocketCloseInfo {
  /** 1000 or 3000–4999 for `close()`. */
  closeCode?: number | undefined
  /** At most 123 bytes of UTF-8 (default `''`). */
  reason?: string | undefined
}

/**
 * What `closed` resolves with: the draft's WebSocketCloseInfo as it reports
 * a clean close, both members always present.
 */
export interface WebSocketCloseResult {
  /** The code of the server's Close (1005 when it sent none). */
  closeCode: number
  /** The server's reason, `''` when it gave none. */
  reason: string
}

export interface WebSocketStreamOptions {
  /**
   * Subprotocols to offer, in order of preference: an iterable object (a bare
   * string is a TypeError, hence `& object`).
   */
  protocols?: (Iterable<string> & object) | undefined
  /** Aborts the opening handshake; does nothing once the connection is open. */
  signal?: AbortSignal | undefined
  /**
   * Node extension: extra request headers. Host, Upgrade, Connection and
   * Sec-WebSocket-* belong to the handshake and are refused.
   */
  headers?: Record<string, string | readonly string[]> | Iterable<readonly [string, string]> | Headers | undefined
  /** Node extension: TLS settings for wss:// URLs. */
  tls?: WebSocketStreamTlsOptions | undefined
  /**
   * Node extension: the largest message accepted, in bytes (default 64 MiB).
   * For a compressed message, the inflated size counts.
   */
  maxMessageSize?: number | undefined
  /**
   * Node extension: permessage-deflate (RFC 7692). `true` (the default)
   * offers `permessage-deflate; client_max_window_bits`; `false` offers
   * nothing. Whether it is in use is up to the server: see `extensions`.
   */
  perMessageDeflate?: boolean | WebSocketStreamDeflateOptions | undefined
  /**
   * Node extension: dead-peer detection, in milliseconds (0 or absent: off).
   * After this long with nothing received a Ping is sent; after as long again
   * still without anything, the connection fails (`closed` rejects, 1006).
   */
  idleTimeout?: number | undefined
  /**
   * Node extension: how long a closing handshake may take, in milliseconds
   * (default 5000): waiting for the server's answer to our Close, then for it
   * to end TCP. 0 drops TCP right after our Close is sent.
   */
  closeTimeout?: number | undefined
  /**
   * Node extension: resolves the host name (the proxy's, with a proxy), with
   * `net.connect`'s `lookup` signature; called with `{ all: true }`. Default
   * `dns.lookup`. Not called for an IP address.
   */
  lookup?: WebSocketStreamLookupFunction | undefined
  /**
   * Node extension: an `http://[user:pass@]host:port` proxy reached with HTTP
   * CONNECT. Without it, NODE_USE_ENV_PROXY=1 enables HTTP_PROXY / HTTPS_PROXY / NO_PROXY.
   */
  proxy?: string | URL | undefined
}

/**
 * `net.connect`'s `lookup`: answers with every address (`all: true`), or with
 * one address and its family.
 */
export type WebSocketStreamLookupFunction = (
  hostname: string,
  options: { all: true },
  callback: (
    error: NodeJS.ErrnoException | null,
    address: string | ReadonlyArray<{ address: string; family: number }>,
    family?: number,
  ) => void,
) => void

export interface WebSocketStreamDeflateOptions {
  /** Messages with fewer bytes than this (UTF-8 bytes for text) are sent uncompressed (default 1024). */
  threshold?: number | undefined
  /** zlib's compression level for what we send, 0 to 9 (default 6). */
  level?: number | undefined
}

/** PEM text, as a string or bytes. */
export type Pem = string | ArrayBufferView

export interface WebSocketStreamTlsOptions {
  /** Trusted CA certificates; replaces the default roots (Mozilla's plus NODE_EXTRA_CA_CERTS). */
  ca?: Pem | readonly Pem[] | undefined
  /** Client certificate chain; needs `key`. */
  cert?: Pem | undefined
  /** Client private key; needs `cert`. */
  key?: Pem | undefined
  /** Verify the server's certificate and host name (default true). */
  rejectUnauthorized?: boolean | undefined
  /** The name to verify and send as SNI, instead of the URL's host. */
  servername?: string | undefined
}

export declare class WebSocketStream {
  constructor(url: string | URL, options?: WebSocketStreamOptions)
  /** The URL as connected to (http → ws, https → wss, serialized). */
  readonly url: string
  readonly opened: Promise<WebSocketOpenInfo>
  readonly closed: Promise<WebSocketCloseResult>
  close(closeInfo?: WebSocketCloseInfo): void
}

export declare class WebSocketError extends DOMException {
  constructor(message?: string, init?: WebSocketCloseInfo)
  /** The close code, or `null` when none was given. */
  readonly closeCode: number | null
  readonly reason: string
  /**
   * What happened underneath, for an error the package made (README "Errors
   * and their codes"): absent on one made with `new WebSocketError()`. A
   * failed DNS lookup's cause is the resolver's own error.
   */
  readonly cause?: WebSocketStreamErrorCause | undefined
}

/** The codes of `WebSocketError.cause`: Node's for socket and DNS errors, the package's otherwise. */
export type WebSocketStreamErrorCode =
  | 'ECONNREFUSED'
  | 'ETIMEDOUT'
  | 'ECONNRESET'
  | 'ECONNABORTED'
  | 'EHOSTUNREACH'
  | 'ENETUNREACH'
  | 'ENETDOWN'
  | 'EADDRNOTAVAIL'
  | 'EPIPE'
  | 'EACCES'
  | 'ENOTFOUND'
  | 'EAI_AGAIN'
  | 'ERR_WEBSOCKETSTREAM_DNS'
  | 'ERR_WEBSOCKETSTREAM_UNEXPECTED_RESPONSE'
  | 'ERR_WEBSOCKETSTREAM_INVALID_RESPONSE'
  | 'ERR_WEBSOCKETSTREAM_PROXY'
  | 'ERR_WEBSOCKETSTREAM_TLS'
  | 'ERR_WEBSOCKETSTREAM_CONNECTION_LOST'
  | 'ERR_WEBSOCKETSTREAM_PROTOCOL'
  | 'ERR_WEBSOCKETSTREAM_MESSAGE_TOO_LARGE'
  | 'ERR_WEBSOCKETSTREAM_CLOSE_TIMEOUT'
  | 'ERR_WEBSOCKETSTREAM_IDLE_TIMEOUT'
  | 'ERR_WEBSOCKETSTREAM_CLOSED_BEFORE_OPEN'
  | 'ERR_WEBSOCKETSTREAM_NETWORK'
  | 'ERR_WEBSOCKETSTREAM_INTERNAL'

/** `WebSocketError.cause`: an Error with a stable code and the details that code documents. */
export interface WebSocketStreamErrorCause extends Error {
  /** One of WebSocketStreamErrorCode; a custom `lookup` may give other codes. */
  code: WebSocketStreamErrorCode | (string & {})
  /** ERR_WEBSOCKETSTREAM_UNEXPECTED_RESPONSE and ERR_WEBSOCKETSTREAM_PROXY: the HTTP status. */
  statusCode?: number | undefined
  /** With `statusCode`: the response's header fields, lower-case names, repeats joined with ', '. */
  headers?: Record<string, string> | undefined
  /** ERR_WEBSOCKETSTREAM_PROTOCOL and ERR_WEBSOCKETSTREAM_MESSAGE_TOO_LARGE: the Close code we sent. */
  sentCloseCode?: number | undefined
  /** ERR_WEBSOCKETSTREAM_TLS: rustls's name for a refused certificate (`UnknownIssuer`, …). */
  certificateError?: string | undefined
}

/**
 * `diagnostics_channel` messages, published only while a channel has
 * subscribers. Channel `websocketstream:open`: the connection opened.
 */
export interface WebSocketStreamOpenMessage {
  url: string
  protocol: string
  extensions: string
  /** The TCP peer: the server, or the proxy when there is one. */
  remoteAddress: string
  remotePort: number
  /** From the constructor to the server's 101 (DNS lookup and TCP connect included), in milliseconds. */
  handshakeDurationMs: number
}

/** Channel `websocketstream:close`: a connection that had opened is closed. */
export interface WebSocketStreamCloseMessage {
  url: string
  code: number
  reason: string
  wasClean: boolean
}

/** Channel `websocketstream:error`: a connection failed, or was aborted, before it opened. */
export interface WebSocketStreamErrorMessage {
  url: string
  /** What `opened` rejected with. */
  error: unknown
}

/**
 * Channels `websocketstream:ping` and `websocketstream:pong`: a Ping or a Pong
 * arrived, on a connection made while either channel had a subscriber.
 */
export interface WebSocketStreamControlFrameMessage {
  url: string
  /** The frame's application data, 0 to 125 bytes. */
  payload: Uint8Array
}
