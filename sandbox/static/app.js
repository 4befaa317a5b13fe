// nexo sandbox console: renders the fake Slack's channel, Block Kit
// included, and sends commands, clicks and modal submissions to the
// console API as the selected user. Plain JS, no build step.
"use strict";

const EMOJI = {
  white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", warning: "⚠️", rotating_light: "🚨", red_circle: "🔴",
  large_green_circle: "🟢", green_circle: "🟢", yellow_circle: "🟡", large_yellow_circle: "🟡", white_circle: "⚪",
  black_circle: "⚫", large_blue_circle: "🔵", hourglass: "⌛", hourglass_flowing_sand: "⏳", rocket: "🚀", mag: "🔍",
  fire: "🔥", bar_chart: "📊", arrows_counterclockwise: "🔄", lock: "🔒", key: "🔑", eyes: "👀", tada: "🎉",
  no_entry: "⛔", no_entry_sign: "🚫", construction: "🚧", point_right: "👉", clipboard: "📋", memo: "📝",
  pager: "📟", stopwatch: "⏱️", chart_with_upwards_trend: "📈", chart_with_downwards_trend: "📉", package: "📦",
  link: "🔗", bust_in_silhouette: "👤", busts_in_silhouette: "👥", calendar: "📅", gear: "⚙️",
  hammer_and_wrench: "🛠️", sos: "🆘", bulb: "💡", speech_balloon: "💬", new: "🆕", information_source: "ℹ️",
  arrow_right: "➡️", leftwards_arrow_with_hook: "↩️", recycle: "♻️", shield: "🛡️", zap: "⚡", boom: "💥",
  stop_sign: "🛑", ambulance: "🚑", hospital: "🏥", test_tube: "🧪", scroll: "📜", pushpin: "📌",
  white_circle_with_check: "✅", thumbsup: "👍", "+1": "👍", heavy_minus_sign: "➖", large_orange_circle: "🟠",
  small_red_triangle: "🔺", small_red_triangle_down: "🔻", arrow_up: "⬆️", arrow_down: "⬇️", timer_clock: "⏲️",
  repeat: "🔁", white_small_square: "▫️", black_small_square: "▪️", white_large_square: "⬜", rewind: "⏪", fast_forward: "⏩", ok: "🆗", sparkles: "✨", traffic_light: "🚦", spiral_note_pad: "🗒️",
};

const COLORS = ["#2bac76", "#e8912d", "#1264a3", "#cd2553", "#7c3085", "#0b7c86"];

const S = {
  me: localStorage.getItem("nexo.user") || "U0CAROL01",
  channel: localStorage.getItem("nexo.channel") || "C0DEPLOYS",
  // home: the App Home tab (the release board) is shown instead of a channel.
  home: localStorage.getItem("nexo.home") === "1",
  thread: null,
  data: null,
  busy: false,
  again: false,
};

const $ = (sel) => document.querySelector(sel);

// The console's own words, in the language nexo speaks (the switch).
const UI = {
  "en": {
    sub: "simulated platform · no accounts", channels: "Channels", apps: "Argo CD apps", tries: "Try", breakBtn: "💥 Break something ▾", heal: "🩹 Heal",
    youAre: "You are", language: "Language", send: "Send", reply: "reply", replies: "replies", thread: "Thread", threadReply: "Reply…",
    placeholder: (c) => "Type /nexo help, or a message to #" + c, empty: "Nothing here yet. Try <code>/nexo promote nexo-be staging</code>.",
    then: "then: ", broken: (t, x) => "Broken: " + t + " — try " + x, healed: "Healed: everything is back to normal",
    today: "Today", yesterday: "Yesterday", tomorrow: "Tomorrow",
    onlyYou: "Only visible to you", optional: "optional", cancel: "Cancel", submit: "Submit", yes: "Yes",
    appsTitle: "Apps", homeTab: "nexo · Home", homeTitle: "nexo · Home", homeWait: "Opening nexo's Home tab…",
  },
  "pt-BR": {
    sub: "plataforma simulada · sem contas", channels: "Canais", apps: "Apps do Argo CD", tries: "Experimente", breakBtn: "💥 Quebrar algo ▾", heal: "🩹 Consertar",
    youAre: "Você é", language: "Idioma", send: "Enviar", reply: "resposta", replies: "respostas", thread: "Thread", threadReply: "Responder…",
    placeholder: (c) => "Digite /nexo help, ou uma mensagem para #" + c, empty: "Nada aqui ainda. Experimente <code>/nexo promote nexo-be staging</code>.",
    then: "depois: ", broken: (t, x) => "Quebrado: " + t + " — experimente " + x, healed: "Consertado: tudo voltou ao normal",
    today: "Hoje", yesterday: "Ontem", tomorrow: "Amanhã",
    onlyYou: "Apenas você pode ver esta mensagem", optional: "opcional", cancel: "Cancelar", submit: "Enviar", yes: "Sim",
    appsTitle: "Apps", homeTab: "nexo · Home", homeTitle: "nexo · Home", homeWait: "Abrindo a aba Home do nexo…",
  },
};
const ui = () => UI[(S.data && S.data.locale) || "en"] || UI.en;

