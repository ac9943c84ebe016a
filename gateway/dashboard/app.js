/**
 * The Weir dashboard: three subscriptions (one WebSocket each, /v1/subscribe speaks one stream per
 * connection) and a poll of /v1/stats, drawn into the page by hand.
 *
 *   results.error-rate   final (and updated) 1-minute windows per host → 5xx per minute, all hosts
 *   alerts               AlertRecords → the fraud feed, newest first
 *   results.risk-limits  "risk" snapshots per account and "breaches" transitions → exposure table
 *   GET /v1/stats        every second → acked events/s, batch latency, subscribers, processors
 *
 * Credentials never travel in the address's query string (servers and proxies log it): they are
 * typed into the sign-in form, or handed over once in the fragment (/dashboard#tenant=demo&key=…,
 * never sent to a server, removed from the address at once), and kept in this tab's
 * sessionStorage. A key or a token (JWT) both work; /v1/stats is fetched with them too (it needs
 * them once WEIR_METRICS_TOKEN is set). ?minutes=N sets how much history to load (default 60):
 * each subscription starts N minutes back and after a drop resumes from the last delivery's
 * resume token (no gap, no repeat).
 * Every figure is also in data-* attributes, so tests read content rather than pixels.
 * Frames are encoded and decoded by ./codec.ts (protobuf-es and the generated schemas): the
 * gateway serves this file bundled with it (files.ts), browsers never load it as it is.
 */
import { decodeServerFrame, encodeHello, encodeSubscribe } from "./codec.js";

const params = new URLSearchParams(location.search);
const STORAGE_KEY = "weir.dashboard.credentials";
const { tenant, apiKey, token } = credentials();
const historyMinutes = Math.max(1, Number(params.get("minutes")) || 60);
const MINUTE = 60_000;
/** Close codes after which reconnecting cannot help (bad credentials, unknown stream, …). */
const FATAL = new Set([4400, 4401, 4403, 4404, 4410, 4422, 4426]);

const $ = (selector) => document.querySelector(selector);

/** Tenant and key or token: from the fragment once (then stripped), else from this tab's storage. */
function credentials() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const secret = fragment.get("key") ?? fragment.get("token") ?? "";
  if (fragment.get("tenant") && secret) {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ tenant: fragment.get("tenant"), secret }));
    history.replaceState(null, "", location.pathname + location.search);
  }
  let stored;
  try {
    stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "{}") ?? {};
  } catch {
    stored = {};
  }
  const storedSecret = typeof stored.secret === "string" ? stored.secret : "";
  // A JWT is three base64url parts; anything else is an API key.
  const isToken = /^[\w-]+\.[\w-]+\.[\w-]*$/.test(storedSecret);
  return { tenant: typeof stored.tenant === "string" ? stored.tenant : "", apiKey: isToken ? "" : storedSecret, token: isToken ? storedSecret : "" };
}

