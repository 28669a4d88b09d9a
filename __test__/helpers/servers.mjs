// Servers the specs talk to, all on 127.0.0.1 with an ephemeral port.
// `ws` is the independent, well-behaved peer; raw `net` servers misbehave on purpose.
import net from 'node:net'
import { WebSocketServer } from 'ws'

/**
 * A `ws` server. `onConnection(socket, request)` defaults to an echo that
 * preserves the text/binary kind of each message.
 * Returns { url, port, wss, connections: Set, close() }.
 */
export async function startWsServer(onConnection = echo, options = {}) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, ...options })
  await new Promise((resolve) => wss.once('listening', resolve))
  const connections = new Set()
  wss.on('connection', (socket, request) => {
    connections.add(socket)
    socket.on('close', () => connections.delete(socket))
    onConnection(socket, request)
  })
  const { port } = wss.address()
  return {
    url: `ws://127.0.0.1:${port}/`,
    port,
    wss,
    connections,
    close: () =>
      new Promise((resolve) => {
        for (const socket of connections) socket.terminate()
        wss.close(() => resolve())
      }),
  }
}

export function echo(socket) {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }))
}

/**
 * A raw TCP server for peers that break the protocol. `onSocket(socket)` gets
 * every accepted net.Socket. Returns { url, port, server, sockets, close() }.
 */
export async function startRawServer(onSocket) {
  const sockets = new Set()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    onSocket(socket)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  return {
    url: `ws://127.0.0.1:${port}/`,
    port,
    server,
    sockets,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

/** A port on 127.0.0.1 where nothing listens (it listened a moment ago). */
export async function refusedPort() {
  const probe = net.createServer()
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address()
  await new Promise((resolve) => probe.close(resolve))
  return port
}
