// The server side of WebSocket, spoken by hand on a raw net.Socket, for
// servers that misbehave on purpose: read the upgrade request and answer (or
// botch) the opening handshake, write server→client frames of any shape, and
// read the masked client→server frames, so a test sees exactly what the
// client sent and when. Nothing here answers the client by itself: a test
// that wants the closing handshake completed writes the Close it means.
import { createHash, randomBytes } from 'node:crypto'
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
