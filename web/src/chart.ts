// The timeline as an SVG line chart: one line per figure, buckets along the x axis. Drawn from numbers only.
export interface Bucket {
  start: string;
  sent: number;
  opened: number;
  clicked: number;
  replied: number;
}

const SERIES: { key: Exclude<keyof Bucket, 'start'>; label: string; colour: string }[] = [
  { key: 'sent', label: 'sent', colour: '#2563eb' },
  { key: 'opened', label: 'opened', colour: '#16a34a' },
  { key: 'clicked', label: 'clicked', colour: '#d97706' },
  { key: 'replied', label: 'replied', colour: '#9333ea' },
];
const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 600;
const HEIGHT = 180;
const PAD = 24;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

export function renderTimeline(container: HTMLElement, buckets: Bucket[]): void {
  const max = Math.max(1, ...buckets.flatMap((b) => SERIES.map((s) => b[s.key])));
  const chart = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img' });
  const title = svg('title', {});
  title.textContent = `Sent, opened, clicked and replied per hour; at most ${max} in an hour`;
  chart.append(title);
  const x = (i: number) => PAD + (i * (WIDTH - 2 * PAD)) / Math.max(1, buckets.length - 1);
  const y = (v: number) => HEIGHT - PAD - (v * (HEIGHT - 2 * PAD)) / max;
  chart.append(
    svg('line', { x1: PAD, y1: HEIGHT - PAD, x2: WIDTH - PAD, y2: HEIGHT - PAD, stroke: '#9ca3af' }),
  );
  const top = svg('text', { x: 2, y: PAD, 'font-size': 10, fill: '#6b7280' });
  top.textContent = String(max);
  chart.append(top);
  for (const series of SERIES) {
    const points = buckets.map((b, i) => `${x(i).toFixed(1)},${y(b[series.key]).toFixed(1)}`).join(' ');
    chart.append(svg('polyline', { points, fill: 'none', stroke: series.colour, 'stroke-width': 2 }));
  }
  const legend = document.createElement('div');
  legend.className = 'legend';
  for (const series of SERIES) {
    const item = document.createElement('span');
    item.style.color = series.colour;
    const total = buckets.reduce((sum, b) => sum + b[series.key], 0);
    item.textContent = `${series.label} ${total}`;
    legend.append(item);
  }
  container.replaceChildren(chart, legend);
}
