// Checking thrown errors in specs. ava's t.throws refuses DOMExceptions on
// Node 20 (they are not native errors there), so errors are taken here.
import { inspect } from 'node:util'

/** What `fn` throws; fails the test if it returns. */
export function thrownBy(t, fn) {
  try {
    fn()
  } catch (error) {
    return error
  }
  t.fail('expected an exception')
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