/** The Authorization header /v1/stats is fetched with (none without credentials). */
function statsAuthorization() {
  if (token) return { authorization: `Bearer ${token}` };
  if (tenant && apiKey) return { authorization: `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${tenant}:${apiKey}`)))}` };
  return {};
}
const text = new TextDecoder();

// ---- small DOM and formatting helpers ------------------------------------------------------

/** An element with attributes (data-* included) and children (strings become text, never HTML). */
function el(tag, attrs = {}, ...children) {
  const node =
    tag === "svg" || tag === "rect" || tag === "text" || tag === "title"
      ? document.createElementNS("http://www.w3.org/2000/svg", tag)
      : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  node.append(...children.filter((c) => c !== undefined && c !== null).map((c) => (typeof c === "object" ? c : String(c))));
  return node;
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const money = (v) => (v === null || v === undefined ? "–" : integer.format(v));
const hhmm = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
const hhmmss = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
/** Ids in values are tenant-qualified ("demo/card-7"); the tenant's own part is enough here. */
const own = (s) => String(s ?? "").replaceAll(`${tenant}/`, "");

/** Draws bars into an <svg viewBox="0 0 W H">: one per point, null values leave a gap. */
function drawBars(svg, points, { labels = [] } = {}) {
  const [, , width, height] = svg.getAttribute("viewBox").split(" ").map(Number);
  const labelHeight = labels.length > 0 ? 14 : 0;
  const top = 12;
  const plot = height - labelHeight - top;
  const max = Math.max(1, ...points.map((p) => p.value ?? 0));
  const slot = width / Math.max(1, points.length);
  const shapes = [el("text", { x: 2, y: 10 }, `max ${decimal.format(max)}`)];
  points.forEach((p, i) => {
    if (p.value === null || p.value === undefined) return;
    const h = (p.value / max) * plot;
    shapes.push(
      el(
        "rect",
        { x: i * slot + slot * 0.1, y: top + plot - h, width: slot * 0.8, height: Math.max(h, 0.5), ...p.attrs },
        el("title", {}, p.title ?? String(p.value)),
      ),
    );
  });
  for (const { index, label } of labels) shapes.push(el("text", { x: Math.min(width - 30, index * slot), y: height - 2 }, label));
  svg.replaceChildren(...shapes);
}

// ---- state, and what each stream does to it ------------------------------------------------

/** windowStartMs → host → { errors, requests }: a final, then any update, replaces the host's value. */
const errorWindows = new Map();
/** alertId → AlertRecord (fraud only), at most MAX_ALERTS, the newest kept. */
const fraudAlerts = new Map();
const MAX_ALERTS = 100;
/** account → { risk: RiskSnapshot | undefined, breaches: Map(limit id → LimitEvent) } */
const accounts = new Map();

function onErrorRate(d, v) {
  if (d.kind !== "results" || (v.kind !== "final" && v.kind !== "update") || !v.result) return;
  let hosts = errorWindows.get(v.windowStartMs);
  if (!hosts) errorWindows.set(v.windowStartMs, (hosts = new Map()));
  hosts.set(d.key, { errors: v.result.errors, requests: v.result.requests });
  // Keep twice the history shown.
  const starts = [...errorWindows.keys()].sort((a, b) => b - a);
  for (const old of starts.slice(historyMinutes * 2)) errorWindows.delete(old);
  changed.add(renderErrorRate);
}

function onAlert(d, v) {
  if (v.kind !== "fraud") return;
  fraudAlerts.set(v.alertId, { ...v, key: d.key });
  if (fraudAlerts.size > MAX_ALERTS) {
    const oldest = [...fraudAlerts.values()].sort((a, b) => a.atMs - b.atMs)[0];
    fraudAlerts.delete(oldest.alertId);
  }
  changed.add(renderAlerts);
}

function accountOf(account) {
  let a = accounts.get(account);
  if (!a) accounts.set(account, (a = { risk: undefined, breaches: new Map() }));
  return a;
}

function onRisk(d, v) {
  if (d.kind === "risk") {
    const a = accountOf(d.key);
    if (!a.risk || a.risk.atMs <= v.atMs) a.risk = v;
  } else if (d.kind === "breaches") {
    const limit = v.sector !== undefined ? `${v.limit}[${v.sector}]` : v.limit;
    const { breaches } = accountOf(d.key);
    if (v.type === "breach") breaches.set(limit, v);
    else breaches.delete(limit);
  } else return;
  changed.add(renderRisk);
}

// ---- rendering (coalesced: many deliveries arrive in one frame) ----------------------------

const changed = new Set();
let renderTimer;
function scheduleRender() {
  renderTimer ??= setTimeout(() => {
    renderTimer = undefined;
    for (const render of changed) render();
    changed.clear();
  }, 100);
}

function renderErrorRate() {
  const minutes = [...errorWindows]
    .map(([start, hosts]) => {
      let errors = 0;
      let requests = 0;
      for (const h of hosts.values()) {
        errors += h.errors;
        requests += h.requests;
      }
      return { start, errors, requests, hosts: hosts.size };
    })
    .sort((a, b) => b.start - a.start);
  const byStart = new Map(minutes.map((m) => [m.start, m]));
  const last = minutes[0]?.start ?? Math.floor(Date.now() / MINUTE) * MINUTE;
  const slots = Array.from({ length: historyMinutes }, (_, i) => last - (historyMinutes - 1 - i) * MINUTE);
  drawBars(
    $("#error-chart"),
    slots.map((start) => {
      const m = byStart.get(start);
      return {
        value: m?.errors ?? null,
        title: `${hhmm(start)}: ${m?.errors} 5xx of ${m?.requests}`,
        attrs: { "data-window-start": start, "data-errors": m?.errors },
      };
    }),
    { labels: [0, Math.floor(slots.length / 2), slots.length - 1].map((index) => ({ index, label: hhmm(slots[index]) })) },
  );
  const rows = minutes
    .slice(0, historyMinutes)
    .map((m) =>
      el(
        "tr",
        { "data-window-start": m.start, "data-errors": m.errors, "data-requests": m.requests, "data-hosts": m.hosts },
        el("td", {}, el("time", { datetime: new Date(m.start).toISOString() }, hhmm(m.start))),
        el("td", {}, integer.format(m.errors)),
        el("td", {}, integer.format(m.requests)),
        el("td", {}, m.hosts),
      ),
    );
  $("#error-table tbody").replaceChildren(...(rows.length > 0 ? rows : [el("tr", {}, el("td", { colspan: 4, class: "empty" }, "no closed window yet"))]));
}

function renderAlerts() {
  const items = [...fraudAlerts.values()]
    .sort((a, b) => b.atMs - a.atMs)
    .map((a) =>
      el(
        "li",
        { "data-alert-id": a.alertId, "data-key": a.key, "data-kind": a.kind },
        el("time", { datetime: new Date(a.atMs).toISOString() }, hhmmss(a.atMs)),
        el("span", { class: "card" }, a.key),
        el("p", {}, own(a.summary)),
      ),
    );
  $("#alert-feed").replaceChildren(...(items.length > 0 ? items : [el("li", { class: "empty" }, "no fraud alert")]));
}

function renderRisk() {
  const rows = [...accounts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([account, { risk, breaches }]) => {
      const limits = [...breaches.keys()].sort();
      const sectors = (risk?.sectors ?? []).map((s) => `${s.sector} ${integer.format(s.net)}`).join(", ");
      if (risk?.currency) $("#risk-currency").textContent = risk.currency;
      return el(
        "tr",
        { "data-account": account, "data-gross": risk?.grossExposure, "data-breached": limits.join(" "), class: limits.length > 0 ? "breached" : undefined },
        el("td", {}, account),
        el("td", {}, money(risk?.grossExposure)),
        el("td", {}, money(risk?.netExposure)),
        el("td", {}, money(risk?.var)),
        el("td", {}, money(risk?.totalPnl)),
        el("td", { class: "sectors" }, sectors || "–"),
        el("td", { class: "limits" }, limits.join(", ") || "–"),
        el("td", {}, risk ? hhmm(risk.atMs) : "–"),
      );
    });
  $("#risk-table tbody").replaceChildren(...(rows.length > 0 ? rows : [el("tr", {}, el("td", { colspan: 8, class: "empty" }, "no account yet"))]));
}

// ---- subscriptions ---------------------------------------------------------------------------

/** One stream on its own WebSocket, reconnecting (backoff with jitter) and resuming by token. */
function openStream(stream, onDelivery) {
  const status = el("li", { "data-stream": stream, "data-state": "connecting", "data-deliveries": 0 }, stream);
  $("#streams").append(status);
  const setState = (state, detail = "") => {
    status.dataset.state = state;
    status.title = detail;
  };
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/subscribe`;
  let resumeToken;
  let attempt = 0;
  let received = 0; // deliveries since the page loaded (a resume repeats none)

  const connect = () => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    let error;
    ws.onopen = () => {
      ws.send(encodeHello({ tenant, apiKey, token }));
      ws.send(encodeSubscribe({ stream, ...(resumeToken !== undefined ? { resumeToken } : { fromTimestampMs: Date.now() - historyMinutes * MINUTE }) }));
    };
    ws.onmessage = (ev) => {
      const frame = decodeServerFrame(new Uint8Array(ev.data));
      if (frame.case === "subscribed") {
        attempt = 0;
        setState("live", `slow policy: ${frame.value.slowPolicy}`);
      } else if (frame.case === "error") {
        error = frame.value;
      } else if (frame.case === "deliveries") {
        received += frame.value.deliveries.length;
        status.dataset.deliveries = String(received);
        for (const d of frame.value.deliveries) {
          if (d.resumeToken) resumeToken = d.resumeToken;
          let value;
          try {
            value = JSON.parse(text.decode(d.value));
          } catch {
            continue; // not JSON: nothing this page can show
          }
          onDelivery(d, value);
        }
        scheduleRender();
      }
    };
    ws.onclose = (ev) => {
      const why = error ? `${error.errorCode}: ${error.message}` : `closed (${ev.code})`;
      if (FATAL.has(ev.code)) {
        setState("failed", why);
        notice(`${stream}: ${why}`);
        return;
      }
      const delay = Math.min(10_000, 500 * 2 ** attempt++) * (0.5 + Math.random() / 2);
      setState("reconnecting", why);
      setTimeout(connect, delay);
    };
  };
  connect();
}

