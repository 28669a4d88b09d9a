// Speaking WebSocket by hand on a raw net.Socket, for servers that misbehave on
// purpose: answer (or botch) the opening handshake, write server→client frames
// of any shape, and decode the masked client→server frames so a spec can see
// which Close code the client sent.
import { createHash, randomBytes } from 'node:crypto'

export const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

export const OPCODE = Object.freeze({
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
})

/**
 * Settles like `promise`, or rejects with an Error naming `label` once `ms`
 * milliseconds have passed, so a hang fails the test instead of blocking ava.
 */
export function withTimeout(promise, ms, label) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * The reason `promise` rejects with; fails if it fulfils or is still pending
 * after `ms` (ava's throwsAsync refuses DOMExceptions on Node 20).
 */
export async function rejectionOf(promise, ms = 10_000, label = 'promise') {
  let timer
  const pending = new Error(`still pending after ${ms} ms: ${label}`)
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(pending), ms)
  })
  try {
    const value = await Promise.race([promise, timeout])
    throw Object.assign(new Error(`expected ${label} to reject, but it fulfilled`), { value })
  } catch (reason) {
    if (reason === pending || (reason instanceof Error && /^expected .* to reject/.test(reason.message))) {
      throw reason
    }
    return reason
  } finally {
    clearTimeout(timer)
  }
}

