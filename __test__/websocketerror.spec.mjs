// WebSocketError: the DOMException subclass that carries a close code and a
// reason (the draft (whatwg/websockets#48): the WebSocketError interface, its
// constructor's WebIDL conversion and its validation, the same as
// close(closeInfo)'s).
import test from 'ava'
import { inspect } from 'node:util'
import { WebSocketError } from '../index.mjs'
import { assertDOMException, assertTypeError, thrownBy } from './helpers/errors.mjs'

test('new WebSocketError() has the defaults: name WebSocketError, empty message, code 0, closeCode null, empty reason', (t) => {
  const error = new WebSocketError()
  t.is(error.name, 'WebSocketError')
  t.is(error.message, '')
  t.is(error.code, 0)
  t.is(error.closeCode, null)
  t.is(error.reason, '')
})

test('a WebSocketError is a DOMException and an Error', (t) => {
  const error = new WebSocketError('m')
  t.true(error instanceof WebSocketError)
  t.true(error instanceof DOMException)
  t.true(error instanceof Error)
  t.is(Object.getPrototypeOf(WebSocketError.prototype), DOMException.prototype)
  t.is(Object.getPrototypeOf(WebSocketError), DOMException)
})

test('message, closeCode and reason are kept', (t) => {
  const error = new WebSocketError('m', { closeCode: 3456, reason: 'r' })
  t.is(error.message, 'm')
  t.is(error.closeCode, 3456)
  t.is(error.reason, 'r')
  t.is(error.name, 'WebSocketError', 'the name does not follow the code')
  t.is(error.code, 0, 'the legacy DOMException code stays 0')
})

test('a closeCode without a reason keeps an empty reason', (t) => {
  const error = new WebSocketError('', { closeCode: 4000 })
  t.is(error.closeCode, 4000)
  t.is(error.reason, '')
})

test('1000 and 3000 to 4999 are valid close codes', (t) => {
  for (const closeCode of [1000, 3000, 3999, 4000, 4999]) {
    t.is(new WebSocketError('', { closeCode }).closeCode, closeCode)
  }
})

test('a reason without a closeCode gives closeCode 1000', (t) => {
  const error = new WebSocketError('', { reason: 'x' })
  t.is(error.closeCode, 1000)
  t.is(error.reason, 'x')
})

test('an empty reason without a closeCode leaves closeCode null', (t) => {
  t.is(new WebSocketError('', { reason: '' }).closeCode, null)
})

test('init null and undefined mean no closeCode and no reason', (t) => {
  for (const init of [null, undefined]) {
    const error = new WebSocketError('m', init)
    t.is(error.closeCode, null)
    t.is(error.reason, '')
  }
})

test('an init that is not an object is a TypeError', (t) => {
  for (const init of [true, 1, 'x', Symbol('s')]) {
    assertTypeError(
      t,
      thrownBy(t, () => new WebSocketError('m', init)),
      String(init),
    )
  }
})

test('close codes other than 1000 and 3000 to 4999 are InvalidAccessErrors', (t) => {
  for (const closeCode of [0, 999, 1001, 1005, 1006, 1015, 2999, 5000, 65535]) {
    assertDOMException(
      t,
      thrownBy(t, () => new WebSocketError('', { closeCode })),
      'InvalidAccessError',
      String(closeCode),
    )
  }
})

test('a reason over 123 UTF-8 bytes is a SyntaxError, counting bytes not characters', (t) => {
  t.is(new WebSocketError('', { reason: 'x'.repeat(123) }).reason, 'x'.repeat(123))
  assertDOMException(
    t,
    thrownBy(t, () => new WebSocketError('', { reason: 'x'.repeat(124) })),
    'SyntaxError',
    '124 ASCII',
  )
  // 🔌 is four bytes of UTF-8 (two UTF-16 code units).
  t.is(new WebSocketError('', { reason: '🔌'.repeat(30) }).reason, '🔌'.repeat(30))
  assertDOMException(
    t,
    thrownBy(t, () => new WebSocketError('', { reason: '🔌'.repeat(31) })),
    'SyntaxError',
    '31 plugs',
  )
  // é is two bytes: 61 of them and one ASCII character make 123.
  t.notThrows(() => new WebSocketError('', { reason: `${'é'.repeat(61)}x` }))
  assertDOMException(
    t,
    thrownBy(t, () => new WebSocketError('', { reason: 'é'.repeat(62) })),
    'SyntaxError',
    '62 é',
  )
  assertDOMException(
    t,
    thrownBy(t, () => new WebSocketError('', { closeCode: 1000, reason: 'x'.repeat(124) })),
    'SyntaxError',
    'with a closeCode',
  )
})

