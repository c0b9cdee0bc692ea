// The operator dashboard: a hash router over a few views, all data from the API.
import { api, ApiError, query, signIn, signOut, token, Unauthorized } from "./api.js";
import { barChart, lineChart, stackedChart } from "./charts.js";
import { append, badge, clear, formatNumber, formatTime, h } from "./dom.js";

const RELATIONSHIPS = ["family", "friend", "client", "colleague", "unknown"];
const STATES = ["active", "idle", "archived"];
const $ = (id) => document.getElementById(id);
let renderToken = 0; // a view that finishes after the operator moved on draws nothing

function say(text, kind = "") {
  const status = $("status");
  status.textContent = text;
  status.className = `status ${kind}`;
}

function showSignIn(message = "") {
  $("sign-in").hidden = false;
  $("nav").hidden = true;
  $("sign-out").hidden = true;
  clear($("view"));
  $("sign-in-error").textContent = message;
  $("token").focus();
}

async function trySignIn(value) {
  signIn(value);
  try {
    await api.get("/api/v1/threads?limit=1");
  } catch (error) {
    signOut();
    showSignIn(error instanceof Unauthorized ? "That token was not accepted." : String(error.message));
    return;
  }
  $("sign-in").hidden = true;
  $("nav").hidden = false;
  $("sign-out").hidden = false;
  if (!location.hash || location.hash.startsWith("#token=")) location.hash = "#/threads";
  else route();
}

// ------------------------------------------------------------ conversations

function sentimentBadge(value) {
  if (value === null || value === undefined) return badge("no mood", "muted");
  const label = value > 0.05 ? "positive" : value < -0.05 ? "negative" : "neutral";
  return badge(`${label} ${value.toFixed(2)}`, label);
}

async function threadsView(view, params) {
  const filters = { state: params.get("state") || "", relationship: params.get("relationship") || "" };
  const select = (name, values) =>
    h(
      "select",
      {
        name,
        "aria-label": name,
        onchange: (event) => {
          const next = new URLSearchParams(filters);
          next.set(name, event.target.value);
          location.hash = `#/threads?${next}`;
        },
      },
      h("option", { value: "" }, `any ${name}`),
      values.map((value) => h("option", { value, selected: filters[name] === value }, value)),
    );
  const rows = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  append(
    view,
    h("h1", {}, "Conversations"),
    h("div", { class: "filters" }, select("state", STATES), select("relationship", RELATIONSHIPS)),
    h(
      "table",
      { class: "list", id: "threads" },
      h("thead", {}, h("tr", {}, ["Contact", "State", "Last message", "When", "Mood", "Topics"].map((t) => h("th", {}, t)))),
      rows,
    ),
    more,
  );
  let cursor = null;
  const load = async () => {
    const page = await api.get(`/api/v1/threads${query({ ...filters, cursor, limit: 50 })}`);
    for (const thread of page.items) {
      const last = thread.last_message || {};
      rows.append(
        h(
          "tr",
          { class: "thread-row", "data-thread-id": thread.id },
          h("td", {}, h("a", { href: `#/threads/${encodeURIComponent(thread.id)}` }, thread.contact_name || thread.chat_id)),
          h("td", {}, badge(thread.state, thread.state), thread.bot_paused ? badge("bot paused", "warn") : null,
            thread.unanswered ? badge(`${thread.unanswered} unanswered`, "warn") : null),
          h("td", { class: "text" }, `${last.direction === "out" ? "↩ " : ""}${last.text || ""}`),
          h("td", {}, formatTime(thread.last_message_at)),
          h("td", {}, sentimentBadge(thread.sentiment ? thread.sentiment.last : null)),
          h("td", {}, (thread.topics || []).slice(0, 3).join(", ")),
        ),
      );
    }
    cursor = page.next_cursor;
    more.hidden = !cursor;
    if (!rows.children.length) rows.append(h("tr", {}, h("td", { colspan: 6 }, "No conversations yet.")));
  };
  more.addEventListener("click", () => load().catch(fail));
  await load();
}

