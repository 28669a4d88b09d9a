// @ts-check
'use strict'
// The small writes of one turn of the event loop, after its first, gathered
// in one buffer and handed to the native side in one call (`sendBatch`).
//
// Why: for a 16-byte message the napi call, its argument conversion and the
// native copy cost more than the web stream's own write. A burst of small
// writes (a loop of `await writer.write()`: promise jobs of one turn) now pays
// one call per batch. The turn's first write still goes alone and at once
// (lib/session.js), so a lone message is never delayed.
//
// The buffer is shared by every connection on this thread: a session that
// batches after another hands the other's batch over first. It is handed
// over at the end of the turn (the session's `process.nextTick`), when it is
// full, and before anything else that must go after it: the session's next
// unbatched write, its close().

const { MessageKind, SendStatus } = require('./native')

/** Messages up to this size are batched (text: UTF-16 units, at most 3 bytes each). */
const SMALL_MESSAGE_BYTES = 1024
const BATCH_BYTES = 64 * 1024
const BATCH_MESSAGES = 2048

const buffer = Buffer.allocUnsafe(BATCH_BYTES)
const layout = new Uint32Array(2 * BATCH_MESSAGES)
let bytes = 0
let count = 0

/**
 * Whose messages the batch holds.
 * @typedef {{ native: import('../binding').NativeConnection | null, batchNotAccepted(): void }} BatchOwner
 * @type {BatchOwner | null}
 */
let owner = null

/**
 * Adds a small message to the batch; false if it is too large to batch (the
 * caller hands the batch over and sends it on its own).
 * @param {BatchOwner} session
 * @param {string | Uint8Array} message
 */
function batchMessage(session, message) {
  const isText = typeof message === 'string'
  const maxBytes = isText ? 3 * message.length : message.byteLength
  if (maxBytes > SMALL_MESSAGE_BYTES) return false
  if (owner !== session || bytes + maxBytes > BATCH_BYTES || count === BATCH_MESSAGES) flushSendBatch()
  owner = session
  let length
  if (isText) {
    length = buffer.write(message, bytes, 'utf8')
  } else {
    buffer.set(message, bytes)
    length = message.byteLength
  }
  layout[2 * count] = isText ? MessageKind.Text : MessageKind.Binary
  layout[2 * count + 1] = length
  bytes += length
  count += 1
  return true
}

/** Hands the batch, if any, to its connection; tells its session if it was not accepted. */
function flushSendBatch() {
  const session = owner
  if (session === null || count === 0) return
  const batchBytes = bytes
  const batchCount = count
  owner = null
  bytes = 0
  count = 0
  // A session whose connection is gone has nothing left to send to.
  const connection = session.native
  if (connection === null) return
  const status = connection.sendBatch(buffer.subarray(0, batchBytes), layout.subarray(0, 2 * batchCount))
  if (status !== SendStatus.Accepted) session.batchNotAccepted()
}

module.exports = { batchMessage, flushSendBatch }
