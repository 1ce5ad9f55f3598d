// Rendering of server events into the live page: transcript, scores chart, feedback cards.
//
// Everything is built with DOM calls and textContent (never innerHTML with server text), so a transcript
// that contains markup stays text. Segments are keyed by id: a replayed or repeated event after a resume
// replaces a segment instead of duplicating it, and `session_complete` can restate the whole transcript.

import { format, gettext } from "./i18n.js";
import { correctedSegments } from "./roles.js";

const SVG = "http://www.w3.org/2000/svg";
const ROLE_LABELS = { interviewer: gettext("Interviewer"), candidate: gettext("Candidate"), unknown: gettext("Speaker") };
const DIMENSION_LABELS = {
  relevance: gettext("Relevance"), structure: gettext("Structure"), specificity: gettext("Specificity"),
  delivery: gettext("Delivery"), composure: gettext("Composure"),
};

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

export function formatTime(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

function roleOf(segment) {
  return segment.role === "interviewer" || segment.role === "candidate" ? segment.role : "unknown";
}

export class TranscriptView {
  constructor(container, partialEl, emptyEl) {
    this.container = container;
    this.partialEl = partialEl;
    this.emptyEl = emptyEl;
    this.segments = new Map(); // id -> {data, node}
  }

  nearBottom() {
    const c = this.container;
    return c.scrollHeight - c.scrollTop - c.clientHeight < 60;
  }

  upsert(segment) {
    const stick = this.nearBottom();
    const role = roleOf(segment);
    const who = segment.speaker && role === "unknown" ? format(gettext("Speaker %(speaker)s"), { speaker: segment.speaker }) : ROLE_LABELS[role];
    const title = segment.role_confidence !== undefined && role !== "unknown"
      ? format(gettext("%(role)s (confidence %(percent)s)"), {
        role: ROLE_LABELS[role], percent: `${Math.round(segment.role_confidence * 100)}%` }) : undefined;
    const node = el("div", { class: `seg role-${role}${segment.corrected ? " corrected" : ""}`, "data-id": segment.id,
                             "data-role": role, "data-speaker": segment.speaker || undefined },
      el("span", { class: "who", text: who, title }),
      el("span", { class: "t", text: formatTime(segment.start) }),
      el("span", { class: "text", text: segment.text }));
    const existing = this.segments.get(segment.id);
    if (existing) {
      existing.node.replaceWith(node);
    } else {
      let before = null;
      for (const [id, entry] of this.segments) {
        if (id > segment.id && (before === null || id < Number(before.dataset.id))) before = entry.node;
      }
      this.container.insertBefore(node, before);
    }
    this.segments.set(segment.id, { data: segment, node });
    if (this.emptyEl) this.emptyEl.hidden = true;
    if (stick) this.container.scrollTop = this.container.scrollHeight;
  }

  setPartial(text) {
    this.partialEl.textContent = text || "";
    this.partialEl.hidden = !text;
  }

  /** A `role_correction`: earlier lines of the corrected voices take their new role. Returns how many changed. */
  correctRoles(event) {
    const changed = correctedSegments([...this.segments.values()].map((e) => e.data), event);
    for (const segment of changed) this.upsert(segment);
    return changed.length;
  }

  /** Replace the whole transcript with the server's final list (session_complete). */
  replaceAll(segments) {
    const keep = new Set(segments.map((s) => s.id));
    for (const [id, entry] of this.segments) {
      if (!keep.has(id)) {
        entry.node.remove();
        this.segments.delete(id);
      }
    }
    for (const s of segments) this.upsert(s);
  }

  /** The committed text, in segment order (what the report will show). */
  text() {
    return [...this.segments.entries()].sort((a, b) => a[0] - b[0]).map(([, e]) => e.data.text).join(" ");
  }
}

function bandClass(value) {
  if (value >= 70) return "good";
  if (value >= 50) return "mid";
  return "bad";
}

export class ScoresView {
  constructor(container, chartEl, emptyEl) {
    this.container = container;
    this.chartEl = chartEl;
    this.emptyEl = emptyEl;
    this.history = []; // {scope, overall, band}
  }

  update(event) {
    if (typeof event.overall !== "number") return;
    this.history.push({ scope: event.scope, overall: event.overall, band: event.band || null });
    if (this.emptyEl) this.emptyEl.hidden = true;
    const rows = Object.entries(event.scores || {}).map(([dim, value]) =>
      el("div", { class: "score-row" },
        el("span", { class: "score-k", text: DIMENSION_LABELS[dim] || dim }),
        el("span", { class: "bar", "aria-hidden": "true" },
          el("span", { class: `fill ${bandClass(value)}`, style: `width:${Math.max(0, Math.min(100, value))}%` })),
        el("span", { class: "score-v", text: Math.round(value) })));
    const band = Array.isArray(event.band) && event.band.length === 2
      ? ` ${format(gettext("(range %(low)s–%(high)s)"), { low: Math.round(event.band[0]), high: Math.round(event.band[1]) })}` : "";
    const headline = el("p", { class: "overall" },
      el("span", { class: `big ${bandClass(event.overall)}`, text: Math.round(event.overall) }),
      el("span", { class: "muted small",
        text: ` ${event.scope === "session" ? gettext("session overall")
          : format(gettext("answer %(answer)s overall"), { answer: event.answer_id ?? "" })}${band}` }));
    this.container.replaceChildren(headline, ...rows);
    this.drawChart();
  }

  drawChart() {
    const W = 300, H = 110, L = 26, R = 8, T = 8, B = 18;
    const n = this.history.length;
    const x = (i) => (n <= 1 ? L + (W - L - R) / 2 : L + (i * (W - L - R)) / (n - 1));
    const y = (v) => T + ((100 - Math.max(0, Math.min(100, v))) * (H - T - B)) / 100;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": gettext("Overall score after each update") });
    const title = svg("title");
    title.textContent = format(gettext("Overall score history: %(scores)s"),
      { scores: this.history.map((h) => Math.round(h.overall)).join(", ") });
    root.append(title);
    for (const v of [0, 50, 100]) {
      root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
      const label = svg("text", { x: L - 4, y: y(v) + 3, class: "axis", "text-anchor": "end" });
      label.textContent = String(v);
      root.append(label);
    }
    this.history.forEach((h, i) => {
      if (h.band) root.append(svg("line", { x1: x(i), x2: x(i), y1: y(h.band[1]), y2: y(h.band[0]), class: "band" }));
    });
    for (const scope of ["answer", "session"]) {
      const pts = this.history.map((h, i) => [h, i]).filter(([h]) => h.scope === scope);
      if (pts.length > 1) {
        root.append(svg("polyline", { points: pts.map(([h, i]) => `${x(i)},${y(h.overall)}`).join(" "), class: `line ${scope}` }));
      }
      for (const [h, i] of pts) root.append(svg("circle", { cx: x(i), cy: y(h.overall), r: 3, class: `pt ${scope}` }));
    }
    const legend = svg("text", { x: W - R, y: H - 4, class: "axis", "text-anchor": "end" });
    for (const [scope, label] of [["answer", gettext("answer")], ["session", gettext("session")]]) {
      const dot = svg("tspan", { class: `legend-dot ${scope}`, dx: scope === "answer" ? 0 : 6 });
      dot.textContent = "● ";
      const text = svg("tspan");
      text.textContent = label;
      legend.append(dot, text);
    }
    root.append(legend);
    this.chartEl.replaceChildren(root);
  }
}

const SEVERITY_LABELS = { critical: gettext("Needs work"), warn: gettext("Watch"), info: gettext("Note") };

export class FeedbackView {
  constructor(container, emptyEl, { limit = 6, maxItems = 4 } = {}) {
    this.container = container;
    this.emptyEl = emptyEl;
    this.limit = limit; // cards kept (newest first)
    this.maxItems = maxItems; // items per card; the report has them all
  }

  add(event) {
    if (this.emptyEl) this.emptyEl.hidden = true;
    const all = event.items || [];
    const items = all.slice(0, this.maxItems).map((item) => {
      const severity = ["critical", "warn", "info"].includes(item.severity) ? item.severity : "info";
      return el("li", { class: `fb fb-${severity}` },
        el("span", { class: "sev", text: SEVERITY_LABELS[severity] }),
        el("span", { text: item.message }));
    });
    const metrics = Object.entries(event.metrics || {})
      .filter(([, v]) => typeof v === "number" && Number.isFinite(v))
      .slice(0, 4)
      .map(([k, v]) => el("span", { class: "metric" }, el("span", { class: "muted", text: `${k.replace(/_/g, " ")} ` }),
        String(Math.round(v * 10) / 10)));
    const card = el("article", { class: "fb-card", "data-answer": event.answer_id },
      el("h3", { text: event.question ? format(gettext("Q: %(question)s"), { question: event.question })
        : format(gettext("Answer %(answer)s"), { answer: event.answer_id ?? "" }) }),
      items.length ? el("ul", {}, ...items) : el("p", { class: "muted small", text: gettext("No issues found.") }),
      all.length > items.length ? el("p", { class: "muted small", text: format(gettext("+%(count)s more in the report"), { count: all.length - items.length }) }) : null,
      metrics.length ? el("p", { class: "metrics" }, ...metrics) : null);
    const same = event.answer_id !== undefined
      ? this.container.querySelector(`.fb-card[data-answer="${CSS.escape(String(event.answer_id))}"]`) : null;
    if (same) same.replaceWith(card);
    else this.container.prepend(card);
    const cards = this.container.querySelectorAll(".fb-card");
    for (let i = this.limit; i < cards.length; i++) cards[i].remove();
  }
}
