/** A small SVG line chart, written by the bench itself (no plotting dependency). */
export interface Series {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly points: readonly (readonly [number, number])[];
  /** Log scale on x (hosts 10 → 1,000). */
  readonly logX?: boolean;
}

/** 1, 2, 2.5 or 5 times a power of ten, at least x: axis ends on a round number. */
function niceCeil(x: number): number {
  const p = 10 ** Math.floor(Math.log10(x));
  return ([1, 2, 2.5, 5, 10].find((m) => m * p >= x) ?? 10) * p;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function panel(s: Series, ox: number, w: number, h: number): string {
  const pad = { l: 60, r: 20, t: 30, b: 45 };
  const xs = s.points.map((p) => (s.logX ? Math.log10(p[0]) : p[0]));
  const ys = s.points.map((p) => p[1]);
  const x0 = Math.min(...xs, s.logX ? Infinity : 0);
  const x1 = Math.max(...xs);
  const y1 = niceCeil(Math.max(...ys, 1) * 1.1);
  const px = (x: number) => ox + pad.l + ((x - x0) / Math.max(1e-9, x1 - x0)) * (w - pad.l - pad.r);
  const py = (y: number) => pad.t + (1 - y / y1) * (h - pad.t - pad.b);
  const path = s.points.map((p, i) => `${i ? 'L' : 'M'}${px(xs[i]!).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
  const ticksY = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = y1 * f;
    return `<line x1="${ox + pad.l}" x2="${ox + w - pad.r}" y1="${py(v)}" y2="${py(v)}" stroke="#eee"/><text x="${ox + pad.l - 6}" y="${py(v) + 4}" text-anchor="end">${Math.round(v)}</text>`;
  });
  const ticksX = s.points.map(
    (p, i) =>
      `<text x="${px(xs[i]!)}" y="${h - pad.b + 16}" text-anchor="middle">${p[0].toLocaleString('en-US')}</text>`,
  );
  const dots = s.points.map(
    (p, i) =>
      `<circle cx="${px(xs[i]!)}" cy="${py(p[1])}" r="3.5" fill="#1f6feb"/><text x="${px(xs[i]!)}" y="${py(p[1]) - 8}" text-anchor="middle">${Math.round(p[1])}</text>`,
  );
  return [
    `<text x="${ox + w / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(s.title)}</text>`,
    ...ticksY,
    `<line x1="${ox + pad.l}" x2="${ox + pad.l}" y1="${pad.t}" y2="${h - pad.b}" stroke="#333"/>`,
    `<line x1="${ox + pad.l}" x2="${ox + w - pad.r}" y1="${h - pad.b}" y2="${h - pad.b}" stroke="#333"/>`,
    `<path d="${path}" fill="none" stroke="#1f6feb" stroke-width="2"/>`,
    ...dots,
    ...ticksX,
    `<text x="${ox + (w + pad.l) / 2}" y="${h - 8}" text-anchor="middle">${esc(s.xLabel)}</text>`,
    `<text transform="translate(${ox + 14},${h / 2}) rotate(-90)" text-anchor="middle">${esc(s.yLabel)}</text>`,
  ].join('\n');
}

/** Panels side by side, 420 × 300 each. */
export function svgChart(panels: readonly Series[], caption: string): string {
  const w = 420;
  const h = 300;
  const body = panels.map((p, i) => panel(p, i * w, w, h)).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w * panels.length}" height="${h + 24}" font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n<text x="8" y="${h + 16}" fill="#555">${esc(caption)}</text>\n</svg>\n`;
}