function notice(message) {
  const p = $("#notice");
  p.hidden = false;
  p.textContent = p.textContent ? `${p.textContent}; ${message}` : message;
}

// ---- gateway stats ---------------------------------------------------------------------------

const ackRates = [];
let previous;

function renderStats(s) {
  let rate = null;
  if (previous && previous.gatewayId === s.gatewayId && s.ingest.ack >= previous.ingest.ack && s.nowMs > previous.nowMs) {
    rate = ((s.ingest.ack - previous.ingest.ack) * 1000) / (s.nowMs - previous.nowMs);
  }
  previous = s;
  $("#gateway-id").textContent = s.gatewayId;
  if (rate !== null) {
    ackRates.push(rate);
    if (ackRates.length > 60) ackRates.shift();
    const ack = $("#ack-rate");
    ack.dataset.ackRate = String(rate);
    ack.textContent = decimal.format(rate);
  }
  for (const [id, ms] of [
    ["#latency-p50", s.ingest.batchLatencyMs.p50],
    ["#latency-p99", s.ingest.batchLatencyMs.p99],
  ]) {
    $(id).dataset.ms = String(ms ?? "");
    $(id).textContent = ms === null || ms === undefined ? "–" : `${decimal.format(ms)} ms`;
  }
  $("#subscribers").dataset.count = String(s.subscribers);
  $("#subscribers").textContent = integer.format(s.subscribers);
  $("#in-flight").textContent = integer.format(s.ingest.inFlightEvents);
  $("#ack-total").textContent = integer.format(s.ingest.ack);
  drawBars(
    $("#ack-chart"),
    ackRates.map((value) => ({ value, title: `${decimal.format(value)} acked/s` })),
  );
  $("#processors tbody").replaceChildren(
    ...s.processors.map((p) => {
      const outputs = Object.values(p.outputs ?? {}).reduce((sum, n) => sum + n, 0);
      return el(
        "tr",
        { "data-job": p.job, "data-records": p.records, "data-outputs": outputs },
        el("td", {}, p.job),
        el("td", {}, integer.format(p.records)),
        el("td", {}, integer.format(outputs)),
      );
    }),
  );
}

async function pollStats() {
  try {
    const res = await fetch("/v1/stats", { cache: "no-store", headers: statsAuthorization() });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    renderStats(await res.json());
    $("#stats").dataset.state = "ok";
  } catch (err) {
    $("#stats").dataset.state = `unreachable: ${err.message}`;
  }
  setTimeout(pollStats, 1000);
}

// ---- start -----------------------------------------------------------------------------------

renderErrorRate();
renderAlerts();
renderRisk();
void pollStats();
$("#sign-in").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ tenant: String(form.get("tenant") ?? ""), secret: String(form.get("secret") ?? "") }));
  location.reload();
});
$("#sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(STORAGE_KEY);
  location.reload();
});
if (params.has("key") || params.has("token")) notice("Credentials in the address's query string are not read (servers log it): sign in below.");
if (!tenant || (!apiKey && !token)) {
  $("#sign-in").hidden = false;
} else {
  $("#sign-out").hidden = false;
  $("#tenant").textContent = `tenant ${tenant}`;
  openStream("results.error-rate", onErrorRate);
  openStream("alerts", onAlert);
  openStream("results.risk-limits", onRisk);
}
