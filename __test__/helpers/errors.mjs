// Checking thrown errors in specs. ava's t.throws refuses DOMExceptions on
// Node 20 (they are not native errors there), so errors are taken here.
import { inspect } from 'node:util'
import { WebSocketError } from '../../index.mjs'

/** What `fn` throws; fails the test if it returns. */
export function thrownBy(t, fn, label = 'the call') {
  try {
    fn()
  } catch (error) {
    return error
  }
  t.fail(`expected ${label} to throw`)
  return undefined
}

export function assertDOMException(t, error, name, label = '') {
  t.true(error instanceof DOMException, `${label} should be a DOMException, got ${inspect(error)}`)
  t.is(error?.name, name, label)
  t.true(typeof error?.message === 'string' && error.message.length > 0, `${label} has a message`)
}

export function assertTypeError(t, error, label = '') {
  t.true(error instanceof TypeError, `${label} should be a TypeError, got ${inspect(error)}`)
  t.true(typeof error?.message === 'string' && error.message.length > 0, `${label} has a message`)
}

/**
 * A WebSocketError as the package makes them (the draft's "when the
 * WebSocket connection is closed"): a DOMException named WebSocketError with
 * `closeCode` (null for a connection that never opened) and `reason`, and a
 * message naming the cause.
 */
export function assertWebSocketError(t, error, { closeCode, reason = '' }, label = 'the error') {
  t.true(error instanceof WebSocketError, `${label} should be a WebSocketError, got ${inspect(error)}`)
  t.true(error instanceof DOMException, `${label} is a DOMException`)
  t.is(error?.name, 'WebSocketError', `${label}: name`)
  t.is(error?.closeCode, closeCode, `${label}: closeCode`)
  t.is(error?.reason, reason, `${label}: reason`)
  t.true(typeof error?.message === 'string' && error.message.length > 0, `${label} has a message naming the cause`)
}
