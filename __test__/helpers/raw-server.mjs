// The server side of WebSocket, spoken by hand on a raw net.Socket, for
// servers that misbehave on purpose: read the upgrade request and answer (or
// botch) the opening handshake, write server→client frames of any shape, and
// read the masked client→server frames, so a test sees exactly what the
// client sent and when. Nothing here answers the client by itself: a test
// that wants the closing handshake completed writes the Close it means.
import { createHash, randomBytes } from 'node:crypto'
import zlib from 'node:zlib'
import { startRawServer } from './servers.mjs'
import { withTimeout } from './settle.mjs'

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

export const OPCODE = Object.freeze({
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
})

// --- the opening handshake ----------------------------------------------------

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2). */
function acceptKeyFor(key) {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64')
}

/**
 * Reads one HTTP request head from `socket`. Resolves
 * { method, path, httpVersion, headers, rawHeaders, head } with header names
 * lower-cased (repeated headers joined with ", "). The socket is left paused,
 * with any bytes after the head pushed back into it.
 */
export function readRequest(socket, ms = 10_000) {
  return withTimeout(
    new Promise((resolve, reject) => {
      let buffered = Buffer.alloc(0)
      const cleanup = () => {
        socket.off('data', onData)
        socket.off('end', onEnd)
        socket.off('error', onEnd)
      }
      const onEnd = () => {
        cleanup()
        reject(new Error('the client closed the connection before sending a full request head'))
      }
      const onData = (chunk) => {
        buffered = Buffer.concat([buffered, chunk])
        const end = buffered.indexOf('\r\n\r\n')
        if (end === -1) return
        cleanup()
        socket.pause()
        const rest = buffered.subarray(end + 4)
        if (rest.length > 0) socket.unshift(rest)
        const head = buffered.subarray(0, end).toString('latin1')
        const [requestLine, ...lines] = head.split('\r\n')
        const [method, path, httpVersion] = requestLine.split(' ')
        const headers = {}
        const rawHeaders = []
        for (const line of lines) {
          const colon = line.indexOf(':')
          const name = line.slice(0, colon).trim()
          const value = line.slice(colon + 1).trim()
          rawHeaders.push([name, value])
          const key = name.toLowerCase()
          headers[key] = key in headers ? `${headers[key]}, ${value}` : value
        }
        resolve({ method, path, httpVersion, headers, rawHeaders, head })
      }
      socket.on('data', onData)
      socket.on('end', onEnd)
      socket.on('error', onEnd)
      socket.resume()
    }),
    ms,
    'the client request head',
  )
}

/** Writes a complete, non-101 HTTP response and ends the socket. */
export function respondHttp(socket, status, statusText, body = '', extraHeaders = []) {
  const lines = [
    `HTTP/1.1 ${status} ${statusText}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Content-Type: text/plain',
    'Connection: close',
    ...headerLines(extraHeaders),
  ]
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`)
}

function headerLines(extraHeaders) {
  if (Array.isArray(extraHeaders)) return extraHeaders
  return Object.entries(extraHeaders).map(([name, value]) => `${name}: ${value}`)
}

/**
 * The bytes of a 101 Switching Protocols answer to `request` (see
 * readRequest). Options: `protocol` (sent as Sec-WebSocket-Protocol),
 * `extraHeaders` (array of header lines or an object), `acceptKey` (sent
 * instead of the correct Sec-WebSocket-Accept).
 */
