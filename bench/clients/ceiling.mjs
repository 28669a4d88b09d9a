// The ceiling: a WebSocketStream look-alike whose "server" is memory, run
// through the same scenario code as the real stream clients. No socket, no
// framing, no native boundary: what is left is the cost of Node's web streams
// plus the one copy per message any WebSocketStream must make (bytes into a
// Uint8Array the reader owns; a write's bytes out of the caller's hands). So
// no WebSocketStream can be faster than this on the same Node.
//
// It mimics websocketstream's documented shape (docs/design.md, "Reading and
// backpressure", "JS-thread fast paths"):
// readable and writable with highWaterMark 1, each pull enqueues a batch of
// messages, binary chunks are `Uint8Array.prototype.slice`s of one batch
// buffer, text is decoded from a Buffer view of it. A batch is at most 256
// messages or 1 MiB: on Node 20 a web stream's queue costs O(length) per read
// once it holds more than a few thousand chunks (65,536 per pull reads at
// ~20k/s), and 256 is at or near the fastest batch on Node 20 and 24 alike.

import { ReadableStream, WritableStream } from 'node:stream/web'
import { main } from './common.mjs'
import { streamScenarios } from './stream-scenarios.mjs'

const BATCH_BYTES = 1 << 20
const BATCH_MESSAGES = 256
const encoder = new TextEncoder()

class MemoryWebSocketStream {
  #readableController = null
  #closing = false
  #resolveClosed
  #sink = { messages: 0, bytes: 0, scratch: new Uint8Array(0) }

  constructor(url) {
    this.url = url
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve
    })
    const { pathname, searchParams } = new URL(url)
    // Like a real connection, opened resolves on a later turn, never at once.
    this.opened = new Promise((resolve) => setImmediate(resolve)).then(() => ({
      readable: pathname === '/flood' ? this.#flood(searchParams) : this.#quietReadable(),
      writable: this.#writable(pathname),
      protocol: '',
      extensions: '',
    }))
  }

  close(closeInfo = {}) {
    this.#finish({ closeCode: closeInfo.closeCode ?? 1005, reason: '' })
  }

  #finish(info) {
    if (this.#closing) return
    this.#closing = true
    try {
      this.#readableController?.close()
    } catch {
      // Already closed by the flood's end, or cancelled.
    }
    this.#resolveClosed(info)
  }

  /** `count` messages of `size` bytes, one batch per pull. */
  #flood(params) {
    const count = Number(params.get('count'))
    const size = Number(params.get('size'))
    const text = params.get('type') === 'text'
    const perBatch = Math.max(1, Math.min(BATCH_MESSAGES, Math.floor(BATCH_BYTES / size)))
    const batch = new Uint8Array(perBatch * size).fill(0x78)
    const textView = Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength)
    let remaining = count
    return new ReadableStream(
      {
        start: (controller) => {
          this.#readableController = controller
        },
        pull: (controller) => {
          if (this.#closing) return
          const messages = Math.min(perBatch, remaining)
          for (let i = 0, at = 0; i < messages; i++, at += size) {
            controller.enqueue(text ? textView.toString('utf8', at, at + size) : batch.slice(at, at + size))
          }
          remaining -= messages
          if (remaining === 0) this.#finish({ closeCode: 1000, reason: '' })
        },
        cancel: () => this.#finish({ closeCode: 1005, reason: '' }),
      },
      { highWaterMark: 1 },
    )
  }

  /** The echo and sink routes' readable: only the echo enqueues into it. */
  #quietReadable() {
    return new ReadableStream(
      {
        start: (controller) => {
          this.#readableController = controller
        },
        cancel: () => this.#finish({ closeCode: 1005, reason: '' }),
      },
      { highWaterMark: 1 },
    )
  }

  #writable(route) {
    const write =
      route === '/echo'
        ? (chunk) => this.#readableController.enqueue(typeof chunk === 'string' ? chunk : chunk.slice())
        : (chunk) => this.#count(chunk)
    return new WritableStream(
      {
        write,
        // The sink reports its count in the Close reason, as the load server does.
        close: () => this.#finish({ closeCode: 1000, reason: `${this.#sink.messages} ${this.#sink.bytes}` }),
        abort: () => this.#finish({ closeCode: 1005, reason: '' }),
      },
      { highWaterMark: 1 },
    )
  }

  /** The sink: the copy a real client makes into its send queue, and a count. */
  #count(chunk) {
    const sink = this.#sink
    const room = typeof chunk === 'string' ? chunk.length * 3 : chunk.byteLength
    if (sink.scratch.byteLength < room) sink.scratch = new Uint8Array(room)
    if (typeof chunk === 'string') {
      sink.bytes += encoder.encodeInto(chunk, sink.scratch).written
    } else {
      sink.scratch.set(chunk)
      sink.bytes += chunk.byteLength
    }
    sink.messages++
  }
}

await main(streamScenarios(MemoryWebSocketStream))