// slackDate renders Slack's date token <!date^UNIX^FORMAT|fallback> the way
// Slack does: in the reader's own time zone and language.
function slackDate(inner) {
  const m = /^!date\^(\d+)\^([^|^]*)(?:\^[^|]*)?(?:\|(.*))?$/.exec(inner);
  if (!m) return null;
  const d = new Date(Number(m[1]) * 1000);
  if (isNaN(d)) return esc(m[3] || "");
  const lang = (S.data && S.data.locale) || "en";
  const t = ui();
  const day = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const diff = Math.round((day(d) - day(new Date())) / 86400000);
  const pretty = (long) => diff === 0 ? t.today : diff === -1 ? t.yesterday : diff === 1 ? t.tomorrow :
    d.toLocaleDateString(lang, long ? { weekday: "long", month: "long", day: "numeric", year: "numeric" } : { month: "short", day: "numeric", year: "numeric" });
  const tokens = {
    date_num: () => d.toLocaleDateString(lang, { year: "numeric", month: "2-digit", day: "2-digit" }),
    date: () => d.toLocaleDateString(lang, { month: "long", day: "numeric", year: "numeric" }),
    date_short: () => d.toLocaleDateString(lang, { month: "short", day: "numeric", year: "numeric" }),
    date_long: () => d.toLocaleDateString(lang, { weekday: "long", month: "long", day: "numeric", year: "numeric" }),
    date_pretty: () => pretty(false), date_short_pretty: () => pretty(false), date_long_pretty: () => pretty(true),
    time: () => d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" }),
    time_secs: () => d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" }),
  };
  const text = m[2].replace(/\{([a-z_]+)\}/g, (all, name) => (tokens[name] ? tokens[name]() : all));
  return '<time class="slack-date" datetime="' + esc(d.toISOString()) + '" title="' + esc(m[3] || "") + '">' + esc(text) + "</time>";
}