function messageItem(message) {
  const inbound = message.direction === "in";
  const meta = h("div", { class: "meta" }, formatTime(message.at));
  if (inbound) {
    if (message.sentiment) append(meta, [" ", badge(message.sentiment.label, message.sentiment.label)]);
    if (message.topics && message.topics.length) append(meta, [" ", badge(message.topics.join(", "), "muted")]);
    if (message.withheld) append(meta, [" ", badge(`no reply: ${message.withheld}`, "warn")]);
  } else {
    append(meta, [" ", badge(message.reply_status || "generated", message.reply_status || "")]);
    if (message.manual) append(meta, [" ", badge("manual", "muted")]);
    if (message.is_fallback) append(meta, [" ", badge("fallback", "warn")]);
    if (message.failure_reason) append(meta, [" ", badge(message.failure_reason, "negative")]);
    if (message.latency_ms) append(meta, [" ", badge(`${formatNumber(message.latency_ms)} ms`, "muted")]);
    if (message.delivery) append(meta, [" ", badge(message.delivery, "muted")]);
  }
  return h(
    "li",
    { class: `message ${inbound ? "in" : "out"}`, "data-seq": message.seq },
    h("div", { class: "bubble" }, message.text || `[${message.kind || "message"}]`),
    meta,
  );
}

async function threadView(view, threadId, params) {
  const thread = await api.get(`/api/v1/threads/${encodeURIComponent(threadId)}`);
  const q = params.get("q") || "";
  const timeline = h("ol", { class: "timeline", id: "timeline" });
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const replyText = h("textarea", { name: "text", rows: 2, maxlength: 4096, required: true, "aria-label": "reply text" });
  const paused = thread.bot_paused;
  const toggle = h("button", { type: "button", id: "bot-toggle" }, paused ? "Resume bot" : "Pause bot");
  toggle.addEventListener("click", async () => {
    await api.post(`/api/v1/threads/${encodeURIComponent(threadId)}/${paused ? "resume" : "pause"}`, paused ? {} : { reason: "paused from the dashboard" });
    say(paused ? "Bot resumed for this thread." : "Bot paused for this thread.", "ok");
  });
  const search = h("input", { type: "search", name: "q", value: q, maxlength: 100, placeholder: "Search this thread", "aria-label": "search" });
  append(
    view,
    h("p", {}, h("a", { href: "#/threads" }, "← Conversations")),
    h("h1", { id: "thread-title" }, thread.contact_name || thread.chat_id),
    h(
      "div",
      { class: "facts" },
      badge(thread.state, thread.state),
      badge(thread.relationship || "unknown", "muted"),
      paused ? badge("bot paused", "warn") : null,
      sentimentBadge(thread.sentiment ? thread.sentiment.mean : null),
      h("span", {}, `Topics: ${(thread.topics || []).join(", ") || "none yet"}`),
      h("a", { href: `#/contacts/${encodeURIComponent(thread.contact_id)}` }, "Contact profile"),
      h("a", { href: `#/audit?chat=${encodeURIComponent(thread.chat_id)}` }, "Event history"),
    ),
    h("div", { class: "actions" }, toggle,
      h("form", { class: "inline", onsubmit: (event) => {
        event.preventDefault();
        location.hash = `#/threads/${encodeURIComponent(threadId)}${search.value ? `?q=${encodeURIComponent(search.value)}` : ""}`;
      } }, search, h("button", { type: "submit" }, "Search"))),
    timeline,
    more,
    h("form", { class: "reply", onsubmit: async (event) => {
      event.preventDefault();
      const body = { text: replyText.value, request_id: crypto.randomUUID() };
      await api.post(`/api/v1/threads/${encodeURIComponent(threadId)}/replies`, body);
      replyText.value = "";
      say("Reply queued: the bridge sends it.", "ok");
    } }, replyText, h("button", { type: "submit" }, "Send manual reply")),
  );
  let after = 0;
  const load = async () => {
    const page = await api.get(`/api/v1/threads/${encodeURIComponent(threadId)}/messages${query({ after, q, limit: 100 })}`);
    for (const message of page.items) timeline.append(messageItem(message));
    after = page.next_after;
    more.hidden = after === null;
    if (!timeline.children.length) timeline.append(h("li", { class: "muted" }, q ? "No message matches." : "No messages yet."));
  };
  more.addEventListener("click", () => load().catch(fail));
  await load();
}