export function handshakeResponse(request, { protocol, extraHeaders = [], acceptKey } = {}) {
  const accept = acceptKey ?? acceptKeyFor(request.headers['sec-websocket-key'] ?? '')
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${accept}`,
  ]
  if (protocol !== undefined) lines.push(`Sec-WebSocket-Protocol: ${protocol}`)
  lines.push(...headerLines(extraHeaders))
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1')
}

/**
 * Reads the upgrade request from `socket` and answers it with
 * handshakeResponse(request, options); `options.trailing` are bytes written
 * right after the head, in the same write. Resolves the parsed request once
 * the answer is written; the socket is left paused.
 */
export async function acceptHandshake(socket, options = {}) {
  const request = await readRequest(socket)
  const head = handshakeResponse(request, options)
  socket.write(options.trailing ? Buffer.concat([head, options.trailing]) : head)
  return request
}

// --- frames the server writes -----------------------------------------------

/**
 * A frame header announcing `length` payload bytes (a BigInt for lengths no
 * Number holds), for a test that sends a header alone. The length uses the
 * 7-, 16- or 64-bit form as it needs, unless `lengthForm` ('7' | '16' |
 * '64') forces a longer one; `rsv` is the 3-bit RSV1..RSV3 field (4 = RSV1,
 * 2 = RSV2, 1 = RSV3); `maskKey` (4 bytes) sets the mask bit and follows the
 * length.
 */
export function frameHeader({ opcode, length, fin = true, rsv = 0, lengthForm, maskKey }) {
  const size = Number(length)
  const form = lengthForm ?? (size < 126 ? '7' : size <= 0xffff ? '16' : '64')
  const extra = form === '7' ? 0 : form === '16' ? 2 : 8
  const header = Buffer.alloc(2 + extra + (maskKey ? 4 : 0))
  header[0] = (fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | (opcode & 0xf)
  const maskBit = maskKey ? 0x80 : 0
  if (form === '7') {
    header[1] = maskBit | size
  } else if (form === '16') {
    header[1] = maskBit | 126
    header.writeUInt16BE(size, 2)
  } else {
    header[1] = maskBit | 127
    header.writeBigUInt64BE(BigInt(length), 2)
  }
  if (maskKey) maskKey.copy(header, 2 + extra)
  return header
}

/**
 * One whole frame as bytes: a header (see frameHeader) and `payload` (a
 * string is sent as UTF-8). Server→client frames are unmasked unless
 * `masked`.
 */
export function encodeFrame({ opcode, payload = Buffer.alloc(0), fin = true, masked = false, rsv = 0, lengthForm }) {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload)
  const maskKey = masked ? randomBytes(4) : undefined
  if (maskKey) for (let i = 0; i < data.length; i++) data[i] ^= maskKey[i & 3]
  return Buffer.concat([frameHeader({ opcode, length: data.length, fin, rsv, lengthForm, maskKey }), data])
}

export const textFrame = (text, options = {}) => encodeFrame({ opcode: OPCODE.TEXT, payload: text, ...options })
export const binaryFrame = (bytes, options = {}) => encodeFrame({ opcode: OPCODE.BINARY, payload: bytes, ...options })

/** A Close frame body to send: nothing when `code` is undefined, else the code and the reason's bytes. */
export function encodeCloseBody(code, reason = '') {
  if (code === undefined) return Buffer.alloc(0)
  const reasonBytes = typeof reason === 'string' ? Buffer.from(reason, 'utf8') : Buffer.from(reason)
  const body = Buffer.alloc(2 + reasonBytes.length)
  body.writeUInt16BE(code, 0)
  reasonBytes.copy(body, 2)
  return body
}

/** A server→client Close frame. `closeFrame()` has an empty body. */
export function closeFrame(code, reason = '', options = {}) {
  return encodeFrame({ opcode: OPCODE.CLOSE, payload: encodeCloseBody(code, reason), ...options })
}

// --- frames the client sends --------------------------------------------------

/**
 * The code and reason of a received Close frame's body: `code` is null for an
 * empty body (no code on the wire) and NaN for a malformed one-byte body;
 * `reasonBytes` always holds the raw reason.
 */
export function parseCloseBody(payload) {
  if (payload.length === 0) return { code: null, reason: '', reasonBytes: Buffer.alloc(0) }
  if (payload.length === 1) return { code: NaN, reason: '', reasonBytes: Buffer.alloc(0) }
  const reasonBytes = payload.subarray(2)
  return { code: payload.readUInt16BE(0), reason: reasonBytes.toString('utf8'), reasonBytes }
}

/**
 * Incremental frame decoder: push bytes, get whole frames
 * { fin, rsv, opcode, masked, payload } with the payload unmasked.
 */
class FrameParser {
  #buffer = Buffer.alloc(0)
  // Chunks of a large frame, joined once all of it has arrived.
  #pending = []
  #pendingLength = 0
  #need = 0

  push(chunk) {
    if (this.#need > 0) {
      this.#pending.push(chunk)
      this.#pendingLength += chunk.length
      if (this.#pendingLength < this.#need) return []
      this.#buffer = Buffer.concat(this.#pending)
      this.#pending = []
      this.#pendingLength = 0
      this.#need = 0
    } else {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    }
    const frames = []
    for (;;) {
      const frame = this.#next()
      if (frame === null) return frames
      frames.push(frame)
    }
  }

  #next() {
    const buffer = this.#buffer
    if (buffer.length < 2) return null
    const fin = (buffer[0] & 0x80) !== 0
    const rsv = (buffer[0] >> 4) & 0x7
    const opcode = buffer[0] & 0xf
    const masked = (buffer[1] & 0x80) !== 0
    let length = buffer[1] & 0x7f
    let offset = 2
    if (length === 126) {
      if (buffer.length < 4) return null
      length = buffer.readUInt16BE(2)
      offset = 4
    } else if (length === 127) {
      if (buffer.length < 10) return null
      length = Number(buffer.readBigUInt64BE(2))
      offset = 10
    }
    const keyOffset = offset
    if (masked) offset += 4
    if (buffer.length < offset + length) {
      this.#need = offset + length
      this.#pending = [buffer]
      this.#pendingLength = buffer.length
      this.#buffer = Buffer.alloc(0)
      return null
    }
    const payload = Buffer.from(buffer.subarray(offset, offset + length))
    if (masked) {
      const key = buffer.subarray(keyOffset, keyOffset + 4)
      for (let i = 0; i < length; i++) payload[i] ^= key[i & 3]
    }
    this.#buffer = buffer.subarray(offset + length)
    return { fin, rsv, opcode, masked, payload }
  }
}

/**
 * Reads the client's frames on `socket` (resuming it) as they arrive.
 * `onFrame(frame)` sees each one; with `keep: false` none is kept in `frames`
 * (a flood brings hundreds of thousands). Returns
 * {
 *   frames,                        // every frame so far, in order
 *   ended,                         // promise: the client ended or dropped TCP
 *   hasEnded(),                    // whether that happened yet
 *   until(condition, ms, label)    → resolves once condition() holds, checked after each frame;
 *                                    rejects if TCP ends first
 *   waitFor(predicate, ms, label)  → the first frame (past or future) matching predicate
 *   closeFrame(ms)                 → { code, reason, reasonBytes, frame } of the client's Close
 * }
 */
export function readFrames(socket, { onFrame = () => {}, keep = true } = {}) {
  const parser = new FrameParser()
  const frames = []
  const waiters = new Set()
  let ended = false
  let resolveEnded
  const endedPromise = new Promise((resolve) => {
    resolveEnded = resolve
  })
  const check = () => {
    for (const waiter of waiters) waiter()
  }
  const finish = () => {
    if (ended) return
    ended = true
    resolveEnded()
    check()
  }
  socket.on('data', (chunk) => {
    for (const frame of parser.push(chunk)) {
      if (keep) frames.push(frame)
      onFrame(frame)
    }
    check()
  })
  socket.on('end', finish)
  socket.on('close', finish)
  socket.on('error', finish)
  socket.resume()

  function until(condition, ms = 10_000, label = 'a frame from the client') {
    return withTimeout(
      new Promise((resolve, reject) => {
        const waiter = () => {
          if (condition()) {
            waiters.delete(waiter)
            resolve()
          } else if (ended) {
            waiters.delete(waiter)
            reject(new Error(`the client closed TCP before ${label}`))
          }
        }
        waiters.add(waiter)
        waiter()
      }),
      ms,
      label,
    )
  }

  async function waitFor(predicate, ms, label) {
    await until(() => frames.some(predicate), ms, label)
    return frames.find(predicate)
  }

  return {
    frames,
    ended: endedPromise,
    hasEnded: () => ended,
    until,
    waitFor,
    async closeFrame(ms = 10_000) {
      const frame = await waitFor((f) => f.opcode === OPCODE.CLOSE, ms, "the client's Close frame")
      return { ...parseCloseBody(frame.payload), frame }
    },
  }
}

// --- permessage-deflate (RFC 7692) -------------------------------------------
// Compressed messages as a server sends them and as it reads the client's,
// made with node:zlib. Context takeover (§7.2.1: one LZ77 window carried from
// message to message) is a preset dictionary: the previous messages' last
// window of plaintext. A message compressed that way refers only to bytes
// a receiver with context takeover still holds, and every message ends on a
// sync flush, so each one is a complete unit given that window; no zlib
// stream has to live between messages, and everything stays synchronous.

/** What a sync flush ends with; the sender removes it and the receiver puts it back (§7.2.1, §7.2.2). */
export const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff])

const SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH

/** `history` followed by `data`, cut to the last `size` bytes: the window after `data`. */
function slideWindow(history, data, size) {
  const joined = history.length === 0 ? Buffer.from(data) : Buffer.concat([history, data])
  return joined.length > size ? Buffer.from(joined.subarray(joined.length - size)) : joined
}

const asBytes = (data) => (typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data))

/**
 * A sender's compressor: `deflate(data)` is the payload of one compressed
 * message (a string is compressed as UTF-8), tail removed (§7.2.1). With
 * `contextTakeover` (the default) each message may refer to the ones
 * before it; `windowBits` (9 to 15) bounds how far back; `level` is zlib's.
 */
export function messageDeflater({ contextTakeover = true, windowBits = 15, level = 6 } = {}) {
  let history = Buffer.alloc(0)
  return function deflate(data) {
    const bytes = asBytes(data)
    const options = { finishFlush: SYNC_FLUSH, windowBits, level }
    if (history.length > 0) options.dictionary = history
    const compressed = zlib.deflateRawSync(bytes, options)
    if (contextTakeover) history = slideWindow(history, bytes, 1 << windowBits)
    return compressed.subarray(0, compressed.length - DEFLATE_TAIL.length)
  }
}

/**
 * A receiver's decompressor: `inflate(payload)` is the message a compressed
 * payload carries (§7.2.2), or throws zlib's error. With `contextTakeover`
 * (the default) the window carries over from message to message. Below 15
 * `windowBits`, output is taken 64 bytes at a time so that every reference
 * further back than the window must go through zlib's window, where it is
 * refused ("invalid distance too far back"): a single-shot inflate would
 * resolve it from its own output buffer and accept a sender that used a
 * larger window than agreed.
 */
export function messageInflater({ contextTakeover = true, windowBits = 15 } = {}) {
  let history = Buffer.alloc(0)
  return function inflate(payload) {
    const options = { finishFlush: SYNC_FLUSH, windowBits }
    if (windowBits < 15) options.chunkSize = 64
    if (history.length > 0) options.dictionary = history
    const data = zlib.inflateRawSync(Buffer.concat([payload, DEFLATE_TAIL]), options)
    if (contextTakeover) history = slideWindow(history, data, 1 << windowBits)
    return data
  }
}

/**
 * The frames of one message whose payload is `payload`: cut in frames of at
 * most `fragmentSize` bytes (one frame by default), RSV1 set on the first
 * only unless `compressed` is false (§6: "Per-Message Compressed" is the
 * first frame's RSV1), `opcode` on the first, continuations after.
 */
export function messageFrames(opcode, payload, { fragmentSize = Number.POSITIVE_INFINITY, compressed = true } = {}) {
  const bytes = asBytes(payload)
  const frames = []
  let offset = 0
  do {
    const end = Math.min(bytes.length, offset + fragmentSize)
    const first = offset === 0
    frames.push(
      encodeFrame({
        opcode: first ? opcode : OPCODE.CONTINUATION,
        payload: bytes.subarray(offset, end),
        fin: end === bytes.length,
        rsv: first && compressed ? 0b100 : 0,
      }),
    )
    offset = end
  } while (offset < bytes.length)
  return frames
}

/**
 * The data messages among received `frames` (see readFrames), control
 * frames left out: { opcode, rsv1, payload, frames } per whole message, where
 * `rsv1` is the first frame's and `frames` how many carried it.
 */
export function dataMessages(frames) {
  const messages = []
  let parts = null
  for (const frame of frames) {
    if (frame.opcode >= OPCODE.CLOSE) continue
    if (frame.opcode !== OPCODE.CONTINUATION)
      parts = { opcode: frame.opcode, rsv1: (frame.rsv & 0b100) !== 0, chunks: [] }
    if (parts === null) continue
    parts.chunks.push(frame.payload)
    if (!frame.fin) continue
    messages.push({
      opcode: parts.opcode,
      rsv1: parts.rsv1,
      payload: Buffer.concat(parts.chunks),
      frames: parts.chunks.length,
    })
    parts = null
  }
  return messages
}

/**
 * A seeded pseudo-random generator (mulberry32): `next()` in [0, 1),
 * `int(n)` in [0, n). The same seed gives the same sequence, so a failure
 * found with random data can be replayed.
 */
export function seededRandom(seed) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
  return { next, int: (n) => Math.floor(next() * n) }
}

const TEXT_ALPHABET = Buffer.from('abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:!?')
const MULTIBYTE = ['é', '€', '☃', '🔌'].map((char) => Buffer.from(char, 'utf8'))
const isContinuationByte = (byte) => (byte & 0xc0) === 0x80

/**
 * Message content that compresses about as well as real traffic: runs of
 * fresh random bytes alternating with copies of earlier runs from 600 bytes
 * to 20 KiB back. Those distances are the point: a sender that ignores a
 * small agreed window (`client_max_window_bits`, §7.1.2.2) refers further
 * back than the window, which messageInflater then refuses. Binary is
 * `size` bytes; text (`text: true`) is a string of about `size` UTF-8 bytes,
 * mostly ASCII with two-, three- and four-byte characters (never cut).
 */
export function sampleMessage(size, { text = false, seed = size } = {}) {
  const random = seededRandom(seed)
  const out = Buffer.alloc(size + 8)
  let length = 0
  const alignedForward = (i) => {
    let at = i
    while (text && at < length && isContinuationByte(out[at])) at++
    return at
  }
  while (length < size) {
    const run = 16 + random.int(300)
    if (length > 1000 && random.next() < 0.5) {
      const distance = Math.min(length, 600 + random.int(20 << 10))
      const start = alignedForward(length - distance)
      const end = alignedForward(Math.min(start + run, length, start + size - length))
      out.copy(out, length, start, end)
      length += end - start
      continue
    }
    const fresh = Math.min(run, size - length)
    for (let i = 0; i < fresh; i++) {
      out[length++] = text ? TEXT_ALPHABET[random.int(TEXT_ALPHABET.length)] : random.int(256)
    }
    const char = MULTIBYTE[random.int(MULTIBYTE.length)]
    if (text && length + char.length <= size) {
      char.copy(out, length)
      length += char.length
    }
  }
  // A copy may overrun `size`; text is cut before a character, not in it.
  let end = Math.min(length, size)
  while (text && end < length && isContinuationByte(out[end])) end--
  const bytes = out.subarray(0, end)
  return text ? bytes.toString('utf8') : Buffer.from(bytes)
}

// --- a server ---------------------------------------------------------------------

/**
 * A raw server (helpers/servers.mjs) that completes the handshake with
 * `handshake` options (see handshakeResponse) for each client, closed at the
 * end of the test. `connection()` resolves { socket, request, frames } for
 * the next client, in order of arrival; `frames` is a readFrames reader,
 * unless `read: false` leaves the socket paused (a server that never reads)
 * and `frames` null.
 */
export async function startRawWebSocketServer(t, { handshake = {}, read = true } = {}) {
  const arrived = []
  const waiting = []
  const server = await startRawServer((socket) => {
    const connection = acceptHandshake(socket, handshake).then((request) => ({
      socket,
      request,
      frames: read ? readFrames(socket) : null,
    }))
    connection.catch(() => {})
    if (waiting.length > 0) waiting.shift()(connection)
    else arrived.push(connection)
  })
  t.teardown(() => server.close())
  return {
    ...server,
    connection(ms = 10_000) {
      const next = arrived.length > 0 ? arrived.shift() : new Promise((resolve) => waiting.push(resolve))
      return withTimeout(next, ms, 'a client connection on the raw server')
    },
  }
}
