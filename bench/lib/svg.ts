/**
 * A line chart as SVG text (no dependencies): one polyline per series over a shared x axis,
 * for convergence charts in bench/results/.
 * @module
 */

/** One line of a chart. */
export interface Series {
  readonly name: string;
  readonly color: string;
  /** [x, y] points, x ascending. */
  readonly points: readonly (readonly [number, number])[];
}

/** What to draw. */
export interface ChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** y range; default 0..1. */
  readonly yMin?: number;
  readonly yMax?: number;
  readonly width?: number;
  readonly height?: number;
  /** Dashed horizontal reference lines. */
  readonly marks?: readonly { readonly y: number; readonly label: string }[];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Renders a line chart.
 *
 * @example
 * ```ts
 * writeFileSync('chart.svg', lineChart({ title: 'share', xLabel: 'runs', yLabel: 'share', series: [{ name: 'a', color: '#c33', points: [[0, 0.3], [100, 0.9]] }] }));
 * ```
 */
export function lineChart(spec: ChartSpec): string {
  const W = spec.width ?? 720;
  const H = spec.height ?? 400;
  const left = 56;
  const right = 150;
  const top = 36;
  const bottom = 44;
  const yMin = spec.yMin ?? 0;
  const yMax = spec.yMax ?? 1;
  const xs = spec.series.flatMap((s) => s.points.map((p) => p[0]));
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  const px = (x: number): number => left + ((x - xMin) / (xMax - xMin || 1)) * (W - left - right);
  const py = (y: number): number => top + (1 - (y - yMin) / (yMax - yMin || 1)) * (H - top - bottom);
  const f = (n: number): string => n.toFixed(1);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(spec.title)}</text>`);
  // axes and grid
  for (let k = 0; k <= 4; k++) {
    const y = yMin + ((yMax - yMin) * k) / 4;
    out.push(`<line x1="${left}" y1="${f(py(y))}" x2="${W - right}" y2="${f(py(y))}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${f(py(y) + 4)}" text-anchor="end">${Number(y.toFixed(2))}</text>`);
    const x = xMin + ((xMax - xMin) * k) / 4;
    out.push(`<text x="${f(px(x))}" y="${H - bottom + 16}" text-anchor="middle">${Math.round(x)}</text>`);
  }
  out.push(`<line x1="${left}" y1="${H - bottom}" x2="${W - right}" y2="${H - bottom}" stroke="#333"/>`);
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${H - bottom}" stroke="#333"/>`);
  out.push(`<text x="${(left + W - right) / 2}" y="${H - 8}" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  out.push(`<text x="14" y="${(top + H - bottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(top + H - bottom) / 2})">${esc(spec.yLabel)}</text>`);
  for (const m of spec.marks ?? []) {
    out.push(`<line x1="${left}" y1="${f(py(m.y))}" x2="${W - right}" y2="${f(py(m.y))}" stroke="#888" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${W - right - 4}" y="${f(py(m.y) - 4)}" text-anchor="end" fill="#666">${esc(m.label)}</text>`);
  }
  spec.series.forEach((s, i) => {
    const pts = s.points.map(([x, y]) => `${f(px(x))},${f(py(y))}`).join(' ');
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts}"/>`);
    const ly = top + 10 + i * 18;
    out.push(`<line x1="${W - right + 12}" y1="${ly}" x2="${W - right + 32}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`);
    out.push(`<text x="${W - right + 38}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