// ----------------------------------------------------------------- contacts

async function contactsView(view) {
  const rows = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  append(
    view,
    h("h1", {}, "Contacts"),
    h("table", { class: "list", id: "contacts" },
      h("thead", {}, h("tr", {}, ["Name", "Number", "Relationship", "Last message", "Messages"].map((t) => h("th", {}, t)))),
      rows),
    more,
  );
  let cursor = null;
  const load = async () => {
    const page = await api.get(`/api/v1/contacts${query({ cursor, limit: 50 })}`);
    for (const contact of page.items) {
      rows.append(h("tr", { class: "contact-row" },
        h("td", {}, h("a", { href: `#/contacts/${encodeURIComponent(contact.id)}` }, contact.name || contact.push_name || contact.number)),
        h("td", {}, contact.number),
        h("td", {}, badge(contact.relationship || "unknown", "muted")),
        h("td", {}, formatTime(contact.last_message_at)),
        h("td", {}, formatNumber(contact.stats ? contact.stats.inbound : null))));
    }
    cursor = page.next_cursor;
    more.hidden = !cursor;
    if (!rows.children.length) rows.append(h("tr", {}, h("td", { colspan: 5 }, "No contacts yet.")));
  };
  more.addEventListener("click", () => load().catch(fail));
  await load();
}

function field(label, input) {
  return h("label", {}, h("span", {}, label), input);
}

async function contactView(view, contactId) {
  const contact = await api.get(`/api/v1/contacts/${encodeURIComponent(contactId)}`);
  const custom = contact.custom || {};
  const inputs = {
    name: h("input", { name: "name", value: contact.name || "", maxlength: 500 }),
    preferred_name: h("input", { name: "preferred_name", value: contact.preferred_name || "", maxlength: 500 }),
    relationship: h("select", { name: "relationship" },
      RELATIONSHIPS.map((r) => h("option", { value: r, selected: contact.relationship === r }, r))),
    priority: h("input", { name: "priority", type: "number", min: 0, max: 10, value: contact.priority ?? 0 }),
    language: h("input", { name: "language", value: contact.language || "", maxlength: 35, pattern: "([A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*)?" }),
    personality: h("textarea", { name: "personality", maxlength: 500, rows: 2 }, custom.personality || ""),
    communication_style: h("textarea", { name: "communication_style", maxlength: 500, rows: 2 }, custom.communication_style || ""),
    topics: h("input", { name: "topics", value: (custom.topics || []).join(", ") }),
    emoji_preference: h("select", { name: "emoji_preference" },
      ["", "none", "some", "lots"].map((e) => h("option", { value: e, selected: (custom.emoji_preference || "") === e }, e || "no preference"))),
  };
  const style = contact.style || {};
  const stats = contact.stats || {};
  append(
    view,
    h("p", {}, h("a", { href: "#/contacts" }, "← Contacts")),
    h("h1", { id: "contact-title" }, contact.name || contact.push_name || contact.number),
    h("p", { class: "facts" },
      `${contact.number} · first seen ${formatTime(contact.first_seen_at)} · ${formatNumber(stats.inbound)} messages · `,
      `learned style: ${formatNumber(style.typical_length)} chars, ${formatNumber(style.emoji_rate, 2)} emoji/msg, formality ${formatNumber(style.formality, 2)}`),
    h("form", { id: "contact-form", class: "card grid", onsubmit: async (event) => {
      event.preventDefault();
      const body = {
        name: inputs.name.value,
        preferred_name: inputs.preferred_name.value,
        relationship: inputs.relationship.value,
        priority: Number(inputs.priority.value || 0),
        language: inputs.language.value,
        custom: {
          personality: inputs.personality.value,
          communication_style: inputs.communication_style.value,
          topics: inputs.topics.value.split(",").map((t) => t.trim()).filter(Boolean),
          emoji_preference: inputs.emoji_preference.value,
        },
      };
      const result = await api.patch(`/api/v1/contacts/${encodeURIComponent(contactId)}`, body);
      say(`Saved (version ${result.version}); the view catches up in a moment.`, "ok");
    } },
    field("Name", inputs.name), field("Preferred name", inputs.preferred_name),
    field("Relationship", inputs.relationship), field("Priority (0-10)", inputs.priority),
    field("Language", inputs.language), field("Personality", inputs.personality),
    field("Communication style", inputs.communication_style), field("Topics (comma-separated)", inputs.topics),
    field("Emoji", inputs.emoji_preference),
    h("button", { type: "submit" }, "Save")),
  );
}

