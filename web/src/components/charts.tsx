/**
 * Plain SVG charts (no chart library): a line chart for values over time and a horizontal bar chart. Each has
 * a title, an accessible description and a table-like text fallback for screen readers.
 */
export interface Point {
  /** Unix ms. */
  t: number;
  v: number;
}

export interface Series {
  name: string;
  color: string;
  points: Point[];
}

const W = 560;
const H = 180;
const PAD = { l: 44, r: 12, t: 12, b: 24 };

/** Scale helpers, exported for tests. */
export function linearScale(domain: [number, number], range: [number, number]) {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  return (x: number) => r0 + ((x - d0) / span) * (r1 - r0);
}

export function LineChart({ title, unit, series }: { title: string; unit: string; series: Series[] }) {
  const all = series.flatMap((s) => s.points);
  const summary = series.map((s) => `${s.name}: ${s.points.length ? `${s.points.at(-1)!.v.toFixed(1)} ${unit}` : "no data"}`).join("; ");
  if (all.length === 0) {
    return (
      <figure className="chart">
        <figcaption>{title}</figcaption>
        <p className="muted">no data yet</p>
      </figure>
    );
  }
  const t0 = Math.min(...all.map((p) => p.t));
  const t1 = Math.max(...all.map((p) => p.t));
  const vMax = Math.max(1, ...all.map((p) => p.v)) * 1.1;
  const x = linearScale([t0, t1], [PAD.l, W - PAD.r]);
  const y = linearScale([0, vMax], [H - PAD.b, PAD.t]);
  const ticks = [0, vMax / 2, vMax];
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}. ${summary}`} width="100%">
        {ticks.map((tv) => (
          <g key={tv}>
            <line x1={PAD.l} x2={W - PAD.r} y1={y(tv)} y2={y(tv)} stroke="#d0d5dd" />
            <text x={PAD.l - 6} y={y(tv) + 4} textAnchor="end" fontSize="11" fill="#344054">
              {tv.toFixed(tv < 10 ? 1 : 0)}
            </text>
          </g>
        ))}
        <text x={W - PAD.r} y={H - 6} textAnchor="end" fontSize="11" fill="#344054">
          {unit}, last {Math.max(1, Math.round((t1 - t0) / 1000))} s
        </text>
        {series.map((s) => (
          <g key={s.name}>
            <polyline fill="none" stroke={s.color} strokeWidth="2" points={s.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ")} />
            {s.points.map((p) => (
              <circle key={p.t} cx={x(p.t)} cy={y(p.v)} r="2.5" fill={s.color} />
            ))}
          </g>
        ))}
      </svg>
      <ul className="legend">
        {series.map((s) => (
          <li key={s.name}>
            <span className="swatch" style={{ background: s.color }} aria-hidden="true" /> {s.name}
          </li>
        ))}
      </ul>
    </figure>
  );
}

export function BarChart({ title, bars, unit }: { title: string; unit: string; bars: { label: string; value: number }[] }) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const rowH = 26;
  const h = Math.max(rowH, bars.length * rowH) + 8;
  const x = linearScale([0, max], [0, W - 290]);
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      {bars.length === 0 ? (
        <p className="muted">no data yet</p>
      ) : (
        <svg viewBox={`0 0 ${W} ${h}`} role="img" aria-label={`${title}. ${bars.map((b) => `${b.label}: ${b.value} ${unit}`).join("; ")}`} width="100%">
          {bars.map((b, i) => (
            <g key={b.label} transform={`translate(0 ${4 + i * rowH})`}>
              <text x={130} y={16} textAnchor="end" fontSize="12" fill="#101828">
                {b.label.length > 18 ? `${b.label.slice(0, 17)}…` : b.label}
              </text>
              <rect x={140} y={3} width={Math.max(2, x(b.value))} height={rowH - 8} fill="#1d4ed8" rx="3" />
              <text x={146 + Math.max(2, x(b.value))} y={16} fontSize="12" fill="#101828">
                {b.value} {b.value === 1 && unit.endsWith("s") ? unit.slice(0, -1) : unit}
              </text>
            </g>
          ))}
        </svg>
      )}
    </figure>
  );
}
