// Time charts on uPlot (vendor/uPlot.iife.min.js, v1.6.32, MIT), loaded on
// the first chart so that pages without one do not pay for it. Data are
// uPlot's columns: [x seconds[], series1[], ...], null where a series has no
// value at that x (lines span the gaps).

let loading = null;

// loadUPlot adds uPlot's script and style once; it answers the uPlot class.
export function loadUPlot() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  loading ??= new Promise((resolve, reject) => {
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = 'ui/vendor/uPlot.min.css';
    document.head.append(css);
    const s = document.createElement('script');
    s.src = 'ui/vendor/uPlot.iife.min.js';
    s.onload = () => resolve(window.uPlot);
    s.onerror = () => { loading = null; s.remove(); reject(new Error('The chart library could not be loaded.')); };
    document.head.append(s);
  });
  return loading;
}

const colors = ['#0b5cad', '#c2410c', '#1a7f37', '#8250df', '#b42318', '#0e7490', '#a16207', '#be185d'];

// timeChart draws labels' series over time in el, as wide as el (it follows
// el's width). opts.range, when given, is uPlot's x range function (a live
// chart's sliding window); opts.points (true/false) shows or hides the
// points. It answers {u, setData(data), destroy()}.
export async function timeChart(el, labels, opts = {}) {
  const uPlot = await loadUPlot();
  const width = () => Math.max(200, el.clientWidth || 600);
  const u = new uPlot({
    width: width(),
    height: opts.height || 260,
    scales: { x: { time: true, ...(opts.range ? { range: opts.range } : {}) } },
    series: [{}, ...labels.map((label, i) => ({
      label, stroke: colors[i % colors.length], width: 1.5, spanGaps: true,
      // uPlot's default shows the points where they are few to the pixel.
      ...(opts.points === undefined ? {} : { points: { show: opts.points } }),
    }))],
    axes: [{}, { size: 60 }],
    legend: { live: true },
    cursor: { drag: { x: !opts.range, y: false } },
  }, [[], ...labels.map(() => [])], el);
  let observer = null;
  if (window.ResizeObserver) {
    observer = new ResizeObserver(() => {
      const w = width();
      if (w !== u.width) u.setSize({ width: w, height: u.height });
    });
    observer.observe(el);
  }
  return {
    u,
    setData(data) { u.setData(data); },
    destroy() { observer?.disconnect(); u.destroy(); },
  };
}

// columns turns rows ({x, label: value}) into uPlot's columns for labels,
// sorted by x, rows of one x merged.
export function columns(rows, labels) {
  const byX = new Map();
  for (const r of rows) {
    let row = byX.get(r.x);
    if (!row) byX.set(r.x, row = {});
    Object.assign(row, r);
  }
  const xs = [...byX.keys()].sort((a, b) => a - b);
  return [xs, ...labels.map(l => xs.map(x => {
    const v = byX.get(x)[l];
    return typeof v === 'number' && isFinite(v) ? v : null;
  }))];
}
