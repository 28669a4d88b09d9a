// @ts-check
'use strict'
// One connection's life as the draft describes it: native events in, the two
// web streams and the opened/closed promises out, and the closing steps.

const { ReadableStream, WritableStream } = require('node:stream/web')
const { types } = require('node:util')
const native = require('./native')
const { createWebSocketError, failureCause, isWebSocketError, ownFailureCause } = require('./websocket-error')
const { toUSVString, validateCloseCodeAndReason } = require('./webidl')
const { publishClose, publishControlFrame, publishError, publishOpen } = require('./diagnostics')
const { lookupAddresses } = require('./address-lookup')
const { ConnectionResource } = require('./connection-resource')
const { batchMessage, flushSendBatch } = require('./send-batch')

// Event kinds, send results and message kinds, as the addon defines them.
const { EventKind, SendStatus, MessageKind } = native

/** @typedef {import('../binding').NativeConnection} NativeConnection */
/** @typedef {import('../binding').ConnectOptions} ConnectOptions */
/** @typedef {Omit<ConnectOptions, 'addresses'>} ConnectTarget what to connect to, before its addresses are known */
/** @typedef {import('../binding').OpenedInfo} OpenedInfo */
/** @typedef {import('../binding').ClosedInfo} ClosedInfo */
/** @typedef {{ resolve: (value: void) => void, reject: (reason: unknown) => void }} PendingWrite */
/**
 * @template T
 * @typedef {{ promise: Promise<T>, resolve: (value: T) => void, reject: (reason: unknown) => void }} Deferred
 */

// Received messages are copied by the native side into this one buffer,
// shared by every connection (JS is single-threaded and empties it at once),
// so a batch allocates nothing but the messages themselves. At most 512
// messages a batch: web streams queue chunks in an array whose shift() turns
// linear once it holds tens of thousands.
const batchBuffer = new Uint8Array(256 * 1024)
const batchText = Buffer.from(batchBuffer.buffer)
const batchLayout = new Uint32Array(2 * 512)

// The draft's ready state. Only `advance` moves it, by this table: for each
// trigger, the state it moves from and the one it moves to (a trigger in any
// other state does nothing). The native side follows the open connection in
// finer phases (src/phase.rs); JS hears of them only through its events, so
// the server's Close and a protocol violation leave JS OPEN (or CLOSING)
// until the "closed" event.
//
//   trigger            from                       to        native side
//   opened             CONNECTING                 OPEN      the task entered Phase::Open
//   closeRequested     CONNECTING                 CLOSING   the task is aborted (none yet while the name resolves)
//   closeRequested     OPEN                       CLOSING   Phase::ClosingByUs, on the task's next poll
//   handshakeAborted   CONNECTING                 CLOSED    the task is aborted, no event follows
//   closed             CONNECTING, OPEN, CLOSING  CLOSED    the task ended with this outcome
const CONNECTING = 0
const OPEN = 1
const CLOSING = 2
const CLOSED = 3
/** @type {Record<string, Partial<Record<number, number>>>} */
const READY_STATE_TRANSITIONS = {
  opened: { [CONNECTING]: OPEN },
  closeRequested: { [CONNECTING]: CLOSING, [OPEN]: CLOSING },
  handshakeAborted: { [CONNECTING]: CLOSED },
  closed: { [CONNECTING]: CLOSED, [OPEN]: CLOSED, [CLOSING]: CLOSED },
}

// Sessions that wait on the native side (a handshake, a read, a write, a
// close) are held here, so an application awaiting one of them is never
// collected. Otherwise only the application's references keep a session: one
// it dropped is collected, and the native connection ends with it.
/** @type {Set<Session>} */
const waitingOnNative = new Set()

function noop() {}

/** @param {Session} session */
function endWriteTurn(session) {
  session.wroteThisTurn = false
  flushSendBatch()
}

/**
 * @template T
 * @returns {Deferred<T>}
 */
