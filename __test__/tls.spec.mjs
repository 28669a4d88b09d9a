// wss:// against a local https server with the ws package on top, using a
// certificate authority the test makes.
import test from 'ava'
import https from 'node:https'
import { WebSocketServer } from 'ws'
import { WebSocketStream, WebSocketError } from '../index.mjs'
import { makeCertificates } from './helpers/certificates.mjs'
import { rejectionOf } from './helpers/settle.mjs'
import { startConnectProxy } from './helpers/proxy.mjs'

const certificates = makeCertificates()
test.after.always(() => certificates.remove())

async function startTlsServer(t, identity, serverOptions = {}) {
  const server = https.createServer({ ...identity, ...serverOptions })
  const wss = new WebSocketServer({ server })
  const peers = []
  wss.on('connection', (socket, request) => {
    peers.push(request)
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const client of wss.clients) client.terminate()
    server.close()
  })
  return { port: server.address().port, peers }
}

async function echoOnce(wss, message) {
  const { readable, writable } = await wss.opened
  const writer = writable.getWriter()
  const reader = readable.getReader()
  await writer.write(message)
  const { value } = await reader.read()
  wss.close()
  await wss.closed
  return value
}

test('wss:// with the test CA in tls.ca verifies the server and echoes', async (t) => {
  const { port } = await startTlsServer(t, certificates.server)
  const wss = new WebSocketStream(`wss://localhost:${port}/`, { tls: { ca: certificates.ca } })
  t.is(await echoOnce(wss, 'over tls'), 'over tls')
})

test('https:// URLs connect as wss:// and an IP address is verified against the certificate', async (t) => {
  const { port } = await startTlsServer(t, certificates.server)
  const wss = new WebSocketStream(`https://127.0.0.1:${port}/`, { tls: { ca: Buffer.from(certificates.ca) } })
  t.is(wss.url, `wss://127.0.0.1:${port}/`)
  t.deepEqual(await echoOnce(wss, new Uint8Array([1, 2, 3])), new Uint8Array([1, 2, 3]))
})

test('an untrusted certificate fails the handshake with a WebSocketError naming the TLS cause', async (t) => {
  const { port } = await startTlsServer(t, certificates.untrusted)
  const wss = new WebSocketStream(`wss://localhost:${port}/`, { tls: { ca: certificates.ca } })
  const error = await rejectionOf(wss.opened)
  t.true(error instanceof WebSocketError)
  // Self-signed by openssl req -x509, it is its own CA: webpki says so first.
  t.regex(
    error.message,
    /TLS handshake with localhost failed: the server's certificate is a CA certificate, not a server certificate \(give that exact certificate in tls\.ca to trust it\)/,
  )
  const closedError = await rejectionOf(wss.closed)
  t.true(closedError instanceof WebSocketError)
  t.is(closedError.closeCode, 1006)
})

test('the default roots do not trust the test CA', async (t) => {
  const { port } = await startTlsServer(t, certificates.server)
  const wss = new WebSocketStream(`wss://localhost:${port}/`)
  const error = await rejectionOf(wss.opened)
  t.true(error instanceof WebSocketError)
  t.regex(error.message, /not signed by a trusted authority \(tls\.ca, or the default roots and NODE_EXTRA_CA_CERTS\)/)
  // A program tells a certificate problem (stop) from a network one (retry) by its cause.
  t.is(error.cause.code, 'ERR_WEBSOCKETSTREAM_TLS')
  t.is(error.cause.certificateError, 'UnknownIssuer')
})

test('a certificate for another host fails the handshake with the host named', async (t) => {
  const { port } = await startTlsServer(t, certificates.otherHost)
  const wss = new WebSocketStream(`wss://localhost:${port}/`, { tls: { ca: certificates.ca } })
  const error = await rejectionOf(wss.opened)
  t.true(error instanceof WebSocketError)
  t.regex(error.message, /the certificate is not valid for host localhost \(it names other\.example\)/)
})

test('tls.servername chooses the name verified (and sent as SNI)', async (t) => {
  const { port } = await startTlsServer(t, certificates.otherHost)
  const wss = new WebSocketStream(`wss://127.0.0.1:${port}/`, {
    tls: { ca: certificates.ca, servername: 'other.example' },
  })
  t.is(await echoOnce(wss, 'sni'), 'sni')
})

test('tls.rejectUnauthorized false accepts an untrusted certificate', async (t) => {
  const { port } = await startTlsServer(t, certificates.untrusted)
  const wss = new WebSocketStream(`wss://localhost:${port}/`, { tls: { rejectUnauthorized: false } })
  t.is(await echoOnce(wss, 'insecure'), 'insecure')
})

test('a client certificate from tls.cert and tls.key is presented to a server that requires one', async (t) => {
  const { port } = await startTlsServer(t, certificates.server, {
    ca: certificates.ca,
    requestCert: true,
    rejectUnauthorized: true,
  })
  const withoutCertificate = new WebSocketStream(`wss://localhost:${port}/`, { tls: { ca: certificates.ca } })
  t.true((await rejectionOf(withoutCertificate.opened)) instanceof WebSocketError)
  const wss = new WebSocketStream(`wss://localhost:${port}/`, {
    tls: { ca: [certificates.ca], cert: certificates.client.cert, key: Buffer.from(certificates.client.key) },
  })
  t.is(await echoOnce(wss, 'mutual'), 'mutual')
})