/** Whether `promise` is still pending after a macrotask turn. */
export async function isPending(promise) {
  const marker = Symbol('pending')
  const result = await Promise.race([
    promise.then(
      () => 'fulfilled',
      () => 'rejected',
    ),
    new Promise((resolve) => setImmediate(() => resolve(marker))),
  ])
  return result === marker
}

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2). */
export function acceptKeyFor(key) {
  return createHash('sha1').update(key + GUID).digest('base64')
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
 * Reads the upgrade request from `socket` and answers 101 Switching Protocols.
 * Options: `protocol` (sent as Sec-WebSocket-Protocol), `extraHeaders` (array
 * of header lines or an object), `acceptKey` (sent instead of the correct
 * Sec-WebSocket-Accept), `trailing` (bytes written right after the head, in
 * the same write). Resolves the parsed request (see readRequest) once the
 * answer is written; the socket is left paused for readFrames/collectFrames.
 */
export async function acceptHandshake(socket, options = {}) {
  const { protocol, extraHeaders = [], acceptKey, trailing } = options
  const request = await readRequest(socket)
  const accept = acceptKey ?? acceptKeyFor(request.headers['sec-websocket-key'] ?? '')
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${accept}`,
  ]
  if (protocol !== undefined) lines.push(`Sec-WebSocket-Protocol: ${protocol}`)
  lines.push(...headerLines(extraHeaders))
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1')
  socket.write(trailing ? Buffer.concat([head, trailing]) : head)
  return request
}

/**
 * One frame as bytes. Server→client frames are unmasked unless `masked`;
 * `rsv` is the 3-bit RSV1..RSV3 field (4 = RSV1, 2 = RSV2, 1 = RSV3); the
 * length uses the 7-, 16- or 64-bit form as the payload needs, unless
 * `lengthForm` ('7' | '16' | '64') forces a longer one.
 */
export function encodeFrame({ opcode, payload = Buffer.alloc(0), fin = true, masked = false, rsv = 0, lengthForm }) {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload)
  const length = data.length
  const form = lengthForm ?? (length < 126 ? '7' : length <= 0xffff ? '16' : '64')
  const extra = form === '7' ? 0 : form === '16' ? 2 : 8
  const header = Buffer.alloc(2 + extra + (masked ? 4 : 0))
  header[0] = (fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | (opcode & 0xf)
  const maskBit = masked ? 0x80 : 0
  if (form === '7') {
    header[1] = maskBit | length
  } else if (form === '16') {
    header[1] = maskBit | 126
    header.writeUInt16BE(length, 2)
  } else {
    header[1] = maskBit | 127
    header.writeBigUInt64BE(BigInt(length), 2)
  }
  if (masked) {
    const key = randomBytes(4)
    key.copy(header, 2 + extra)
    for (let i = 0; i < length; i++) data[i] ^= key[i & 3]
  }
  return Buffer.concat([header, data])
}

/** A Close frame body: nothing when `code` is undefined, else code + reason. */
export function closeBody(code, reason = '') {
  if (code === undefined) return Buffer.alloc(0)
  const reasonBytes = typeof reason === 'string' ? Buffer.from(reason, 'utf8') : Buffer.from(reason)
  const body = Buffer.alloc(2 + reasonBytes.length)
  body.writeUInt16BE(code, 0)
  reasonBytes.copy(body, 2)
  return body
}

/** A server→client Close frame. `closeFrame()` has an empty body. */
export function closeFrame(code, reason = '', options = {}) {
  return encodeFrame({ opcode: OPCODE.CLOSE, payload: closeBody(code, reason), ...options })
}

export const textFrame = (text, options = {}) => encodeFrame({ opcode: OPCODE.TEXT, payload: text, ...options })
export const binaryFrame = (bytes, options = {}) => encodeFrame({ opcode: OPCODE.BINARY, payload: bytes, ...options })

/**
 * The code and reason of a Close frame's payload: { code: null, reason: '' }
 * for an empty body; `reasonBytes` always holds the raw reason.
 */
export function parseClose(payload) {
  if (payload.length === 0) return { code: null, reason: '', reasonBytes: Buffer.alloc(0) }
  if (payload.length === 1) return { code: NaN, reason: '', reasonBytes: Buffer.alloc(0) }
  const reasonBytes = payload.subarray(2)
  return { code: payload.readUInt16BE(0), reason: reasonBytes.toString('utf8'), reasonBytes }
}

/**
 * Incremental frame decoder: push bytes, get whole frames
 * { fin, rsv, opcode, masked, payload } with the payload unmasked.
 */
export class FrameParser {
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
 * Decodes every frame the client sends on `socket` (resuming it). Returns
 * {
 *   frames,                 // every frame so far, in order
 *   ended,                  // promise: the client ended or dropped TCP
 *   hasEnded(),             // whether that happened yet
 *   waitFor(pred, ms, label) → the first frame (past or future) matching pred
 *   closeFrame(ms)          → { code, reason, reasonBytes, frame } of the client's Close
 * }
 */
export function collectFrames(socket) {
  const parser = new FrameParser()
  const frames = []
  const waiters = new Set()
  let ended = false
  let resolveEnded
  const endedPromise = new Promise((resolve) => {
    resolveEnded = resolve
  })
  const finish = () => {
    if (ended) return
    ended = true
    resolveEnded()
    for (const waiter of waiters) waiter.check()
  }
  socket.on('data', (chunk) => {
    for (const frame of parser.push(chunk)) {
      frames.push(frame)
      for (const waiter of waiters) waiter.check()
    }
  })
  socket.on('end', finish)
  socket.on('close', finish)
  socket.on('error', finish)
  socket.resume()

  function waitFor(predicate, ms = 10_000, label = 'a frame from the client') {
    return withTimeout(
      new Promise((resolve, reject) => {
        const waiter = {
          check() {
            const frame = frames.find(predicate)
            if (frame !== undefined) {
              waiters.delete(waiter)
              resolve(frame)
            } else if (ended) {
              waiters.delete(waiter)
              reject(new Error(`the client closed TCP without sending ${label}`))
            }
          },
        }
        waiters.add(waiter)
        waiter.check()
      }),
      ms,
      label,
    )
  }

  return {
    frames,
    ended: endedPromise,
    hasEnded: () => ended,
    waitFor,
    async closeFrame(ms = 10_000) {
      const frame = await waitFor((f) => f.opcode === OPCODE.CLOSE, ms, "the client's Close frame")
      return { ...parseClose(frame.payload), frame }
    },
  }
}

/** An async iterator over the client's frames on `socket`; ends when TCP does. */
export async function* readFrames(socket) {
  const collector = collectFrames(socket)
  let index = 0
  for (;;) {
    if (index < collector.frames.length) {
      yield collector.frames[index++]
      continue
    }
    if (collector.hasEnded()) return
    const want = index
    await Promise.race([
      collector.ended,
      new Promise((resolve) => {
        const check = () => {
          if (collector.frames.length > want) {
            socket.off('data', check)
            resolve()
          }
        }
        socket.on('data', check)
        check()
      }),
    ])
  }
}

/**
 * A raw server (helpers/servers.mjs) that completes the handshake with
 * `handshake` options for each client, closed at the end of the test.
 * `connection()` resolves { socket, request, frames } for the next client;
 * `frames` is a collectFrames collector unless `collect: false` (then the
 * socket stays paused: a server that never reads).
 */
export async function startRawWebSocketServer(t, { handshake = {}, collect = true } = {}) {
  const { startRawServer } = await import('./servers.mjs')
  const queue = []
  const waiting = []
  const server = await startRawServer((socket) => {
    const connection = acceptHandshake(socket, handshake).then((request) => ({
      socket,
      request,
      frames: collect ? collectFrames(socket) : null,
    }))
    connection.catch(() => {})
    if (waiting.length > 0) waiting.shift()(connection)
    else queue.push(connection)
  })
  t.teardown(() => server.close())
  return {
    ...server,
    connection(ms = 10_000) {
      const next =
        queue.length > 0 ? queue.shift() : new Promise((resolve) => waiting.push(resolve)).then((c) => c)
      return withTimeout(next, ms, 'a client connection on the raw server')
    },
  }
}