// ---------------------------------------------------------------- analytics

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

async function analyticsView(view, params) {
  const today = new Date();
  const to = params.get("to") || isoDay(today);
  const from = params.get("from") || isoDay(new Date(today.getTime() - 29 * 86400000));
  const granularity = params.get("granularity") || "day";
  const fromInput = h("input", { type: "date", name: "from", value: from });
  const toInput = h("input", { type: "date", name: "to", value: to });
  const grain = h("select", { name: "granularity" }, ["day", "hour"].map((g) => h("option", { value: g, selected: g === granularity }, `per ${g}`)));
  const volume = h("canvas", { id: "chart-volume", class: "chart", role: "img", "aria-label": "messages per bucket" });
  const latency = h("canvas", { id: "chart-latency", class: "chart", role: "img", "aria-label": "reply latency percentiles" });
  const sentiment = h("canvas", { id: "chart-sentiment", class: "chart", role: "img", "aria-label": "sentiment per bucket" });
  const summary = h("p", { class: "facts", id: "analytics-summary" });
  append(
    view,
    h("h1", {}, "Analytics"),
    h("form", { class: "filters", onsubmit: (event) => {
      event.preventDefault();
      location.hash = `#/analytics?${new URLSearchParams({ from: fromInput.value, to: toInput.value, granularity: grain.value })}`;
    } }, fromInput, toInput, grain, h("button", { type: "submit" }, "Show")),
    summary,
    h("h2", {}, "Volume"), volume,
    h("h2", {}, "Reply latency (ms)"), latency,
    h("h2", {}, "Sentiment"), sentiment,
  );
  const data = await api.get(`/api/v1/analytics${query({ from, to, granularity })}`);
  const labels = data.buckets.map((b) => (granularity === "hour" ? b.bucket.slice(5, 13).replace("T", " ") + "h" : b.bucket.slice(5, 10)));
  const pick = (name) => data.buckets.map((b) => b[name] || 0);
  const s = data.summary;
  const latencyText = s.latency_ms && s.latency_ms.count
    ? ` · reply latency p50 ≤ ${formatNumber(s.latency_ms.p50)} ms, p95 ≤ ${formatNumber(s.latency_ms.p95)} ms, p99 ≤ ${formatNumber(s.latency_ms.p99)} ms`
    : "";
  summary.textContent = `${formatNumber(s.inbound)} inbound · ${formatNumber(s.replies_sent)} replies sent · ${formatNumber(s.failures)} failed · ${formatNumber(s.fallbacks)} fallbacks · ${formatNumber(s.withheld)} withheld${latencyText}`;
  barChart(volume, labels, [
    { name: "inbound", color: "#2563eb", values: pick("inbound") },
    { name: "replies sent", color: "#16a34a", values: pick("replies_sent") },
    { name: "failures", color: "#dc2626", values: pick("failures") },
  ]);
  const latencyOf = (p) => data.buckets.map((b) => (b.latency_ms ? b.latency_ms[p] : null));
  lineChart(latency, labels, [
    { name: "p50", color: "#2563eb", values: latencyOf("p50") },
    { name: "p95", color: "#d97706", values: latencyOf("p95") },
    { name: "p99", color: "#dc2626", values: latencyOf("p99") },
  ], { unit: "" });
  const mood = (label) => data.buckets.map((b) => (b.sentiment ? b.sentiment[label] || 0 : 0));
  stackedChart(sentiment, labels, [
    { name: "positive", color: "#16a34a", values: mood("positive") },
    { name: "neutral", color: "#9ca3af", values: mood("neutral") },
    { name: "negative", color: "#dc2626", values: mood("negative") },
  ]);
}

// -------------------------------------------------------------------- audit

