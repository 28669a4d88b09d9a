// A small HTTP CONNECT proxy on 127.0.0.1 for the proxy specs: it records
// each CONNECT request, can demand credentials (407), and tunnels bytes.
import http from 'node:http'
import net from 'node:net'

export async function startConnectProxy({ credentials } = {}) {
  const requests = []
  const sockets = new Set()
  const server = http.createServer((request, response) => response.writeHead(405).end())
  server.on('connect', (request, clientSocket, head) => {
    sockets.add(clientSocket)
    clientSocket.on('close', () => sockets.delete(clientSocket))
    clientSocket.on('error', () => {})
    requests.push({ target: request.url, authorization: request.headers['proxy-authorization'] })
    const expected = credentials && `Basic ${Buffer.from(credentials).toString('base64')}`
    if (expected && request.headers['proxy-authorization'] !== expected) {
      clientSocket.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n')
      return
    }
    const [host, port] = [
      request.url.slice(0, request.url.lastIndexOf(':')),
      request.url.slice(request.url.lastIndexOf(':') + 1),
    ]
    const upstream = net.connect(Number(port), host.replace(/^\[(.*)\]$/, '$1'), () => {
      clientSocket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head.length > 0) upstream.write(head)
      upstream.pipe(clientSocket)
      clientSocket.pipe(upstream)
    })
    sockets.add(upstream)
    upstream.on('close', () => sockets.delete(upstream))
    upstream.on('error', () => clientSocket.destroy())
    clientSocket.on('close', () => upstream.destroy())
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
