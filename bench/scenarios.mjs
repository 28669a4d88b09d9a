// What the benchmark measures: each scenario's sizes (full and --quick), the
// time budget of one client run, and which figure heads its row in the
// summary table and the chart.
//
// `headline.better` says which way is good; ratios and the chart are always
// oriented so that > 1 means websocketstream (or the bar's client) does better
// than the client it is compared with.

const KiB = 1024
const MiB = 1024 * KiB

/** The clients, in table order; each is bench/clients/<id>.mjs. */
export const CLIENTS = [
  { id: 'websocketstream', label: 'websocketstream' },
  { id: 'ws', label: 'ws' },
  { id: 'undici-websocket', label: 'undici WebSocket' },
  { id: 'undici-websocketstream', label: 'undici WebSocketStream' },
  { id: 'ceiling', label: 'ceiling (memory streams)' },
]

export const SUBJECT = 'websocketstream'
export const BASELINE = 'ws'

const rate = (unit) => ({ field: 'rate', unit, better: 'higher' })

/** Every client but the ceiling, which has no network. */
const NETWORK_CLIENTS = CLIENTS.map(({ id }) => id).filter((id) => id !== 'ceiling')

/**
 * The clients that negotiate permessage-deflate (undici's two inflate what
 * they receive but send uncompressed). The ceiling has no compression, so it
 * sits the deflate scenarios out.
 */
const DEFLATE_CLIENTS = NETWORK_CLIENTS

/**
 * File descriptors a client process needs besides one per connection: Node's
 * own (about 30), the load server's connection and the broadcast server's pipes.
 */
const FILE_DESCRIPTOR_HEADROOM = 100

/**
 * `full` and `quick` hold the sizes that differ between a full run and
 * `--quick`; everything else is shared. `budgetSeconds` bounds one client run
 * (it is killed and reported as a timeout past it). `clients`, when given,
 * lists the only clients that run the scenario.
 */