async function auditView(view, params) {
  const chat = params.get("chat") || "";
  const asOf = params.get("as_of") || "";
  const chatInput = h("input", { name: "chat", value: chat, required: true, maxlength: 64, placeholder: "chat id or +phone", "aria-label": "chat" });
  const asOfInput = h("input", { name: "as_of", type: "datetime-local", step: 1, "aria-label": "as of" });
  if (asOf) asOfInput.value = asOf.slice(0, 19);
  const rows = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  append(
    view,
    h("h1", {}, "Event history"),
    h("p", { class: "muted" }, "Every event recorded for one chat, oldest first: what the log says, not a read model."),
    h("form", { class: "filters", onsubmit: (event) => {
      event.preventDefault();
      const next = new URLSearchParams({ chat: chatInput.value });
      if (asOfInput.value) next.set("as_of", `${asOfInput.value}${asOfInput.value.length === 16 ? ":00" : ""}Z`);
      location.hash = `#/audit?${next}`;
    } }, chatInput, h("label", { class: "inline" }, "as of (UTC)", asOfInput), h("button", { type: "submit" }, "Show")),
    h("table", { class: "list", id: "audit" },
      h("thead", {}, h("tr", {}, ["#", "Recorded", "Event", "Data"].map((t) => h("th", {}, t)))),
      rows),
    more,
  );
  if (!chat) return;
  let after = 0;
  const load = async () => {
    const page = await api.get(`/api/v1/audit${query({ chat, as_of: asOf, after, limit: 200 })}`);
    for (const entry of page.items) {
      rows.append(h("tr", {},
        h("td", {}, String(entry.position)),
        h("td", {}, formatTime(entry.recorded_at)),
        h("td", {}, entry.event),
        h("td", { class: "text" }, h("code", {}, JSON.stringify(entry.data)))));
    }
    after = page.next_after;
    more.hidden = after === null;
    if (!rows.children.length) rows.append(h("tr", {}, h("td", { colspan: 4 }, "No events for this chat.")));
  };
  more.addEventListener("click", () => load().catch(fail));
  await load();
}

// ------------------------------------------------------------------ persona

async function personaView(view) {
  const persona = await api.get("/api/v1/persona");
  const inputs = {
    name: h("input", { name: "name", value: persona.name, required: true, maxlength: 200 }),
    owner_name: h("input", { name: "owner_name", value: persona.owner_name, maxlength: 200 }),
    organisation: h("input", { name: "organisation", value: persona.organisation, maxlength: 200 }),
    services: h("input", { name: "services", value: (persona.services || []).join(", ") }),
    tone: h("input", { name: "tone", value: persona.tone, maxlength: 200 }),
    instructions: h("textarea", { name: "instructions", rows: 6, maxlength: 4000 }, persona.instructions),
  };
  append(
    view,
    h("h1", {}, "Persona"),
    persona.defined ? null : h("p", { class: "muted" }, "No persona is defined yet: these are the defaults."),
    h("form", { id: "persona-form", class: "card grid", onsubmit: async (event) => {
      event.preventDefault();
      const body = {
        name: inputs.name.value,
        owner_name: inputs.owner_name.value,
        organisation: inputs.organisation.value,
        services: inputs.services.value.split(",").map((t) => t.trim()).filter(Boolean),
        tone: inputs.tone.value,
        instructions: inputs.instructions.value,
      };
      const result = await api.put("/api/v1/persona", body);
      say(`Persona saved (version ${result.version}).`, "ok");
    } },
    field("Assistant name", inputs.name), field("Owner", inputs.owner_name),
    field("Organisation", inputs.organisation), field("Services (comma-separated)", inputs.services),
    field("Tone", inputs.tone), field("Instructions", inputs.instructions),
    h("button", { type: "submit" }, "Save persona")),
  );
}

// ------------------------------------------------------------------- health

let qrUrl = null;