test('the close code is checked before the reason', (t) => {
  const error = thrownBy(t, () => new WebSocketError('', { closeCode: 999, reason: 'x'.repeat(124) }))
  assertDOMException(t, error, 'InvalidAccessError')
})

test('closeCode is [EnforceRange]: out of range, NaN and infinities are TypeErrors', (t) => {
  for (const closeCode of [70000, 65536, -1, NaN, Infinity, -Infinity, '70000', 'abc', {}, Symbol('s')]) {
    assertTypeError(
      t,
      thrownBy(t, () => new WebSocketError('', { closeCode })),
      String(closeCode),
    )
  }
})

test('closeCode is converted with ToNumber and truncated: 3000.9 is 3000, "4000" is 4000', (t) => {
  t.is(new WebSocketError('', { closeCode: 3000.9 }).closeCode, 3000)
  t.is(new WebSocketError('', { closeCode: 4999.99 }).closeCode, 4999)
  t.is(new WebSocketError('', { closeCode: '4000' }).closeCode, 4000)
  t.is(new WebSocketError('', { closeCode: { valueOf: () => 3001 } }).closeCode, 3001)
  t.is(new WebSocketError('', { closeCode: [1000] }).closeCode, 1000)
})

test('a closeCode that truncates into range but is not allowed is an InvalidAccessError, not a TypeError', (t) => {
  // -0.5 and null convert to 0; 65535.5 truncates to 65535; true is 1.
  for (const closeCode of [-0.5, null, 65535.5, true, '']) {
    assertDOMException(
      t,
      thrownBy(t, () => new WebSocketError('', { closeCode })),
      'InvalidAccessError',
      inspect(closeCode),
    )
  }
})

test('reason is converted to a USVString', (t) => {
  t.is(new WebSocketError('', { reason: 42 }).reason, '42')
  t.is(new WebSocketError('', { reason: 'a\uD800b' }).reason, 'a\uFFFDb')
  t.is(new WebSocketError('', { reason: { toString: () => 'from object' } }).reason, 'from object')
  t.throws(() => new WebSocketError('', { reason: Symbol('s') }), { instanceOf: TypeError })
})

test('message is converted with ToString', (t) => {
  t.is(new WebSocketError(42).message, '42')
  t.is(new WebSocketError(null).message, 'null')
  t.is(new WebSocketError(undefined).message, '', 'undefined means the default')
  t.is(new WebSocketError({ toString: () => 'from object' }).message, 'from object')
  t.throws(() => new WebSocketError(Symbol('s')), { instanceOf: TypeError })
})

test('an unknown init member such as code is ignored', (t) => {
  const error = new WebSocketError('m', { code: 4000 })
  t.is(error.closeCode, null)
  t.is(error.code, 0)
})

test('closeCode and reason are getters on the prototype without setters', (t) => {
  for (const name of ['closeCode', 'reason']) {
    const descriptor = Object.getOwnPropertyDescriptor(WebSocketError.prototype, name)
    t.is(typeof descriptor?.get, 'function', `${name} has a getter`)
    t.is(descriptor.set, undefined, `${name} has no setter`)
    t.true(descriptor.enumerable, `${name} is enumerable`)
    t.true(descriptor.configurable, `${name} is configurable`)
  }
  const error = new WebSocketError('m', { closeCode: 4000, reason: 'r' })
  t.false(Object.hasOwn(error, 'closeCode'))
  t.false(Object.hasOwn(error, 'reason'))
})

test('assigning to closeCode or reason does not change them', (t) => {
  const error = new WebSocketError('m', { closeCode: 4000, reason: 'r' })
  t.throws(
    () => {
      error.closeCode = 3000
    },
    { instanceOf: TypeError },
  )
  t.throws(
    () => {
      error.reason = 'other'
    },
    { instanceOf: TypeError },
  )
  t.is(error.closeCode, 4000)
  t.is(error.reason, 'r')
})

test('the getters throw a TypeError on objects that are not WebSocketErrors', (t) => {
  for (const name of ['closeCode', 'reason']) {
    const { get } = Object.getOwnPropertyDescriptor(WebSocketError.prototype, name)
    assertTypeError(
      t,
      thrownBy(t, () => get.call(new DOMException('m', 'SyntaxError'))),
      name,
    )
    assertTypeError(
      t,
      thrownBy(t, () => get.call({})),
      name,
    )
  }
})

test('Object.prototype.toString gives [object WebSocketError]', (t) => {
  t.is(Object.prototype.toString.call(new WebSocketError()), '[object WebSocketError]')
})

test('both constructor arguments are optional and new is required', (t) => {
  t.is(WebSocketError.length, 0)
  assertTypeError(
    t,
    thrownBy(t, () => WebSocketError('m')),
  )
})