test('invalid tls options are TypeErrors naming the option', (t) => {
  const url = 'wss://localhost:1/'
  t.throws(() => new WebSocketStream(url, { tls: 1 }), { instanceOf: TypeError, message: /options\.tls/ })
  t.throws(() => new WebSocketStream(url, { tls: { ca: 5 } }), { instanceOf: TypeError, message: /tls\.ca/ })
  t.throws(() => new WebSocketStream(url, { tls: { rejectUnauthorized: 'no' } }), {
    instanceOf: TypeError,
    message: /tls\.rejectUnauthorized/,
  })
  t.throws(() => new WebSocketStream(url, { tls: { cert: 'x' } }), { instanceOf: TypeError, message: /together/ })
})

test('PEM that cannot be parsed, or a key that does not fit, is a TypeError from the constructor naming the option', (t) => {
  const url = 'wss://localhost:1/'
  const notPem = 'not a certificate'
  t.throws(() => new WebSocketStream(url, { tls: { ca: notPem } }), {
    instanceOf: TypeError,
    message: /^WebSocketStream options\.tls\.ca holds no PEM certificate/,
  })
  t.throws(() => new WebSocketStream(url, { tls: { ca: [certificates.ca, notPem] } }), {
    instanceOf: TypeError,
    message: /options\.tls\.ca/,
  })
  t.throws(() => new WebSocketStream(url, { tls: { cert: certificates.client.cert, key: notPem } }), {
    instanceOf: TypeError,
    message: /options\.tls\.key/,
  })
  t.throws(() => new WebSocketStream(url, { tls: { cert: certificates.client.cert, key: certificates.server.key } }), {
    instanceOf: TypeError,
    message: /options\.tls\.cert and tls\.key/,
  })
})

// --- certificates the way Node accepts them ------------------------------------------

test('the usual development certificate (its own CA, CN only) given in tls.ca is trusted as that exact certificate', async (t) => {
  const { port } = await startTlsServer(t, certificates.development)
  const wss = new WebSocketStream(`wss://localhost:${port}/`, { tls: { ca: certificates.development.cert } })
  t.is(await echoOnce(wss, 'pinned'), 'pinned')
})

test('a pinned certificate still names its host: its CN does not cover an IP address or another name', async (t) => {
  const { port } = await startTlsServer(t, certificates.development)
  for (const [url, host] of [
    [`wss://127.0.0.1:${port}/`, '127.0.0.1'],
    [`wss://localhost:${port}/`, 'example.test'],
  ]) {
    const servername = host === 'example.test' ? host : undefined
    const wss = new WebSocketStream(url, { tls: { ca: certificates.development.cert, servername } })
    const error = await rejectionOf(wss.opened)
    t.true(error instanceof WebSocketError)
    t.regex(
      error.message,
      new RegExp(`the certificate is not valid for host ${host.replaceAll('.', '\\.')} \\(it names CN=localhost\\)`),
    )
  }
})

test('pinning is byte for byte: another development certificate for the same name is refused', async (t) => {
  const { port } = await startTlsServer(t, certificates.development)
  const wss = new WebSocketStream(`wss://localhost:${port}/`, { tls: { ca: certificates.otherDevelopment.cert } })
  const error = await rejectionOf(wss.opened)
  t.true(error instanceof WebSocketError)
  t.regex(error.message, /TLS handshake with localhost failed: the server's certificate/)
})

test('a CA certificate presented as the server certificate, not itself in tls.ca, is refused in a sentence', async (t) => {
  const { port } = await startTlsServer(t, certificates.caAsServer)
  const wss = new WebSocketStream(`wss://localhost:${port}/`, { tls: { ca: certificates.ca } })
  const error = await rejectionOf(wss.opened)
  t.true(error instanceof WebSocketError)
  t.regex(error.message, /the server's certificate is a CA certificate, not a server certificate/)
  t.is(error.cause.certificateError, 'CaUsedAsEndEntity')
})

test('wss:// to a server that does not speak TLS says so', async (t) => {
  const plain = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise((resolve) => plain.once('listening', resolve))
  t.teardown(() => plain.close())
  const wss = new WebSocketStream(`wss://127.0.0.1:${plain.address().port}/`)
  const error = await rejectionOf(wss.opened)
  t.true(error instanceof WebSocketError)
  t.regex(error.message, /the server did not answer in TLS: is it a ws:\/\/ server\?/)
})

test('wss:// goes through an HTTP CONNECT proxy, TLS inside the tunnel', async (t) => {
  const { port } = await startTlsServer(t, certificates.server)
  const proxy = await startConnectProxy()
  t.teardown(() => proxy.close())
  const wss = new WebSocketStream(`wss://localhost:${port}/`, { tls: { ca: certificates.ca }, proxy: proxy.url })
  t.is(await echoOnce(wss, 'tunnelled'), 'tunnelled')
  t.is(proxy.requests[0].target, `localhost:${port}`)
})