function deferred() {
  /** @type {Deferred<T>['resolve']} */
  let resolve = noop
  /** @type {Deferred<T>['reject']} */
  let reject = noop
  /** @type {Promise<T>} */
  const promise = new Promise((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/**
 * A deferred whose promise is made only when first asked for, and which lets
 * go of its resolving functions once settled: `opened` and `closed`. Many
 * applications read `closed` only when the connection has ended; until then
 * an idle connection holds this object rather than a pending promise, its
 * resolving functions and the reaction that handles its rejection. A
 * rejection is always handled: a failed connection never surfaces as an
 * unhandled rejection.
 * @template T
 */
class LazyDeferred {
  constructor() {
    /** The promise, once asked for. @type {Promise<T> | null} */
    this.made = null
    /** Its resolving functions while it is pending. @type {Deferred<T>['resolve'] | null} */
    this.resolveMade = null
    /** @type {Deferred<T>['reject'] | null} */
    this.rejectMade = null
    /** How it settled, if it did before it was asked for. @type {{ fulfilled: boolean, result: unknown } | null} */
    this.settledEarly = null
  }

  /** @returns {Promise<T>} */
  get promise() {
    if (this.made !== null) return this.made
    const early = this.settledEarly
    this.settledEarly = null
    /** @type {Promise<T>} */
    let made
    if (early === null) {
      made = new Promise((resolve, reject) => {
        this.resolveMade = resolve
        this.rejectMade = reject
      })
    } else {
      made = early.fulfilled ? Promise.resolve(/** @type {T} */ (early.result)) : Promise.reject(early.result)
    }
    made.catch(noop)
    this.made = made
    return made
  }

  /** @param {T} value */
  resolve(value) {
    this.settle(true, value)
  }

  /** @param {unknown} reason */
  reject(reason) {
    this.settle(false, reason)
  }

  /**
   * Only the first settling counts, as with a promise's own functions.
   * @param {boolean} fulfilled
   * @param {unknown} result
   */
  settle(fulfilled, result) {
    if (this.made === null) {
      this.settledEarly ??= { fulfilled, result }
      return
    }
    const settleMade = fulfilled ? this.resolveMade : this.rejectMade
    this.resolveMade = null
    this.rejectMade = null
    settleMade?.(/** @type {T} */ (result))
  }
}

// WebIDL reads a BufferSource through its internal slots, never through
// properties a caller could override: these are the slots' getters.
/**
 * @param {object} prototype
 * @param {PropertyKey} name
 * @returns {(this: unknown) => any}
 */
const getter = (prototype, name) =>
  /** @type {(this: unknown) => any} */ (
    /** @type {PropertyDescriptor} */ (Object.getOwnPropertyDescriptor(prototype, name)).get
  )
const typedArraySlots = ['buffer', 'byteOffset', 'byteLength'].map((name) =>
  getter(Object.getPrototypeOf(Uint8Array.prototype), name),
)
// Brand-checks without throwing: 'Uint8Array' for a Uint8Array, else undefined.
const typedArrayKind = getter(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)
const dataViewSlots = ['buffer', 'byteOffset', 'byteLength'].map((name) => getter(DataView.prototype, name))
const arrayBufferByteLength = getter(ArrayBuffer.prototype, 'byteLength')
const arrayBufferResizable = getter(ArrayBuffer.prototype, 'resizable')

/**
 * A copy of an ArrayBuffer's bytes (none if it was detached).
 * @param {ArrayBuffer} buffer
 * @param {number} byteOffset
 * @param {number} byteLength
 */
function arrayBufferBytes(buffer, byteOffset, byteLength) {
  if (arrayBufferResizable.call(buffer)) throw new TypeError('A resizable ArrayBuffer cannot be sent')
  // A detached buffer has length 0: it holds no bytes to send.
  if (arrayBufferByteLength.call(buffer) === 0) return new Uint8Array(0)
  return new Uint8Array(buffer, byteOffset, byteLength)
}

/**
 * The draft's write conversion: BufferSources are copied as binary, anything
 * else becomes a USVString. Resizable and shared memory are not BufferSources
 * a WebSocket accepts.
 * @param {unknown} chunk
 * @returns {string | Uint8Array}
 */
function toOutgoingMessage(chunk) {
  if (typedArrayKind.call(chunk) === 'Uint8Array') {
    // The common case, without a new view: the native side copies the
    // array's bytes through its internal slots (none if it is detached).
    const buffer = typedArraySlots[0].call(chunk)
    if (!types.isSharedArrayBuffer(buffer) && !arrayBufferResizable.call(buffer))
      return /** @type {Uint8Array} */ (chunk)
  }
  if (types.isArrayBuffer(chunk)) return arrayBufferBytes(chunk, 0, arrayBufferByteLength.call(chunk))
  if (ArrayBuffer.isView(chunk)) {
    const [buffer, byteOffset, byteLength] = (types.isDataView(chunk) ? dataViewSlots : typedArraySlots).map((slot) => {
      try {
        return slot.call(chunk)
      } catch {
        // A DataView on a detached buffer throws here: it holds no bytes.
        return 0
      }
    })
    if (types.isSharedArrayBuffer(buffer)) {
      throw new TypeError('A view on a SharedArrayBuffer cannot be sent')
    }
    if (buffer === 0) return new Uint8Array(0)
    return arrayBufferBytes(buffer, byteOffset, byteLength)
  }
  return toUSVString(chunk)
}

/**
 * The native side holds its event callback for the connection's lifetime; the
 * callback must not keep the session (and so the connection) alive by itself.
 * It is made out here because a closure made in a method shares that method's
 * scope, `this` included.
 * @param {WeakRef<Session>} weakSession
 * @returns {(event: [number, OpenedInfo | null, ClosedInfo | null, Uint8Array | null]) => void}
 */
function listenWeakly(weakSession) {
  return ([kind, opened, closed, payload]) => weakSession.deref()?.onNativeEvent(kind, opened, closed, payload)
}

// The streams' underlying source and sink. Their methods live on the
// prototypes rather than in closures made per connection, which every idle
// connection would hold.

class MessageSource {
  /** @param {Session} session */
  constructor(session) {
    this.session = session
  }

  /** @param {ReadableStreamDefaultController} controller */
  start(controller) {
    this.session.readableController = controller
  }

  pull() {
    return this.session.pull()
  }

  /** @param {unknown} reason */
  cancel(reason) {
    this.session.closeUsingReason(reason)
  }
}

class MessageSink {
  /** @param {Session} session */
  constructor(session) {
    this.session = session
  }

  /** @param {WritableStreamDefaultController} controller */
  start(controller) {
    this.session.writableController = controller
  }

  /** @param {unknown} chunk */
  write(chunk) {
    return this.session.write(chunk)
  }

  close() {
    return this.session.closeFromWriter()
  }

  /** @param {unknown} reason */
  abort(reason) {
    this.session.closeUsingReason(reason)
  }
}

class Session {
  /**
   * @param {string} url the serialized URL, for error messages
   * @param {ConnectTarget} target what the native side needs to connect
   * @param {AbortSignal | null} signal
   * @param {import('./address-lookup').LookupFunction | undefined} lookup the `lookup` option
   */
  constructor(url, target, signal, lookup) {
    this.url = url
    this.readyState = CONNECTING
    /** @type {LazyDeferred<{ readable: ReadableStream, writable: WritableStream, extensions: string, protocol: string }>} */
    this.opened = new LazyDeferred()
    /** @type {LazyDeferred<{ closeCode: number, reason: string }>} */
    this.closed = new LazyDeferred()
    /** @type {NativeConnection | null} */
    this.native = null
    /** @type {AbortSignal | null} */
    this.signal = null
    /** @type {() => void} */
    this.onAbort = noop
    /** @type {ReadableStreamDefaultController | null} */
    this.readableController = null
    /** @type {WritableStreamDefaultController | null} */
    this.writableController = null
    /** Ends a pull that found no message (resumePull). @type {((result: undefined | Promise<never>) => void) | null} */
    this.finishPull = null
    /** A write waiting for the socket, or (refused after the server's Close) for the end. @type {PendingWrite | null} */
    this.pendingWrite = null
    /** An abort of the writable rejects the waiting write (giveWayToAbort). */
    this.listensForAbort = false
    /** writer.close(), settled when the connection has closed. @type {Deferred<void> | null} */
    this.pendingWriterClose = null
    /** A write of this turn of the event loop was already made. */
    this.wroteThisTurn = false
    /** The last batch handed over was not accepted: writes go alone until one is. */
    this.sendQueueFull = false
    /** For the open event's handshake duration. */
    this.connectStartedAt = performance.now()
    // The session as async_hooks tools see it. Such a tool may hold the
    // resource for good, so it reaches the session only weakly, as the
    // native side's event callback does (listenWeakly).
    this.resource = new ConnectionResource(url, new WeakRef(this))

    if (signal !== null) {
      if (signal.aborted) {
        this.advance('handshakeAborted')
        this.opened.reject(signal.reason)
        this.closed.reject(signal.reason)
        publishError(url, signal.reason)
        return
      }
      this.signal = signal
      this.onAbort = () => this.abortHandshake()
      signal.addEventListener('abort', this.onAbort, { once: true })
    }
    this.updateHold()
    // Through a proxy, the proxy's name is looked up here and the target's by the proxy.
    lookupAddresses(
      target.proxy?.host ?? target.host,
      lookup,
      (addresses) => this.connect({ ...target, addresses }),
      // Even a lookup that answers at once fails after the constructor returned.
      (message, cause) =>
        queueMicrotask(() =>
          this.connectionFailed(message, cause ?? ownFailureCause('ERR_WEBSOCKETSTREAM_DNS', message)),
        ),
    )
  }

  /**
   * Hands the connection to the native side, once the addresses are known.
   * @param {ConnectOptions} target
   */
  connect(target) {
    // close() or the signal may have ended the connection during the lookup.
    if (this.readyState !== CONNECTING) return
    try {
      this.native = native.connect(target, listenWeakly(this.resource.session))
    } catch (error) {
      // The addon refused an address the lookup gave (a zone naming no interface).
      const { message } = /** @type {Error} */ (error)
      queueMicrotask(() => this.connectionFailed(message, ownFailureCause('ERR_WEBSOCKETSTREAM_DNS', message)))
    }
  }

  /**
   * Moves the ready state for `trigger` (READY_STATE_TRANSITIONS); false if
   * the trigger does nothing in the current state.
   * @param {keyof typeof READY_STATE_TRANSITIONS} trigger
   */
  advance(trigger) {
    /** @type {number | undefined} */
    const next = READY_STATE_TRANSITIONS[trigger][this.readyState]
    if (next === undefined) return false
    this.readyState = next
    if (next === CLOSED) this.resource.emitDestroy()
    return true
  }

  /** Connecting, open or closing: what the async resource reports as `hasRef()`. */
  keepsProcessAlive() {
    return this.readyState !== CLOSED
  }

  updateHold() {
    const waiting =
      this.readyState === CONNECTING ||
      this.readyState === CLOSING ||
      this.finishPull !== null ||
      this.pendingWrite !== null
    if (waiting) waitingOnNative.add(this)
    else waitingOnNative.delete(this)
  }

  /**
   * @param {number} kind an EventKind
   * @param {OpenedInfo | null} opened
   * @param {ClosedInfo | null} closed
   * @param {Uint8Array | null} payload a Ping's or a Pong's
   */
  onNativeEvent(kind, opened, closed, payload) {
    switch (kind) {
      case EventKind.Opened:
        this.connectionEstablished(/** @type {OpenedInfo} */ (opened))
        break
      case EventKind.Messages:
        this.resumePull()
        break
      case EventKind.Writable: {
        const write = this.pendingWrite
        this.pendingWrite = null
        write?.resolve()
        this.updateHold()
        break
      }
      case EventKind.Closed:
        this.connectionClosed(/** @type {ClosedInfo} */ (closed))
        break
      case EventKind.Ping:
        publishControlFrame('ping', this.url, /** @type {Uint8Array} */ (payload))
        break
      case EventKind.Pong:
        publishControlFrame('pong', this.url, /** @type {Uint8Array} */ (payload))
        break
    }
  }

  /** @param {OpenedInfo} opened */
  connectionEstablished(opened) {
    if (!this.advance('opened')) return
    this.detachSignal()
    publishOpen(this.url, opened, this.connectStartedAt)
    const { protocol, extensions } = opened
    const readable = new ReadableStream(new MessageSource(this), { highWaterMark: 1 })
    const writable = new WritableStream(new MessageSink(this), { highWaterMark: 1 })
    this.opened.resolve({ readable, writable, extensions, protocol })
    this.updateHold()
  }

  /**
   * Hands the readable the queued messages; if none is queued, the pull waits
   * for the "messages" event (resumePull).
   * @returns {Promise<void> | undefined}
   */
  pull() {
    if (this.readyState !== OPEN || this.enqueueQueuedMessages()) return undefined
    return new Promise((resolve) => {
      this.finishPull = resolve
      this.updateHold()
    })
  }

  /** Messages arrived, or the connection closed: the waiting pull ends, or waits on. */
  resumePull() {
    const finishPull = this.finishPull
    if (finishPull === null) return
    try {
      // Woken for nothing (the messages went with an earlier take): wait on.
      if (this.readyState === OPEN && !this.enqueueQueuedMessages()) return
      finishPull(undefined)
    } catch (error) {
      // As a pull that throws: the readable errors with it.
      finishPull(Promise.reject(error))
    }
    this.finishPull = null
    this.updateHold()
  }

  /** Moves one batch from the native queue into the readable; false if none was queued. */
  enqueueQueuedMessages() {
    const controller = /** @type {ReadableStreamDefaultController} */ (this.readableController)
    const connection = /** @type {NativeConnection} */ (this.native)
    const count = connection.takeMessages(batchBuffer, batchLayout)
    if (count === 0) return false
    if (count < 0) {
      // A large message comes in a buffer of its own, exactly its size.
      const data = connection.takeLargeMessage()
      // None: the connection broke in the native call, and a "closed" event follows.
      if (data === null) return false
      controller.enqueue(
        batchLayout[0] === MessageKind.Text
          ? Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')
          : data,
      )
      return true
    }
    let start = 0
    for (let index = 0; index < 2 * count; index += 2) {
      const end = start + batchLayout[index + 1]
      // Binary messages are copied out, each into its own exact-size buffer.
      controller.enqueue(
        batchLayout[index] === MessageKind.Text
          ? batchText.toString('utf8', start, end)
          : batchBuffer.slice(start, end),
      )
      start = end
    }
    return true
  }

  /** @param {unknown} chunk */
  write(chunk) {
    const message = toOutgoingMessage(chunk)
    // After our close() the draft drops further messages (and resolves).
    if (this.readyState !== OPEN) return undefined
    // The first write of a turn of the event loop goes to the socket from
    // this thread (a lone message, an echo's request, is not delayed by a
    // wake-up of the native thread); the writes after it in the same turn are
    // a burst: small ones are gathered and handed over together
    // (lib/send-batch.js), and the native thread sends them in batches.
    if (this.wroteThisTurn && !this.sendQueueFull && batchMessage(this, message)) return undefined
    // What was gathered goes first.
    flushSendBatch()
    const now = !this.wroteThisTurn
    if (now) {
      this.wroteThisTurn = true
      process.nextTick(endWriteTurn, this)
    }
    const connection = /** @type {NativeConnection} */ (this.native)
    const status = typeof message === 'string' ? connection.sendText(message, now) : connection.sendBinary(message, now)
    if (status === SendStatus.Accepted) {
      this.sendQueueFull = false
      return undefined
    }
    // Over the bound, it resolves when the socket took enough. Refused (the
    // server's Close has arrived), it stays pending until the close steps
    // reject it: such a write is never dropped and never resolved.
    /** @type {Promise<void>} */
    const pending = new Promise((resolve, reject) => {
      this.pendingWrite = { resolve, reject }
      this.updateHold()
    })
    this.giveWayToAbort()
    return pending
  }

  /**
   * The native queue did not accept a batch this session's writes were in
   * (over its bound, or closing): those writes have resolved already, so the
   * next one goes alone and waits, or is refused, as the queue says.
   */
  batchNotAccepted() {
    this.sendQueueFull = true
  }

  /**
   * writer.abort() waits for the write in progress; one waiting for the
   * socket must give way, or an abort could wait forever. Listened for from
   * the first write that waits: the controller makes its signal when first
   * asked for, and that signal and its listener cost about 0.9 KiB, which a
   * connection whose writes never wait does not need. (An abort before this
   * found no write waiting: it has nothing to undo.)
   */
  giveWayToAbort() {
    if (this.listensForAbort) return
    this.listensForAbort = true
    // (@types/node 20 leaves the controller's signal out.)
    const { signal } = /** @type {WritableStreamDefaultController & { signal: AbortSignal }} */ (
      this.writableController
    )
    signal.addEventListener('abort', () => this.abandonPendingWrite(signal.reason), { once: true })
  }

  /** @param {unknown} reason */
  abandonPendingWrite(reason) {
    const write = this.pendingWrite
    this.pendingWrite = null
    write?.reject(reason)
    this.updateHold()
  }

  closeFromWriter() {
    /** @type {Deferred<void>} */
    const writerClose = deferred()
    this.pendingWriterClose = writerClose
    const settled = writerClose.promise
    this.closeWebSocket(null, '')
    return settled
  }

  /** cancel() and abort(): only a real WebSocketError chooses the code and reason. */
  /** @param {unknown} reason */
  closeUsingReason(reason) {
    let closeCode = null
    let closeReason = ''
    if (isWebSocketError(reason)) {
      closeCode = reason.closeCode
      closeReason = reason.reason
    }
    try {
      validateCloseCodeAndReason(closeCode, closeReason)
    } catch {
      // A code only the package may report (1006 from a failed `closed`, say).
      closeCode = null
      closeReason = ''
    }
    this.closeWebSocket(closeCode, closeReason)
  }

  /**
   * The draft's "close the WebSocket", after validation.
   * @param {number | null} closeCode
   * @param {string} reason
   */
  closeWebSocket(closeCode, reason) {
    const wasConnecting = this.readyState === CONNECTING
    if (!this.advance('closeRequested')) return
    if (wasConnecting) {
      this.native?.abort()
      const message = 'close() was called before the handshake completed'
      this.connectionFailed(message, ownFailureCause('ERR_WEBSOCKETSTREAM_CLOSED_BEFORE_OPEN', message))
      return
    }
    const connection = /** @type {NativeConnection} */ (this.native)
    // Messages gathered this turn go before the Close.
    flushSendBatch()
    connection.close(closeCode === null && reason !== '' ? 1000 : closeCode, reason)
    this.updateHold()
  }

  abortHandshake() {
    if (!this.advance('handshakeAborted')) return
    this.native?.abort()
    const { reason } = /** @type {AbortSignal} */ (this.signal)
    this.opened.reject(reason)
    this.closed.reject(reason)
    this.detachSignal()
    publishError(this.url, reason)
    this.updateHold()
  }

  detachSignal() {
    this.signal?.removeEventListener('abort', this.onAbort)
    this.signal = null
  }

  /**
   * A failure found on the JS side, before the connection opened.
   * @param {string} message
   * @param {unknown} cause the error behind it, for the WebSocketError's `cause`
   */
  connectionFailed(message, cause) {
    this.closeConnection(1006, '', false, message, cause)
  }

  /**
   * The native side's "closed" event.
   * @param {ClosedInfo} closed
   */
  connectionClosed({ code, reason, wasClean, failure }) {
    const cause = failure == null ? undefined : failureCause(failure)
    this.closeConnection(code, reason, wasClean, failure?.message ?? '', cause)
  }

  /**
   * The draft's "when the connection is closed".
   * @param {number} code
   * @param {string} reason
   * @param {boolean} wasClean
   * @param {string} message why, for an unclean close
   * @param {unknown} cause the error behind an unclean close
   */
  closeConnection(code, reason, wasClean, message, cause) {
    const wasOpen = this.readyState === OPEN
    if (!this.advance('closed')) return
    this.detachSignal()
    this.resumePull()
    const readableController = this.readableController
    const writableController = /** @type {WritableStreamDefaultController} */ (this.writableController)
    if (readableController === null) {
      const failure = `WebSocket connection to ${this.url} failed: ${message}`
      const error = createWebSocketError(failure, null, '', cause)
      this.opened.reject(error)
      this.closed.reject(createWebSocketError(failure, 1006, '', cause))
      publishError(this.url, error)
      this.updateHold()
      return
    }
    // Messages that arrived before the server's Close stay readable.
    if (wasOpen) {
      while (this.enqueueQueuedMessages());
    }
    const write = this.pendingWrite
    this.pendingWrite = null
    const writerClose = this.pendingWriterClose
    this.pendingWriterClose = null
    if (wasClean && write === null) {
      this.closeReadable()
      if (writerClose !== null) writerClose.resolve()
      else writableController.error(closedStreamError())
      this.closed.resolve({ closeCode: code, reason })
    } else if (wasClean && write !== null) {
      // A write was still pending when the server's Close arrived: it fails,
      // and so does every later write, with the same error.
      write.reject(
        new DOMException('The server closed the connection before this message could be sent', 'InvalidStateError'),
      )
      this.closeReadable()
      this.closed.reject(
        createWebSocketError(
          `WebSocket connection to ${this.url} was closed by the server (${code}) while a write was pending`,
          code,
          reason,
        ),
      )
    } else {
      const error = createWebSocketError(
        `WebSocket connection to ${this.url} closed uncleanly: ${message}`,
        code,
        reason,
        cause,
      )
      readableController.error(error)
      writableController.error(error)
      write?.reject(error)
      writerClose?.reject(error)
      this.closed.reject(error)
    }
    publishClose(this.url, code, reason, wasClean)
    this.updateHold()
  }

  closeReadable() {
    try {
      this.readableController?.close()
    } catch {
      // The application cancelled the readable already.
    }
  }
}

function closedStreamError() {
  return new DOMException('The WebSocket connection is closed', 'InvalidStateError')
}

module.exports = { Session }