async function healthView(view) {
  const health = await api.health();
  const bridge = health.bridge;
  const rows = [
    ["Overall", health.status],
    ["Database", health.database.ok ? `answers in ${formatNumber(health.database.latency_ms, 1)} ms` : `down (${health.database.error || "no answer"})`],
    ["Bridge", bridge ? `${bridge.state}${bridge.stale ? " (silent for over 30 s)" : ""} · ${bridge.transport}` : "has not reported"],
    ["Reply model breaker", bridge ? bridge.breaker || "unknown" : "unknown"],
  ];
  const projections = health.projections || [];
  append(
    view,
    h("h1", {}, "System health"),
    h("table", { class: "list", id: "health" }, h("tbody", {}, rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v))))),
    h("h2", {}, "Projections"),
    projections.length
      ? h("table", { class: "list", id: "projections" },
          h("thead", {}, h("tr", {}, ["Projection", "Position", "Behind by (events)"].map((t) => h("th", {}, t)))),
          h("tbody", {}, projections.map((p) => h("tr", {}, h("td", {}, p.name), h("td", {}, formatNumber(p.position)), h("td", {}, formatNumber(p.lag))))))
      : h("p", { class: "muted" }, "No projection has reported yet."),
  );
  if (bridge && bridge.needs_qr_scan) {
    const image = h("img", { id: "qr", alt: "WhatsApp login QR code", width: 264, height: 264 });
    append(view, h("h2", {}, "Link WhatsApp"), h("p", {}, "Scan with WhatsApp on the phone: Settings → Linked devices."), image);
    const blob = await api.blob("/api/v1/bridge/qr.svg");
    if (qrUrl) URL.revokeObjectURL(qrUrl);
    qrUrl = URL.createObjectURL(blob);
    image.src = qrUrl;
  }
}

async function updatePill() {
  try {
    const health = await api.health();
    const pill = $("health-pill");
    pill.hidden = false;
    pill.textContent = health.status;
    pill.className = `pill ${health.status}`;
    const pages = $("pages");
    clear(pages);
    for (const [name, href] of Object.entries(health.pages || {})) {
      if (name === "simulator") {
        $("simulator-link").hidden = false;
        $("simulator-link").setAttribute("href", href.startsWith("/") ? href : "/simulator/");
      } else {
        pages.append(h("a", { href }, name));
      }
    }
  } catch {
    /* the pill is a hint; the health view says more */
  }
}

// ------------------------------------------------------------------- router

function fail(error) {
  if (error instanceof Unauthorized) {
    signOut();
    showSignIn("Your token was not accepted; sign in again.");
    return;
  }
  say(error instanceof ApiError ? `Error ${error.status}: ${error.message}` : `Error: ${error.message}`, "error");
}

async function route() {
  if (!token()) return showSignIn();
  const current = ++renderToken;
  const view = clear($("view"));
  say("");
  const [path, search] = (location.hash.slice(1) || "/threads").split("?");
  const params = new URLSearchParams(search || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  for (const link of document.querySelectorAll("#nav a[data-view]")) {
    link.classList.toggle("active", link.dataset.view === parts[0]);
  }
  // Each view draws into its own container; one left behind by a newer route is
  // detached by the clear() above, so whatever it draws later shows nowhere.
  const scratch = view.appendChild(h("div"));
  try {
    if (parts[0] === "threads" && parts[1]) await threadView(scratch, parts[1], params);
    else if (parts[0] === "contacts" && parts[1]) await contactView(scratch, parts[1]);
    else if (parts[0] === "contacts") await contactsView(scratch);
    else if (parts[0] === "analytics") await analyticsView(scratch, params);
    else if (parts[0] === "persona") await personaView(scratch);
    else if (parts[0] === "audit") await auditView(scratch, params);
    else if (parts[0] === "health") await healthView(scratch);
    else await threadsView(scratch, params);
  } catch (error) {
    if (current === renderToken) fail(error);
  }
}

function start() {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    trySignIn($("token").value.trim());
  });
  $("sign-out").addEventListener("click", () => {
    signOut();
    showSignIn();
  });
  window.addEventListener("hashchange", () => {
    if (location.hash.startsWith("#token=")) return;
    route();
  });
  updatePill();
  setInterval(updatePill, 15000);
  // `parley api` prints a link with the token in the fragment (never sent to a server).
  if (location.hash.startsWith("#token=")) {
    const value = decodeURIComponent(location.hash.slice(7));
    history.replaceState(null, "", `${location.pathname}#/threads`);
    trySignIn(value);
  } else if (token()) {
    trySignIn(token());
  } else {
    showSignIn();
  }
}

start();
