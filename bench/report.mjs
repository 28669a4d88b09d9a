// Turns aggregated results into tables: one per scenario (every figure of
// every client) and a summary (each scenario's headline figure per client and
// websocketstream's ratio to each peer), as aligned text or Markdown.

import { BASELINE, CLIENTS, SUBJECT } from './scenarios.mjs'

const MiB = 1024 * 1024

/** 3 significant digits, thousands separated; '–' for nothing. */
export function formatNumber(value) {
  if (value === undefined || value === null || !Number.isFinite(value)) return '–'
  const magnitude = Math.abs(value)
  const digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3
  const rounded = magnitude >= 1000 ? Number(value.toPrecision(3)) : value
  return rounded.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })
}

/** A scenario's headline figure for one client, in the unit its table shows. */
export function headlineValue(scenario, aggregate) {
  if (aggregate?.status !== 'ok') return null
  const value = aggregate.median[scenario.headline.field]
  return value === undefined ? null : value * (scenario.headline.scale ?? 1)
}

/**
 * How many times better `client` does than `peer` on the headline figure:
 * throughput divided by throughput, or latency/memory the other way round, so
 * > 1 always means `client` wins.
 */
export function advantage(scenario, results, client, peer) {
  const mine = headlineValue(scenario, results[client])
  const theirs = headlineValue(scenario, results[peer])
  if (!mine || !theirs) return null
  return scenario.headline.better === 'higher' ? mine / theirs : theirs / mine
}

function statusText(aggregate) {
  if (!aggregate) return 'not run'
  if (aggregate.status === 'ok') {
    const notes = []
    // The deflate sink counts the messages that arrived compressed.
    const share = aggregate.median.compressedShare
    if (share === 0) notes.push('sends uncompressed')
    else if (share < 1) notes.push(`${formatNumber(share * 100)}% sent compressed`)
    if (aggregate.failures.length) notes.push(`${aggregate.failures.length} failed run(s)`)
    if (aggregate.lingered) notes.push('process lingered after closing')
    return notes.join('; ')
  }
  const why = aggregate.failures[0]?.message
  return (why === undefined ? aggregate.status : `${aggregate.status}: ${why}`).slice(0, 90)
}

/** The scenario kinds whose table has more columns: each one's title and figure. */
const EXTRA_COLUMNS = {
  concurrent: [['RSS/conn (KiB)', (m) => formatNumber(m.rssPerConnectionBytes / 1024)]],
  'slow-consumer': [['msgs read', (m) => formatNumber(m.messages)]],
  'receive-deflate': [['wire B/msg', (m) => formatNumber(m.wireBytesPerMessage)]],
  'send-deflate': [['wire B/msg', (m) => formatNumber(m.wireBytesPerMessage)]],
  'scale-broadcast': [
    ['open all (s)', (m) => formatNumber(m.openSeconds)],
    ['RSS/conn (KiB)', (m) => formatNumber(m.rssPerConnectionBytes / 1024)],
    ['heap/conn (KiB)', (m) => formatNumber(m.heapPerConnectionBytes / 1024)],
    ['server send (s)', (m) => formatNumber(m.serverSendSeconds)],
  ],
  'busy-flood': [
    ['fairness (slowest/fastest)', (m) => formatNumber(m.fairness)],
    ['slowest / fastest msgs', (m) => `${formatNumber(m.slowestMessages)} / ${formatNumber(m.fastestMessages)}`],
    ['window (s)', (m) => formatNumber(m.seconds)],
  ],
}

