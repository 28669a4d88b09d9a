// Where an idle open connection's memory goes: `node --expose-gc
// bench/connection-memory.mjs websocketstream [count]` opens `count`
// connections (default 2,000) to the load server, each with a read pending
// as an application's would be, and reports per connection the RSS, the V8
// heap, the memory outside it (external and ArrayBuffers), what is left for
// the native side (RSS minus the V8 heap's resident pages and external
// growth), and the V8 heap by constructor from a heap snapshot. The young
// generation is reported apart: V8 grows it with the allocation rate, up to
// a fixed bound, whatever the number of connections, so its growth between
// the two samples is not a cost per connection. `streams` instead of `websocketstream`
// measures the two web streams alone, as the ceiling scenario makes them:
// what any WebSocketStream costs. One kind per process, so that neither
// reuses heap pages the other freed.

import { getHeapSnapshot, getHeapSpaceStatistics } from 'node:v8'
import { WebSocketStream } from '../index.mjs'
import { runLimited, settleMemory } from './clients/common.mjs'
import { ensureLoadServerBuilt, startLoadServer } from './load-server.mjs'

const KiB = 1024
const kind = process.argv[2]
const count = Number(process.argv[3] ?? 2000)
if (kind !== 'streams' && kind !== 'websocketstream')
  throw new Error('the first argument is streams or websocketstream')
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc')

const youngSpaces = new Set(['new_space', 'new_large_object_space'])

/** The memory figures that grow with connections. */
function sample() {
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage()
  let heapResident = 0
  let youngGeneration = 0
  for (const space of getHeapSpaceStatistics()) {
    heapResident += space.physical_space_size
    if (youngSpaces.has(space.space_name)) youngGeneration += space.physical_space_size
  }
  return { rss, heapUsed, heapResident, youngGeneration, external, arrayBuffers }
}

/** Per-item growth between two samples, in KiB. */
function perItem(before, after, items) {
  return Object.fromEntries(Object.keys(before).map((key) => [key, (after[key] - before[key]) / items / KiB]))
}

/** The heap snapshot's self size by constructor name, summed over every node. */
async function heapByConstructor() {
  let text = ''
  for await (const chunk of getHeapSnapshot()) text += chunk
  const snapshot = JSON.parse(text)
  const fields = snapshot.snapshot.meta.node_fields
  const types = snapshot.snapshot.meta.node_types[0]
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((field) => fields.indexOf(field))
  const sizes = new Map()
  for (let node = 0; node < snapshot.nodes.length; node += fields.length) {
    const type = types[snapshot.nodes[node + typeAt]]
    const name = type === 'object' || type === 'closure' ? snapshot.strings[snapshot.nodes[node + nameAt]] : `(${type})`
    sizes.set(name, (sizes.get(name) ?? 0) + snapshot.nodes[node + sizeAt])
  }
  return sizes
}

/**
 * Opens half, samples, opens the other half, samples: the slope between the
 * two leaves out one-time costs. `sampleAt` reads the figures at each point.
 */
async function slope(open, close, sampleAt) {
  const half = count >> 1
  const items = await runLimited(half, 100, open)
  await settleMemory()
  const atHalf = await sampleAt()
  items.push(...(await runLimited(count - half, 100, open)))
  await settleMemory()
  const atFull = await sampleAt()
  await Promise.all(items.map(close))
  return { atHalf, atFull, items: count - half }
}

/**
 * The per-item growth of the memory figures, then, in a second round (a
 * heap snapshot inflates RSS for good), the V8 heap by constructor.
 */
async function measure(open, close) {
  const figures = await slope(open, close, async () => sample())
  const growth = perItem(figures.atHalf, figures.atFull, figures.items)
  const heaps = await slope(open, close, heapByConstructor)
  const byConstructor = [...heaps.atFull]
    .map(([name, size]) => [name, (size - (heaps.atHalf.get(name) ?? 0)) / heaps.items])
    .filter(([, bytes]) => bytes >= 16)
    .sort((a, b) => b[1] - a[1])
  return { growth, byConstructor }
}

function report(label, { growth, byConstructor }) {
  const rss = growth.rss - growth.youngGeneration
  const heapSlack = growth.heapResident - growth.youngGeneration - growth.heapUsed
  const native = rss - growth.heapResident + growth.youngGeneration - growth.external
  console.log(`\n${label}: per item, over ${count - (count >> 1)} items`)
  console.log(
    `  RSS ${growth.rss.toFixed(1)} KiB, of which the young generation's growth ${growth.youngGeneration.toFixed(1)} KiB`,
  )
  console.log(`  RSS without the young generation ${rss.toFixed(1)} KiB = V8 heap ${growth.heapUsed.toFixed(1)} KiB`)
  console.log(`    + V8 heap pages resident but unused ${heapSlack.toFixed(1)} KiB`)
  console.log(`    + external ${growth.external.toFixed(1)} KiB (ArrayBuffers ${growth.arrayBuffers.toFixed(1)} KiB)`)
  console.log(`    + native and allocator slack ${native.toFixed(1)} KiB`)
  console.log('  V8 heap by constructor (bytes per item, self sizes):')
  for (const [name, bytes] of byConstructor.slice(0, 18)) console.log(`    ${bytes.toFixed(0).padStart(6)}  ${name}`)
}

/** The two streams alone, with a read pending, as the ceiling makes them. */
async function measureStreams() {
  const streams = await measure(
    async () => {
      const readable = new ReadableStream({ pull() {} }, { highWaterMark: 1 })
      const writable = new WritableStream({ write() {} }, { highWaterMark: 1 })
      const reader = readable.getReader()
      reader.read()
      return { writable, reader }
    },
    async ({ reader }) => reader.cancel(),
  )
  report('two web streams with a read pending (the floor of any WebSocketStream)', streams)
}

async function measureConnections() {
  ensureLoadServerBuilt()
  const server = await startLoadServer()
  try {
    const url = `${server.url}/echo`
    const connections = await measure(
      async () => {
        const wss = new WebSocketStream(url)
        const { readable } = await wss.opened
        return { wss, pendingRead: readable.getReader().read() }
      },
      async ({ wss, pendingRead }) => {
        wss.close()
        await Promise.all([wss.closed, pendingRead])
      },
    )
    report('websocketstream: an idle open connection with a read pending', connections)
  } finally {
    server.stop()
  }
}

await (kind === 'streams' ? measureStreams() : measureConnections())