const DEFINITIONS = [
  {
    id: 'recv-16B',
    title: 'receive flood, 16 B binary',
    kind: 'receive',
    size: 16,
    type: 'binary',
    full: { count: 1_000_000, budgetSeconds: 120 },
    quick: { count: 100_000, budgetSeconds: 10 },
    headline: rate('msgs/s'),
  },
  {
    id: 'recv-16B-text',
    title: 'receive flood, 16 B text',
    kind: 'receive',
    size: 16,
    type: 'text',
    full: { count: 1_000_000, budgetSeconds: 120 },
    quick: { count: 100_000, budgetSeconds: 10 },
    headline: rate('msgs/s'),
  },
  {
    id: 'recv-64KiB',
    title: 'receive flood, 64 KiB binary (1 GiB)',
    kind: 'receive',
    size: 64 * KiB,
    type: 'binary',
    full: { count: 16_384, budgetSeconds: 90 },
    quick: { count: 1_024, budgetSeconds: 10 },
    headline: rate('msgs/s'),
  },
  {
    id: 'recv-16MiB',
    title: 'receive flood, 16 MiB binary (1 GiB)',
    kind: 'receive',
    size: 16 * MiB,
    type: 'binary',
    full: { count: 64, budgetSeconds: 90 },
    quick: { count: 4, budgetSeconds: 10 },
    headline: rate('msgs/s'),
  },
  {
    id: 'send-16B',
    title: 'send flood, 16 B binary',
    kind: 'send',
    size: 16,
    type: 'binary',
    full: { count: 1_000_000, budgetSeconds: 120 },
    quick: { count: 100_000, budgetSeconds: 10 },
    headline: rate('msgs/s'),
  },
  {
    id: 'send-64KiB',
    title: 'send flood, 64 KiB binary (1 GiB)',
    kind: 'send',
    size: 64 * KiB,
    type: 'binary',
    full: { count: 16_384, budgetSeconds: 90 },
    quick: { count: 1_024, budgetSeconds: 10 },
    headline: rate('msgs/s'),
  },
  {
    id: 'recv-deflate-1KiB',
    title: 'receive flood, 1 KiB JSON text, permessage-deflate',
    kind: 'receive-deflate',
    size: 1024,
    type: 'text',
    clients: DEFLATE_CLIENTS,
    full: { count: 200_000, budgetSeconds: 90 },
    quick: { count: 20_000, budgetSeconds: 10 },
    headline: rate('msgs/s'),
  },
  {
    id: 'send-deflate-1KiB',
    // 1,200 bytes: above the 1,024-byte threshold of ws and websocketstream.
    title: 'send flood, 1.2 kB JSON text, permessage-deflate',
    kind: 'send-deflate',
    size: 1200,
    type: 'text',
    clients: DEFLATE_CLIENTS,
    full: { count: 100_000, budgetSeconds: 90 },
    quick: { count: 10_000, budgetSeconds: 10 },
    headline: rate('msgs/s'),
  },
  {
    id: 'echo-32B',
    title: 'echo round trips, 32 B text, one at a time',
    kind: 'echo',
    size: 32,
    type: 'text',
    full: { count: 20_000, budgetSeconds: 60 },
    quick: { count: 2_000, budgetSeconds: 10 },
    headline: { field: 'latencyMedianUs', unit: 'µs median', better: 'lower' },
  },
  {
    id: 'slow-consumer',
    title: 'slow consumer: 64 KiB messages offered, one read per 5 ms',
    kind: 'slow-consumer',
    size: 64 * KiB,
    type: 'binary',
    intervalMs: 5,
    // count × size is what the server offers: 512 MiB (64 MiB for --quick).
    full: { count: 8_192, durationMs: 4_000, budgetSeconds: 30 },
    quick: { count: 1_024, durationMs: 1_000, budgetSeconds: 10 },
    headline: { field: 'peakRssBytes', unit: 'MiB peak RSS', better: 'lower', scale: 1 / MiB },
  },
  {
    id: 'connect-close',
    title: 'sequential connect + close',
    kind: 'connect-close',
    full: { count: 500, budgetSeconds: 60 },
    quick: { count: 50, budgetSeconds: 10 },
    headline: rate('conns/s'),
  },
  {
    id: 'concurrent',
    title: 'concurrent open connections (RSS per connection)',
    kind: 'concurrent',
    full: { count: 2_000, budgetSeconds: 60 },
    quick: { count: 500, budgetSeconds: 10 },
    headline: { field: 'rssPerConnectionBytes', unit: 'KiB/conn', better: 'lower', scale: 1 / KiB },
  },
  {
    id: 'scale-10k',
    title: 'many connections, a read pending on each, then 100 × 32 B broadcast to all, 10 per write',
    kind: 'scale-broadcast',
    size: 32,
    type: 'binary',
    // The broadcast server holds the other ends; the ceiling has no network.
    clients: NETWORK_CLIENTS,
    // The server writes 10 messages at a time to each connection (10 rounds
    // over all of them): one write per message would make the broadcast
    // server, Node on the other core, the bottleneck (about 10 µs a write).
    perWrite: 10,
    full: { connections: 10_000, count: 100, budgetSeconds: 120 },
    quick: { connections: 1_000, count: 100, budgetSeconds: 30 },
    headline: rate('msgs/s'),
  },
  {
    id: 'busy-1k',
    title: 'many connections flooded at once, 16 B binary: aggregate rate and fairness at half-way',
    kind: 'busy-flood',
    size: 16,
    type: 'binary',
    clients: NETWORK_CLIENTS,
    // The rate and fairness are taken when half of all the messages have arrived.
    full: { connections: 1_000, count: 5_000, budgetSeconds: 90 },
    quick: { connections: 200, count: 5_000, budgetSeconds: 30 },
    headline: rate('msgs/s'),
  },
]

/** The scenarios of a full or quick run, each flattened to plain fields a client reads. */
export function scenarios({ quick }) {
  return DEFINITIONS.map(({ full, quick: small, ...shared }) => {
    const scenario = { ...shared, ...(quick ? small : full) }
    // The scale scenarios hold a socket per connection: run-client.mjs raises
    // the client's soft limit to this, or reports the hard limit that stops it.
    if (scenario.connections) scenario.fileDescriptors = scenario.connections + FILE_DESCRIPTOR_HEADROOM
    return scenario
  })
}
