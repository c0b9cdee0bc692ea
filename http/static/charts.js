// Small charts drawn on <canvas>: grouped bars, stacked bars and lines, with axes.
// Labels are drawn with fillText, which never interprets markup.

const PAD = { left: 52, right: 12, top: 14, bottom: 42 };
const AXIS = "#6b7280";
const GRID = "#e5e7eb";

function prepare(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 640;
  const height = canvas.clientHeight || 240;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = "11px system-ui, sans-serif";
  return { ctx, width, height, plotW: width - PAD.left - PAD.right, plotH: height - PAD.top - PAD.bottom };
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

function axes(frame, labels, max, unit) {
  const { ctx, plotW, plotH } = frame;
  ctx.strokeStyle = GRID;
  ctx.fillStyle = AXIS;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let i = 0; i <= 4; i += 1) {
    const y = PAD.top + plotH - (plotH * i) / 4;
    ctx.beginPath();
    ctx.moveTo(PAD.left, y);
    ctx.lineTo(PAD.left + plotW, y);
    ctx.stroke();
    const value = (max * i) / 4;
    ctx.fillText(`${Number(value.toFixed(2)).toLocaleString()}${unit}`, PAD.left - 6, y);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const every = Math.max(1, Math.ceil(labels.length / Math.max(1, Math.floor(plotW / 60))));
  labels.forEach((label, index) => {
    if (index % every !== 0) return;
    const x = PAD.left + (plotW * (index + 0.5)) / labels.length;
    ctx.fillText(label, x, PAD.top + plotH + 6);
  });
}

function legend(frame, series) {
  const { ctx, height } = frame;
  let x = PAD.left;
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  for (const { name, color } of series) {
    ctx.fillStyle = color;
    ctx.fillRect(x, height - 10, 10, 10);
    ctx.fillStyle = AXIS;
    ctx.fillText(name, x + 14, height - 5);
    x += 24 + ctx.measureText(name).width;
  }
}

function empty(frame, message) {
  const { ctx, width, height } = frame;
  ctx.fillStyle = AXIS;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(message, width / 2, height / 2);
}

// series: [{name, color, values: [number]}]; bars side by side per label.
export function barChart(canvas, labels, series, { unit = "" } = {}) {
  const frame = prepare(canvas);
  if (!labels.length) return empty(frame, "no data in this range");
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values.map((v) => v || 0))));
  axes(frame, labels, max, unit);
  const slot = frame.plotW / labels.length;
  const barW = Math.max(1, (slot * 0.8) / series.length);
  series.forEach((s, si) => {
    frame.ctx.fillStyle = s.color;
    s.values.forEach((value, index) => {
      const h = (frame.plotH * (value || 0)) / max;
      const x = PAD.left + slot * index + slot * 0.1 + barW * si;
      frame.ctx.fillRect(x, PAD.top + frame.plotH - h, barW - 1, h);
    });
  });
  legend(frame, series);
}

// series values are stacked per label, bottom to top.
export function stackedChart(canvas, labels, series, { unit = "" } = {}) {
  const frame = prepare(canvas);
  if (!labels.length) return empty(frame, "no data in this range");
  const totals = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  axes(frame, labels, max, unit);
  const slot = frame.plotW / labels.length;
  labels.forEach((_, index) => {
    let base = PAD.top + frame.plotH;
    for (const s of series) {
      const h = (frame.plotH * (s.values[index] || 0)) / max;
      frame.ctx.fillStyle = s.color;
      frame.ctx.fillRect(PAD.left + slot * index + slot * 0.15, base - h, slot * 0.7, h);
      base -= h;
    }
  });
  legend(frame, series);
}

// series values may hold null (no point); lines join the points there are.
export function lineChart(canvas, labels, series, { unit = "" } = {}) {
  const frame = prepare(canvas);
  const points = series.flatMap((s) => s.values.filter((v) => v !== null && v !== undefined));
  if (!labels.length || !points.length) return empty(frame, "no replies in this range");
  const max = niceMax(Math.max(0, ...points));
  axes(frame, labels, max, unit);
  const slot = frame.plotW / labels.length;
  for (const s of series) {
    const { ctx } = frame;
    ctx.strokeStyle = s.color;
    ctx.fillStyle = s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    let drawing = false;
    s.values.forEach((value, index) => {
      if (value === null || value === undefined) {
        drawing = false;
        return;
      }
      const x = PAD.left + slot * (index + 0.5);
      const y = PAD.top + frame.plotH - (frame.plotH * value) / max;
      if (drawing) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      drawing = true;
      ctx.fillRect(x - 2, y - 2, 4, 4);
    });
    ctx.stroke();
    ctx.lineWidth = 1;
  }
  legend(frame, series);
}