function esc(s) {
  return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function userName(id) {
  const u = (S.data && S.data.users || []).find((x) => x.id === id);
  return u ? u.name : id;
}

function channelName(id) {
  const c = (S.data && S.data.channels || []).find((x) => x.id === id);
  return c ? c.name : id;
}

// mrkdwn renders Slack's markup: ```code```, `code`, *bold*, _italic_,
// ~strike~, <url|text>, <@U…>, <#C…|name>, <!subteam^S…>, > quotes, :emoji:.
function mrkdwn(src) {
  if (!src) return "";
  const parts = String(src).split("```");
  let out = "";
  parts.forEach((p, i) => {
    if (i % 2 === 1) { out += "<pre>" + esc(p.replace(/^\n/, "").replace(/\n$/, "")) + "</pre>"; return; }
    out += inline(p);
  });
  return out;
}

function inline(s) {
  const codes = [];
  s = s.replace(/`([^`\n]+)`/g, (_, c) => { codes.push(c); return "\u0000" + (codes.length - 1) + "\u0000"; });
  const links = [];
  s = s.replace(/<([^<>\n]+)>/g, (_, inner) => { links.push(inner); return "\u0001" + (links.length - 1) + "\u0001"; });
  let h = esc(s);
  h = h.replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,:;!?])/g, "$1<b>$2</b>");
  h = h.replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,:;!?])/g, "$1<i>$2</i>");
  h = h.replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,:;!?])/g, "$1<s>$2</s>");
  h = h.replace(/:([a-z0-9_+\-]+):/g, (m, name) => EMOJI[name] || m);
  h = h.split("\n").map((line) => line.startsWith("&gt; ") ? "<blockquote>" + line.slice(5) + "</blockquote>" : line).join("<br>");
  h = h.replace(/<\/blockquote><br>/g, "</blockquote>");
  h = h.replace(/\u0001(\d+)\u0001/g, (_, i) => link(links[+i]));
  h = h.replace(/\u0000(\d+)\u0000/g, (_, i) => "<code>" + esc(codes[+i]) + "</code>");
  return h;
}

function link(inner) {
  if (inner.startsWith("!date^")) { const d = slackDate(inner); if (d !== null) return d; }
  const [target, label] = inner.split("|");
  if (target.startsWith("@")) return '<span class="mention">@' + esc(userName(target.slice(1))) + "</span>";
  if (target.startsWith("#")) {
    const id = target.slice(1);
    return '<a href="#" class="mention" data-goto-channel="' + esc(id) + '">#' + esc(label || channelName(id)) + "</a>";
  }
  if (target.startsWith("!subteam^")) return '<span class="mention">@' + esc(label || "sre-oncall") + "</span>";
  if (target.startsWith("!")) return '<span class="mention">@' + esc(target.slice(1)) + "</span>";
  return '<a href="' + esc(target) + '" target="_blank" rel="noopener">' + esc(label || target) + "</a>";
}

function textOf(t) {
  if (!t) return "";
  return t.type === "plain_text" ? esc(t.text).replace(/:([a-z0-9_+\-]+):/g, (m, n) => EMOJI[n] || m) : mrkdwn(t.text);
}

// renderBlocks renders Block Kit; ctx says where buttons come from.
function renderBlocks(blocks, ctx) {
  if (!Array.isArray(blocks)) return "";
  return blocks.map((b) => {
    switch (b.type) {
      case "header": return '<div class="b-header">' + textOf(b.text) + "</div>";
      case "section": {
        let h = '<div class="b-section">';
        if (b.text) h += '<div class="text">' + textOf(b.text) + "</div>";
        if (b.fields) h += '<div class="b-fields">' + b.fields.map((f) => "<div>" + textOf(f) + "</div>").join("") + "</div>";
        if (b.accessory && b.accessory.type === "button") h += '<div class="b-actions">' + button(b.accessory, ctx) + "</div>";
        if (b.accessory && b.accessory.type === "image") h += '<div class="b-image"><img src="' + esc(b.accessory.image_url) + '" alt="' + esc(b.accessory.alt_text) + '"></div>';
        return h + "</div>";
      }
      case "context": return '<div class="b-context">' + (b.elements || []).map((e) => e.type === "image"
        ? '<img src="' + esc(e.image_url) + '" alt="' + esc(e.alt_text) + '" height="16">' : "<span>" + textOf(e) + "</span>").join("") + "</div>";
      case "divider": return '<hr class="b-divider">';
      case "actions": return '<div class="b-actions">' + (b.elements || []).map((e) => button(e, ctx)).join("") + "</div>";
      case "image": return '<div class="b-image">' + (b.title ? '<div class="file-title">' + textOf(b.title) + "</div>" : "") +
        '<img src="' + esc(b.image_url) + '" alt="' + esc(b.alt_text) + '"></div>';
      case "rich_text": return '<div class="text">' + esc(JSON.stringify(b.elements)) + "</div>";
      default: return "";
    }
  }).join("");
}

function button(e, ctx) {
  if (e.type !== "button") return "";
  const style = e.style ? " " + e.style : "";
  const confirm = e.confirm ? ' data-confirm="' + esc(JSON.stringify(e.confirm)) + '"' : "";
  const url = e.url ? ' data-url="' + esc(e.url) + '"' : "";
  const home = ctx.home ? ' data-on-home="1"' : "";
  return '<button type="button" class="btn' + style + '" data-action="' + esc(e.action_id) + '" data-ts="' + esc(ctx.ts) +
    '" data-channel="' + esc(ctx.channel) + '"' + home + confirm + url + ">" + textOf(e.text) + "</button>";
}

function avatar(item) {
  if (item.bot) return '<div class="avatar" style="background:#3f0e40">n</div>';
  const i = [...item.user].reduce((a, c) => a + c.charCodeAt(0), 0) % COLORS.length;
  return '<div class="avatar" style="background:' + COLORS[i] + '">' + esc((item.user_name || "?")[0].toUpperCase()) + "</div>";
}

function clock(t) {
  const d = t ? new Date(t) : null;
  return d && !isNaN(d) && d.getFullYear() > 2000 ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
}

function renderItem(item, inThread) {
  let blocks = item.blocks;
  if (typeof blocks === "string") { try { blocks = JSON.parse(blocks); } catch (_) { blocks = null; } }
  const ctx = { ts: item.ts, channel: item.channel };
  let body;
  if (item.kind === "file") {
    body = '<div class="file"><div class="file-title">📎 ' + esc(item.file.title || item.file.filename) + "</div>" +
      (item.file.image ? '<a href="' + esc(item.file.url) + '" target="_blank"><img src="' + esc(item.file.url) + '" alt="' + esc(item.file.title) + '"></a>'
        : '<a href="' + esc(item.file.url) + '" target="_blank">' + esc(item.file.filename) + "</a>") + "</div>";
  } else if (Array.isArray(blocks) && blocks.length) {
    body = '<div class="blocks">' + renderBlocks(blocks, ctx) + "</div>";
  } else {
    body = '<div class="text">' + mrkdwn(item.text) + "</div>";
  }
  const meta = '<div class="meta"><span class="name">' + esc(item.user_name) + "</span>" + (item.bot ? '<span class="app-badge">APP</span>' : "") +
    '<span class="time">' + clock(item.time) + "</span>" + (item.edits > 0 ? '<span class="edited">(edited ×' + item.edits + ")</span>" : "") + "</div>";
  let extra = "";
  if (item.kind === "ephemeral") extra += '<div class="only-you">👁 ' + ui().onlyYou + "</div>";
  if (!inThread && item.replies > 0) extra += '<div class="replies" data-thread="' + esc(item.ts) + '">' + item.replies + " " + (item.replies === 1 ? ui().reply : ui().replies) + " →</div>";
  const cls = "msg " + item.kind;
  return '<div class="' + cls + '" data-ts="' + esc(item.ts || "") + '" data-kind="' + item.kind + '">' + avatar(item) + '<div class="body">' + meta + body + extra + "</div></div>";
}

function render() {
  const d = S.data;
  if (!d) return;
  // user switcher and channels
  const sel = $("#user-select");
  if (sel.options.length !== d.users.length) {
    sel.innerHTML = d.users.map((u) => '<option value="' + esc(u.id) + '">' + esc(u.name) + "</option>").join("");
  }
  sel.value = S.me;
  $("#channels").innerHTML = d.channels.map((c) => '<li data-channel="' + esc(c.id) + '" class="' + (!S.home && c.id === S.channel ? "active" : "") + '"># ' + esc(c.name) + "</li>").join("");
  $("#home-tab").className = S.home ? "active" : "";
  $("#chan-name").textContent = S.home ? ui().homeTitle : channelName(S.channel);
  $("#composer").hidden = S.home;
  $("#composer-input").placeholder = ui().placeholder(channelName(S.channel));
  const lang = $("#lang-select");
  if (lang.options.length !== (d.locales || []).length) {
    lang.innerHTML = (d.locales || []).map((l) => '<option value="' + esc(l.id) + '">' + esc(l.name) + "</option>").join("");
  }
  lang.value = d.locale;
  document.documentElement.lang = d.locale;
  for (const el of document.querySelectorAll("[data-ui]")) el.textContent = ui()[el.dataset.ui];
  $("#thread-input").placeholder = ui().threadReply;
  // apps, grouped by service: one row per environment, so the longest
  // health (Progressing) and tag fit the sidebar's width
  const apps = Object.keys(d.apps || {}).sort((a, b) => appOrder(a) - appOrder(b));
  let lastSvc = "";
  $("#apps").innerHTML = '<colgroup><col class="c-env"><col class="c-health"><col class="c-tag"></colgroup>' + apps.map((n) => {
    const a = d.apps[n];
    const [svc, env] = splitApp(n);
    const head = svc !== lastSvc ? '<tr class="svc"><th colspan="3">' + esc(svc) + "</th></tr>" : "";
    lastSvc = svc;
    return head + '<tr data-app="' + esc(n) + '" title="' + esc(n + ": " + a.health + ", " + a.sync + ", " + a.image) + '"><td class="app">' + esc(env) +
      '</td><td class="health h-' + esc(a.health) + '">● ' + esc(a.health) + '</td><td class="tag">' + esc(a.image) + "</td></tr>";
  }).join("");
  // break menu
  $("#break-list").innerHTML = d.breakages.map((b) => '<button type="button" data-break="' + esc(b.kind) + '" class="' + (b.active ? "active-break" : "") + '">' +
    (b.active ? "● " : "") + esc(b.title) + '<span class="hint">' + esc(ui().then) + esc(b.try) + "</span></button>").join("");
  // timeline, or the App Home tab: the view nexo published, its buttons live
  const tl = $("#timeline");
  if (S.home) {
    let blocks = d.home && d.home.blocks;
    if (typeof blocks === "string") { try { blocks = JSON.parse(blocks); } catch (_) { blocks = null; } }
    tl.innerHTML = Array.isArray(blocks) ? '<div class="home blocks">' + renderBlocks(blocks, { ts: "", channel: "", home: true }) + "</div>"
      : '<div class="empty">' + ui().homeWait + "</div>";
    S.rendered = false;
    renderThread();
    renderModal();
    return;
  }
  const top = d.items.filter((it) => !it.thread_ts || it.thread_ts === it.ts);
  const atBottom = tl.scrollHeight - tl.scrollTop - tl.clientHeight < 80;
  tl.innerHTML = top.length ? top.map((it) => renderItem(it, false)).join("") : '<div class="empty">' + ui().empty + "</div>";
  if (atBottom || !S.rendered) tl.scrollTop = tl.scrollHeight;
  S.rendered = true;
  renderThread();
  renderModal();
}

// splitApp splits "<service>-<env>" at the environment.
function splitApp(name) {
  for (const env of ["develop", "qa", "staging", "production"]) {
    if (name.endsWith("-" + env)) return [name.slice(0, -env.length - 1), env];
  }
  return [name, ""];
}

function appOrder(name) {
  const envs = ["develop", "qa", "staging", "production"];
  const env = envs.findIndex((e) => name.endsWith("-" + e));
  return (name.startsWith("nexo-fe") ? 10 : 0) + env;
}

function renderThread() {
  const panel = $("#thread");
  if (!S.thread || !S.data) { panel.hidden = true; return; }
  const root = S.data.items.find((it) => it.ts === S.thread);
  if (!root) { panel.hidden = true; return; }
  const replies = S.data.items.filter((it) => it.thread_ts === S.thread && it.ts !== S.thread);
  panel.hidden = false;
  const body = $("#thread-body");
  const atBottom = body.scrollHeight - body.scrollTop - body.clientHeight < 80;
  body.innerHTML = renderItem(root, true) + '<div class="thread-sep">' + replies.length + (replies.length === 1 ? " reply" : " replies") + "</div>" +
    replies.map((it) => renderItem(it, true)).join("");
  if (atBottom) body.scrollTop = body.scrollHeight;
}

let shownView = null;
function renderModal() {
  const ov = $("#overlay");
  if (ov.dataset.kind === "confirm") return;
  const v = (S.data.views || [])[0];
  if (!v) { if (ov.dataset.kind === "view") { ov.hidden = true; ov.innerHTML = ""; ov.dataset.kind = ""; shownView = null; } return; }
  if (shownView === v.id) return;
  shownView = v.id;
  let blocks = v.blocks;
  if (typeof blocks === "string") blocks = JSON.parse(blocks);
  const fields = (blocks || []).map((b) => {
    if (b.type !== "input") return renderBlocks([b], { ts: "", channel: S.channel });
    const el = b.element || {};
    const input = el.multiline ? '<textarea name="' + esc(b.block_id) + '"></textarea>' : '<input name="' + esc(b.block_id) + '" type="text">';
    return '<div class="field"><label>' + textOf(b.label) + (b.optional ? ' <span class="time">(' + ui().optional + ")</span>" : "") + "</label>" + input + '<div class="err" data-err="' + esc(b.block_id) + '"></div></div>';
  }).join("");
  ov.dataset.kind = "view";
  ov.innerHTML = '<form class="dialog" id="view-form"><h2>' + esc(v.title) + '</h2><div class="d-body">' + fields +
    '</div><div class="d-foot"><button type="button" class="btn" id="view-cancel">' + esc(v.close || ui().cancel) + '</button><button type="submit" class="btn primary">' + esc(v.submit || ui().submit) + "</button></div></form>";
  ov.hidden = false;
  $("#view-cancel").onclick = () => post("/api/dismiss", { user: S.me, view_id: v.id }).then(refresh);
  $("#view-form").onsubmit = async (ev) => {
    ev.preventDefault();
    const values = {};
    ov.querySelectorAll("input[name], textarea[name]").forEach((i) => { values[i.name] = i.value; });
    const r = await post("/api/submit", { user: S.me, view_id: v.id, values });
    if (r.errors) { Object.entries(r.errors).forEach(([k, msg]) => { const e = ov.querySelector('[data-err="' + k + '"]'); if (e) e.textContent = msg; }); return; }
    if (r.ok) { ov.hidden = true; ov.innerHTML = ""; ov.dataset.kind = ""; shownView = null; refresh(); }
  };
  const first = ov.querySelector("input, textarea");
  if (first) first.focus();
}

function confirmDialog(c) {
  return new Promise((resolve) => {
    const ov = $("#overlay");
    ov.dataset.kind = "confirm";
    ov.innerHTML = '<div class="dialog"><h2>' + textOf(c.title || { type: "plain_text", text: "Are you sure?" }) + '</h2><div class="d-body text">' + textOf(c.text) +
      '</div><div class="d-foot"><button type="button" class="btn" id="c-no">' + textOf(c.deny || { type: "plain_text", text: ui().cancel }) +
      '</button><button type="button" class="btn ' + (c.style === "danger" ? "danger" : "primary") + '" id="c-yes">' + textOf(c.confirm || { type: "plain_text", text: ui().yes }) + "</button></div></div>";
    ov.hidden = false;
    const done = (v) => { ov.hidden = true; ov.innerHTML = ""; ov.dataset.kind = ""; resolve(v); renderModal(); };
    $("#c-yes").onclick = () => done(true);
    $("#c-no").onclick = () => done(false);
  });
}

function toast(msg) {
  const t = $("#toast");
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 5000);
}

async function post(path, body) {
  try {
    const r = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const j = await r.json().catch(() => ({}));
    if (!r.ok && !j.errors) toast(j.error || "HTTP " + r.status);
    return j;
  } catch (e) { toast(String(e)); return {}; }
}

async function refresh() {
  if (S.busy) { S.again = true; return; }
  S.busy = true;
  try {
    const r = await fetch("/api/state?user=" + encodeURIComponent(S.me) + "&channel=" + encodeURIComponent(S.channel));
    if (r.ok) { S.data = await r.json(); render(); }
    else if (r.status === 404 && S.channel !== "C0DEPLOYS") { S.channel = "C0DEPLOYS"; }
  } catch (_) { /* the server is restarting */ }
  S.busy = false;
  if (S.again) { S.again = false; refresh(); }
}

function live() {
  let es;
  try { es = new EventSource("/api/events"); } catch (_) { setInterval(refresh, 2000); return; }
  es.addEventListener("change", () => { $("#live").classList.add("on"); refresh(); });
  es.onerror = () => { $("#live").classList.remove("on"); };
  setInterval(() => { if (es.readyState !== 1) refresh(); }, 3000);
}

document.addEventListener("click", async (ev) => {
  const btn = ev.target.closest("button.btn[data-action]");
  if (btn) {
    if (btn.dataset.confirm && !(await confirmDialog(JSON.parse(btn.dataset.confirm)))) return;
    if (btn.dataset.url) window.open(btn.dataset.url, "_blank", "noopener");
    btn.disabled = true;
    await post("/api/click", { user: S.me, channel: btn.dataset.channel, ts: btn.dataset.ts, action_id: btn.dataset.action, home: btn.dataset.onHome === "1" });
    btn.disabled = false;
    refresh();
    return;
  }
  const goto = ev.target.closest("[data-goto-channel]");
  if (goto) {
    ev.preventDefault();
    const id = goto.dataset.gotoChannel;
    if (!(S.data.channels || []).some((c) => c.id === id)) { toast("#" + goto.textContent.replace(/^#/, "") + " is not a channel of this workspace"); return; }
    S.home = false; localStorage.setItem("nexo.home", "0");
    S.channel = id; S.thread = null; S.rendered = false; localStorage.setItem("nexo.channel", S.channel); refresh();
    return;
  }
  const rep = ev.target.closest("[data-thread]");
  if (rep) { S.thread = rep.dataset.thread; renderThread(); return; }
  const ch = ev.target.closest("#channels li");
  if (ch) { S.home = false; localStorage.setItem("nexo.home", "0"); S.channel = ch.dataset.channel; S.thread = null; S.rendered = false; localStorage.setItem("nexo.channel", S.channel); refresh(); return; }
  if (ev.target.closest("#home-tab")) { openHome(); return; }
  const tr = ev.target.closest("#tries li");
  if (tr) { $("#composer-input").value = tr.dataset.cmd; $("#composer-input").focus(); return; }
  const br = ev.target.closest("[data-break]");
  if (br) {
    $("#break-list").hidden = true;
    const r = await post("/api/break", { kind: br.dataset.break });
    if (r.ok) { const b = r.breakages.find((x) => x.kind === br.dataset.break); toast(ui().broken(b.title, b.try)); }
    refresh();
    return;
  }
  if (ev.target.closest("#break-button")) { $("#break-list").hidden = !$("#break-list").hidden; return; }
  if (!ev.target.closest("#break-menu")) $("#break-list").hidden = true;
});

$("#heal-button").onclick = async () => { const r = await post("/api/heal", {}); if (r.ok) toast(ui().healed); refresh(); };
$("#lang-select").onchange = async (ev) => { await post("/api/locale", { locale: ev.target.value }); refresh(); };
$("#thread-close").onclick = () => { S.thread = null; renderThread(); };
$("#user-select").onchange = (ev) => { S.me = ev.target.value; localStorage.setItem("nexo.user", S.me); shownView = null; if (S.home) openHome(); else refresh(); };

// openHome shows the App Home tab: Slack tells nexo (app_home_opened) and
// nexo publishes the board, which arrives with the next change event.
async function openHome() {
  S.home = true; S.thread = null; localStorage.setItem("nexo.home", "1");
  render();
  await post("/api/home", { user: S.me });
  refresh();
}
$("#composer").onsubmit = async (ev) => {
  ev.preventDefault();
  const input = $("#composer-input");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  const r = await post("/api/command", { user: S.me, channel: S.channel, text });
  if (!r.ok) input.value = text;
  refresh();
};
$("#thread-composer").onsubmit = async (ev) => {
  ev.preventDefault();
  const input = $("#thread-input");
  const text = input.value.trim();
  if (!text || !S.thread) return;
  input.value = "";
  await post("/api/command", { user: S.me, channel: S.channel, thread_ts: S.thread, text });
  refresh();
};

if (S.home) openHome(); else refresh();
live();
