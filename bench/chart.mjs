// Draws the run as an SVG, with no dependency: for each scenario, one bar per
// client showing how many times better than ws it does on the scenario's
// headline figure (log scale, ws at the centre line; right = better: more
// throughput, or less latency or memory).

import { BASELINE, CLIENTS } from './scenarios.mjs'
import { advantage, formatNumber, formatRatio, headlineValue } from './report.mjs'

const COLORS = {
  websocketstream: '#d9480f',
  ws: '#495057',
  'undici-websocket': '#1971c2',
  'undici-websocketstream': '#2f9e44',
  ceiling: '#ae3ec9',
}

const WIDTH = 1040
const LABEL_X = 16
const PLOT_LEFT = 300
const PLOT_RIGHT = 860
const BAR_HEIGHT = 14
const BAR_GAP = 4
const GROUP_GAP = 26
const TOP = 84

function escapeXml(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])
}

/** The power-of-two range the bars need, at least 1/4..4 and at most 1/1024..1024. */
function logRange(entries) {
  let extent = 2
  for (const { scenario, results } of entries) {
    for (const { id } of CLIENTS) {
      const ratio = advantage(scenario, results, id, BASELINE)
      if (ratio) extent = Math.max(extent, Math.ceil(Math.abs(Math.log2(ratio))))
    }
  }
  return Math.min(extent, 10)
}

/**
 * @param {{ scenario: object, results: object }[]} entries
 * @param {{ title: string, subtitle: string }} text
 */
export function renderChart(entries, { title, subtitle }) {
  const extent = logRange(entries)
  const center = (PLOT_LEFT + PLOT_RIGHT) / 2
  const x = (ratio) => center + (Math.log2(ratio) / extent) * ((PLOT_RIGHT - PLOT_LEFT) / 2)
  const groupHeight = 20 + CLIENTS.length * (BAR_HEIGHT + BAR_GAP)
  const height = TOP + entries.length * (groupHeight + GROUP_GAP) + 40
  const parts = []

  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${LABEL_X}" y="24" font-size="17" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${LABEL_X}" y="44" fill="#495057">${escapeXml(subtitle)}</text>`,
  )

  // Legend.
  CLIENTS.forEach(({ id, label }, index) => {
    const lx = LABEL_X + index * 190
    parts.push(
      `<rect x="${lx}" y="56" width="12" height="12" fill="${COLORS[id]}"/>`,
      `<text x="${lx + 17}" y="66">${escapeXml(label)}</text>`,
    )
  })

  // Grid: one line per power of two, labelled at the top.
  const plotBottom = height - 30
  for (let power = -extent; power <= extent; power++) {
    const gx = x(2 ** power)
    const label = power === 0 ? `×1 (${BASELINE})` : power > 0 ? `×${2 ** power}` : `×1/${2 ** -power}`
    parts.push(
      `<line x1="${gx}" y1="${TOP}" x2="${gx}" y2="${plotBottom}" stroke="${power === 0 ? '#212529' : '#dee2e6'}" stroke-width="${power === 0 ? 1.5 : 1}"/>`,
      `<text x="${gx}" y="${plotBottom + 16}" text-anchor="middle" fill="#868e96" font-size="10">${label}</text>`,
    )
  }

  let y = TOP + 10
  for (const { scenario, results } of entries) {
    const better = scenario.headline.better === 'higher' ? 'higher' : 'lower'
    parts.push(
      `<text x="${LABEL_X}" y="${y + 10}" font-weight="bold">${escapeXml(scenario.title)}</text>`,
      `<text x="${PLOT_RIGHT + 8}" y="${y + 10}" fill="#868e96" font-size="10">${escapeXml(`${scenario.headline.unit}, ${better} is better`)}</text>`,
    )
    y += 20
    for (const { id, label } of CLIENTS) {
      const value = headlineValue(scenario, results[id])
      const ratio = advantage(scenario, results, id, BASELINE)
      parts.push(`<text x="${PLOT_LEFT - 8}" y="${y + 11}" text-anchor="end">${escapeXml(label)}</text>`)
      if (ratio === null) {
        const why = value === null ? (results[id]?.status ?? 'not run') : `no ${BASELINE} figure`
        parts.push(`<text x="${center + 6}" y="${y + 11}" fill="#c92a2a">${escapeXml(`${why}`)}</text>`)
      } else {
        const clamped = Math.min(Math.max(ratio, 2 ** -extent), 2 ** extent)
        const end = x(clamped)
        const left = Math.min(center, end)
        const barWidth = Math.max(Math.abs(end - center), 1.5)
        const text = `${formatRatio(ratio)}  (${formatNumber(value)})`
        // Right of the bar, or right of the centre line for a bar that goes left,
        // so a label never runs into the client names.
        const textX = Math.max(end, center) + 5
        parts.push(
          `<rect x="${left}" y="${y}" width="${barWidth}" height="${BAR_HEIGHT}" fill="${COLORS[id]}"/>`,
          `<text x="${textX}" y="${y + 11}" font-size="11">${escapeXml(text)}</text>`,
        )
      }
      y += BAR_HEIGHT + BAR_GAP
    }
    y += GROUP_GAP
  }
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}