function scenarioRows(scenario, results) {
  const header = [
    'client',
    scenario.headline.field === 'rate' ? scenario.headline.unit : 'rate',
    'MB/s',
    'CPU µs/op',
    'latency median / p99 (µs)',
    'peak RSS (MiB)',
    ...(EXTRA_COLUMNS[scenario.kind] ?? []).map(([title]) => title),
    'notes',
  ]
  const rows = CLIENTS.map(({ id, label }) => {
    const aggregate = results[id]
    const m = aggregate?.status === 'ok' ? aggregate.median : {}
    const latency =
      m.latencyMedianUs === undefined ? '–' : `${formatNumber(m.latencyMedianUs)} / ${formatNumber(m.latencyP99Us)}`
    return [
      label,
      formatNumber(m.rate),
      formatNumber(m.mbPerSec),
      formatNumber(m.cpuUsPerOp),
      latency,
      formatNumber(m.peakRssBytes / MiB),
      ...(EXTRA_COLUMNS[scenario.kind] ?? []).map(([, figure]) => (aggregate?.status === 'ok' ? figure(m) : '–')),
      statusText(aggregate),
    ]
  })
  return { header, rows }
}

const PEERS = CLIENTS.filter(({ id }) => id !== SUBJECT)

function summaryRows(entries) {
  const header = [
    'scenario',
    'figure',
    ...CLIENTS.map(({ label }) => label),
    ...PEERS.map(({ label }) => `wss vs ${label.replace(' (memory streams)', '')}`),
  ]
  const rows = entries.map(({ scenario, results }) => [
    scenario.id,
    `${scenario.headline.unit} (${scenario.headline.better} is better)`,
    ...CLIENTS.map(({ id }) => {
      const value = headlineValue(scenario, results[id])
      return value === null ? (results[id]?.status ?? 'not run') : formatNumber(value)
    }),
    ...PEERS.map(({ id }) => formatRatio(advantage(scenario, results, SUBJECT, id))),
  ])
  return { header, rows }
}

export function formatRatio(ratio) {
  return ratio === null ? '–' : `×${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}`
}

function textTable({ header, rows }) {
  const keep = header.map((title, column) => title !== '' || rows.some((row) => row[column] !== ''))
  const pick = (row) => row.filter((_, column) => keep[column])
  const all = [pick(header), ...rows.map(pick)]
  const widths = all[0].map((_, column) => Math.max(...all.map((row) => String(row[column]).length)))
  const line = (row) =>
    row
      .map((cell, column) =>
        column === 0 ? String(cell).padEnd(widths[column]) : String(cell).padStart(widths[column]),
      )
      .join('  ')
      .trimEnd()
  return [line(all[0]), widths.map((width) => '-'.repeat(width)).join('  '), ...all.slice(1).map(line)].join('\n')
}

function markdownTable({ header, rows }) {
  const keep = header.map((title, column) => title !== '' || rows.some((row) => row[column] !== ''))
  const pick = (row) => row.filter((_, column) => keep[column])
  const line = (row) => `| ${pick(row).join(' | ')} |`
  const align = pick(header).map((_, column) => (column === 0 ? '---' : '---:'))
  return [line(header), `| ${align.join(' | ')} |`, ...rows.map(line)].join('\n')
}

export function scenarioTable(scenario, results, { markdown = false } = {}) {
  const table = scenarioRows(scenario, results)
  return markdown ? markdownTable(table) : textTable(table)
}

/** @param {{ scenario: object, results: object }[]} entries */
export function summaryTable(entries, { markdown = false } = {}) {
  const table = summaryRows(entries)
  return markdown ? markdownTable(table) : textTable(table)
}

/** A scenario's heading line: what was measured, at what size. */
export function scenarioHeading(scenario) {
  const sizes = []
  if (scenario.count !== undefined) {
    sizes.push(
      `${scenario.count.toLocaleString('en-US')} ${scenario.kind === 'echo' ? 'round trips' : scenario.kind.startsWith('conn') || scenario.kind === 'concurrent' ? 'connections' : 'messages'}`,
    )
  }
  if (scenario.durationMs) sizes.push(`read for ${scenario.durationMs / 1000} s`)
  return `${scenario.id}: ${scenario.title} (${sizes.join(', ')})`
}

/** The ratio line under a scenario table, relative to ws as well. */
export function baselineNote() {
  return `ratios: how many times better ${SUBJECT} does (higher throughput, or lower latency/memory); ${BASELINE} is the baseline`
}
