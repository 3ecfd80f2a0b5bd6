// cnaps chat page. Plain JS, no build step, nothing from a CDN.
// Every piece of server or user text goes into the page through textContent or text nodes, and only
// http(s) URLs become links.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { tab: "bundled", cardFile: null, image: null, session: null, cardKey: null, busy: false, n: 0 };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch (_) {
    return null;
  }
}

// Server-relative URLs for our own files: only paths under /api/runs/.
function ownUrl(url) {
  return typeof url === "string" && /^\/api\/runs\/[A-Za-z0-9_-]{22}\/[A-Za-z0-9.-]+$/.test(url) ? url : null;
}

// Text whose [n] markers link to reference n of this message.
function cited(text, prefix, known) {
  const out = [];
  let last = 0;
  for (const match of String(text || "").matchAll(/\[(\d+)\]/g)) {
    out.push(text.slice(last, match.index));
    const n = Number(match[1]);
    out.push(known.has(n) ? el("a", { class: "cite", href: `#${prefix}-ref-${n}`, text: `[${n}]` }) : match[0]);
    last = match.index + match[0].length;
  }
  out.push(String(text || "").slice(last));
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Card and image inputs

async function loadCards() {
  const select = $("#card-select");
  try {
    const response = await fetch("/api/cards");
    const cards = await response.json();
    select.replaceChildren(...cards.map((card) =>
      el("option", { value: card.name, selected: card.default ? "selected" : null,
                     text: `${card.name}${card.default ? " (default)" : ""}` })));
    state.cards = Object.fromEntries(cards.map((card) => [card.name, card]));
    showCard();
  } catch (error) {
    $("#card-question").textContent = "Could not load the bundled cards.";
  }
}

function showCard() {
  const card = (state.cards || {})[$("#card-select").value];
  $("#card-question").textContent = card ? `“${card.question}”` : "";
  $("#card-models").textContent = card ? `Recommended: ${card.models.join(", ")} · ${card.papers} related papers` : "";
}

function cardKey() {
  if (state.tab === "bundled") return `bundled:${$("#card-select").value}`;
  if (state.tab === "paste") return `paste:${$("#card-text").value}`;
  return state.cardFile ? `file:${state.cardFile.name}:${state.cardFile.size}:${state.cardFile.lastModified}` : "file:";
}

function setTab(name) {
  state.tab = name;
  document.querySelectorAll(".tab").forEach((tab) => tab.classList.toggle("active", tab.dataset.tab === name));
  document.querySelectorAll(".tab-panel").forEach((panel) => panel.classList.toggle("hidden", panel.dataset.panel !== name));
}

// `preview`: the browser decodes the file, so a thumbnail can show it (a TIFF is sent without one).
function setImage(file, preview = true) {
  if (state.imageUrl) URL.revokeObjectURL(state.imageUrl);
  state.image = file || null;
  state.imageUrl = file && preview ? URL.createObjectURL(file) : null;
  $("#drop-empty").classList.toggle("hidden", !!file);
  $("#drop-full").classList.toggle("hidden", !file);
  $("#drop-thumb").classList.toggle("hidden", !state.imageUrl);
  if (state.imageUrl) $("#drop-thumb").src = state.imageUrl;
  else $("#drop-thumb").removeAttribute("src");
  if (file) {
    $("#drop-name").textContent = `${file.name} · ${(file.size / 1024).toFixed(0)} KB${preview ? "" : " (no preview)"}`;
  }
}

function decodes(file) {
  if (typeof createImageBitmap === "function") {
    return createImageBitmap(file).then((bitmap) => { bitmap.close(); return true; }, () => false);
  }
  return new Promise((resolve) => {
    const url = URL.createObjectURL(file);
    const probe = new Image();
    probe.onload = () => { URL.revokeObjectURL(url); resolve(true); };
    probe.onerror = () => { URL.revokeObjectURL(url); resolve(false); };
    probe.src = url;
  });
}

async function isTiff(file) {
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  const magic = String.fromCharCode(...head);
  return magic === "II*\u0000" || magic === "MM\u0000*";
}

// A file is attached only once it decodes here (or is a TIFF, which the server reads and browsers do not):
// anything else is refused on the spot, before an upload and without a broken-image icon.
async function attachImage(file) {
  const message = $("#drop-error");
  message.classList.add("hidden");
  if (!file) return setImage(null);
  const picture = await decodes(file);
  if (!picture && !(await isTiff(file))) {
    setImage(null);
    $("#image-file").value = "";
    message.textContent = `${file.name} is not an image this page can read: choose a PNG, JPEG, WebP, GIF, BMP or TIFF file.`;
    message.classList.remove("hidden");
    return;
  }
  setImage(file, picture);
}

function newChat() {
  state.session = null;
  state.cardKey = null;
  $("#thread").replaceChildren($("#welcome") || el("div"));
  $("#welcome")?.classList.remove("hidden");
}

// ---------------------------------------------------------------------------------------------------------------
// Asking

function buildForm(question) {
  const form = new FormData();
  const key = cardKey();
  if (state.session && key === state.cardKey) {
    form.append("session_id", state.session);
  } else if (state.tab === "bundled") {
    form.append("card_name", $("#card-select").value);
  } else if (state.tab === "paste") {
    form.append("card", $("#card-text").value);
  } else if (state.cardFile) {
    form.append("card", state.cardFile, state.cardFile.name);
  }
  state.cardKey = key;
  if (question) form.append("question", question);
  if (state.image) form.append("image", state.image, state.image.name);
  if ($("#scale").value) form.append("scale", $("#scale").value);
  return form;
}

function notice(message) {
  $("#welcome")?.classList.add("hidden");
  $("#thread").append(el("div", { class: "msg assistant error notice", text: message }));
}

function addUserMessage(question) {
  const card = state.tab === "bundled" ? $("#card-select").value : state.tab === "paste" ? "pasted card" : state.cardFile?.name;
  const bundled = state.tab === "bundled" ? (state.cards || {})[$("#card-select").value] : null;
  const message = el("div", { class: "msg user" }, question || bundled?.question || "(the card's own question)");
  if (state.image) {
    message.append(el("div", { class: "attach" }, state.imageUrl ? el("img", { src: state.imageUrl, alt: "attached image" }) : null,
                      `${state.image.name}${$("#scale").value ? ` · ×${$("#scale").value}` : ""}`));
  }
  if (!state.session || cardKey() !== state.cardKey) message.append(el("div", { class: "card-tag", text: `card: ${card || "default"}` }));
  $("#thread").append(message);
}

async function ask(question) {
  if (state.busy) return;
  const fresh = !state.session || cardKey() !== state.cardKey;
  if (fresh && state.tab === "upload" && !state.cardFile) return notice("Choose a card file first, or pick a bundled card.");
  if (fresh && state.tab === "paste" && !$("#card-text").value.trim()) return notice("Paste a card first, or pick a bundled card.");
  state.busy = true;
  $("#send").disabled = true;
  $("#welcome")?.classList.add("hidden");
  addUserMessage(question);
  const view = assistantView(Boolean(state.image));
  const form = buildForm(question);
  const sentImage = state.image;
  $("#question").value = "";
  let answered = false;
  try {
    const response = await fetch("/api/ask/stream", { method: "POST", body: form });
    if (!response.ok) {
      let detail = `HTTP ${response.status}`;
      try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
      const retry = response.headers.get("Retry-After");
      view.fail(retry ? `${detail} (retry after ${retry} s)` : detail);
      return;
    }
    answered = await readEvents(response, view);
  } catch (error) {
    view.fail(`The connection to the server failed: ${error.message}`);
  } finally {
    // After an answer the image is used up; after a failure it stays attached for another try.
    if (answered && state.image === sentImage) setImage(null);
    if (!answered && !$("#question").value) $("#question").value = question;
    state.busy = false;
    $("#send").disabled = false;
    checkHealth();  // the queue chip shows this job gone, not the count from the last poll
  }
}

async function readEvents(response, view) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let finished = false;
  let answered = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const chunk = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of chunk.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (!data.length) continue;
      const payload = JSON.parse(data.join("\n"));
      if (event === "session") state.session = payload.session_id;
      else if (event === "status") view.status(payload.message);
      else if (event === "progress") view.progress(payload.done, payload.total);
      else if (event === "token") view.token(payload.text);
      else if (event === "answer") { view.answer(payload); finished = answered = true; }
      else if (event === "error") { view.fail(payload.detail); finished = true; }
    }
  }
  if (!finished) view.fail("The answer stream ended early: ask again.");
  return answered;
}

// ---------------------------------------------------------------------------------------------------------------
// One assistant message: status, progress, streamed text, then the structured answer

function assistantView(restoring) {
  const node = $("#tpl-assistant").content.firstElementChild.cloneNode(true);
  $("#thread").append(node);
  node.scrollIntoView({ behavior: "smooth", block: "end" });
  const bar = node.querySelector(".bar");
  const fill = node.querySelector(".bar-fill");
  const stream = node.querySelector(".stream");
  const started = performance.now();
  const timer = setInterval(() => {
    node.querySelector(".elapsed").textContent = `${((performance.now() - started) / 1000).toFixed(1)} s`;
  }, 100);
  if (restoring) bar.classList.remove("hidden");
  bar.classList.add("indeterminate");
  const stop = () => { clearInterval(timer); node.classList.add("done"); bar.classList.add("hidden"); };
  return {
    status(message) { node.querySelector(".status-text").textContent = message; },
    progress(done, total) {
      bar.classList.remove("hidden", "indeterminate");
      fill.style.setProperty("width", `${Math.round((100 * done) / Math.max(total, 1))}%`);
      node.querySelector(".status-text").textContent = `Restoring: tile ${done} of ${total}…`;
    },
    token(text) {
      bar.classList.add("hidden");
      stream.classList.remove("hidden");
      stream.textContent += text;
      node.querySelector(".status-text").textContent = "Writing the answer…";
    },
    answer(payload) {
      stop();
      stream.classList.add("hidden");
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      node.querySelector(".status-text").textContent = `Answered in ${seconds} s`;
      const answer = node.querySelector(".answer");
      answer.replaceChildren(...renderAnswer(payload, `m${++state.n}`));
      answer.classList.remove("hidden");
      node.scrollIntoView({ behavior: "smooth", block: "start" });
    },
    fail(message) {
      stop();
      node.classList.add("error");
      node.querySelector(".status-text").textContent = `Error: ${message}`;
    },
  };
}

function renderAnswer(data, prefix) {
  const known = new Set((data.references || []).map((ref) => ref.n));
  const task = data.task || {};
  const parts = [];

  parts.push(el("section", { class: "task" },
    el("h3", {}, el("span", { class: "num", text: "1" }), "Task"),
    el("div", { class: "badges" },
      el("span", { class: "badge", text: task.label }),
      task.scale ? el("span", { class: "badge", text: `scale ×${task.scale}` }) : null,
      task.mismatch ? el("span", { class: "badge warn", text: `mismatch${task.missing?.length ? `: cannot ${task.missing.join(", ")}` : ""}` }) : null,
      (task.cues || []).map((cue) => el("span", { class: "badge", text: cue }))),
    el("p", {}, cited(task.text, prefix, known))));

  const workflow = data.workflow || {};
  const run = data.restoration;
  const section = el("section", { class: "workflow" },
    el("h3", {}, el("span", { class: "num", text: "2" }), "Workflow"),
    flowDiagram(run, data),
    el("ul", { class: "steps" }, (workflow.steps || []).map((step) =>
      el("li", {}, el("span", { class: "stage", text: step.stage }), el("span", {}, cited(step.text, prefix, known))))),
    workflow.text ? el("p", {}, cited(workflow.text, prefix, known)) : null);
  if (run) section.append(restorationView(run));
  parts.push(section);

  parts.push(el("section", { class: "references" },
    el("h3", {}, el("span", { class: "num", text: "3" }), "References"),
    el("ol", { class: "refs" }, (data.references || []).map((ref) => {
      const url = safeUrl(ref.url);
      return el("li", { id: `${prefix}-ref-${ref.n}` },
        el("span", { class: "n", text: `[${ref.n}]` }),
        el("div", {},
          url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: ref.title }) : el("span", { text: ref.title }),
          " ", el("span", { class: "badge", text: ref.role }), " ", el("span", { class: "badge", text: ref.kind || "paper" }),
          String(ref.url).startsWith("cnaps:notes/") ? null : el("div", { class: "url", text: ref.url }),
          el("div", { class: "rel", text: ref.relevance })));
    }))));

  if (data.notes?.length) {
    parts.push(el("section", {}, el("div", { class: "notes" }, el("ul", {}, data.notes.map((note) => el("li", { text: note }))))));
  }
  const reports = data.report_urls || {};
  parts.push(el("div", { class: "downloads" }, "Report:",
    ownUrl(reports.html) ? el("a", { class: "main", href: reports.html, download: "cnaps-report.html", text: "HTML" }) : null,
    ownUrl(reports.pdf) ? el("a", { href: reports.pdf, download: "cnaps-report.pdf", text: "PDF" }) : null,
    ownUrl(reports.md) ? el("a", { href: reports.md, download: "cnaps-report-md.zip", text: "Markdown (.zip)" }) : null,
    el("span", { class: "engine", text: `engine: ${data.engine}` })));
  return parts;
}

function flowDiagram(run, data) {
  const boxes = [];
  if (run) {
    const [w, h] = run.input_size;
    boxes.push(["input", "Input", [run.input_path || "image", `${w} × ${h} px`]]);
    if (run.scale > 1) boxes.push(["input", `Enlarge ×${run.scale}`, [run.resize || "interpolation", `${w * run.scale} × ${h * run.scale} px`]]);
    const tiles = run.tiles > 1 && run.tile_size ? `${run.tiles} tiles of ${run.tile_size} px` : "whole image";
    boxes.push(["model", run.network, [run.model_id, `${run.weights.provenance} weights`, `${run.device}, ${run.precision}, ${tiles}`, `${run.seconds.toFixed(2)} s`]]);
    boxes.push(["output", "Output", [`${run.output_size[0]} × ${run.output_size[1]} px`]]);
  } else {
    const model = (data.card?.models || [])[0] || "recommended model";
    boxes.push(["input", "Input", ["your blurred image", "(none attached)"]]);
    boxes.push(["model", "Model", [model]]);
    boxes.push(["output", "Output", ["restored image"]]);
  }
  const flow = el("div", { class: "flow" });
  boxes.forEach(([stage, title, lines], i) => {
    if (i) flow.append(el("div", { class: "arrow", text: "→" }));
    flow.append(el("div", { class: `box ${stage}` }, el("div", { class: "stage", text: stage }),
      el("div", { class: "title", text: title }), lines.map((line) => el("div", { text: line }))));
  });
  return flow;
}

function restorationView(run) {
  const after = ownUrl(run.image_url);
  const before = ownUrl(run.input_url);
  const wrap = el("div", {});
  if (after && before) {
    const range = el("input", { type: "range", min: "0", max: "100", value: "50", "aria-label": "before/after position" });
    const compare = el("div", { class: "compare" },
      el("img", { class: "after", src: after, alt: "restored image" }),
      el("img", { class: "before", src: before, alt: "original image" }),
      el("div", { class: "handle" }),
      el("span", { class: "label l", text: "before" }), el("span", { class: "label r", text: "after" }),
      range);
    range.addEventListener("input", () => compare.style.setProperty("--pos", `${range.value}%`));
    const record = el("table", { class: "record" }, [
      ["Model", `${run.model_id} (${run.network})`],
      ["Weights", `${run.weights.provenance}: ${run.weights.file}`],
      ["About", run.weights.description],
      ["Device", `${run.device}, ${run.precision}`],
      ["Size", `${run.input_size.join(" × ")} → ${run.output_size.join(" × ")} px`],
      ["Tiles", run.tile_size ? `${run.tiles} of ${run.tile_size} px` : String(run.tiles)],
      ["Time", `${run.seconds.toFixed(2)} s`],
      ...(run.notes || []).map((note) => ["Note", note]),
    ].map(([key, value]) => el("tr", {}, el("th", { text: key }), el("td", { text: value }))));
    wrap.append(el("h4", { text: "Before and after" }),
      el("div", { class: "restore-grid" },
        el("div", {}, compare, el("div", { class: "caption", text: "Drag across the image to compare the original (left of the line) with the restored result." }),
           el("a", { href: after, download: run.image_path || "restored.png", class: "small", text: "Download the restored image" })),
        el("div", {}, el("h4", { text: "Restoration record" }), record)));
  }
  const crops = (run.crops || []).filter((crop) => ownUrl(crop.before_url) && ownUrl(crop.after_url));
  if (crops.length) {
    wrap.append(el("h4", { text: "Where it changed most (zoomed)" }),
      el("div", { class: "crops" }, crops.map((crop) => el("div", { class: "crop" },
        el("div", { class: "pair" },
          el("figure", {}, el("img", { src: crop.before_url, alt: "input crop" }), "before"),
          el("figure", {}, el("img", { src: crop.after_url, alt: "restored crop" }), "after")),
        el("div", { class: "caption", text: `${crop.size}×${crop.size} px at (${crop.x}, ${crop.y}) · mean change ${crop.mean_change.toFixed(1)}/255` })))));
  }
  return wrap;
}

// ---------------------------------------------------------------------------------------------------------------
// Wiring

async function checkHealth() {
  const badge = $("#health");
  try {
    const response = await fetch("/healthz");
    const health = await response.json();
    badge.className = "health ok";
    badge.textContent = `cnaps ${health.version} · queue ${health.restore_queue.pending}/${health.restore_queue.capacity}`;
    // Which weights a restoration loads, per official checkpoint: "MIMO-UNet official · MIMO-UNet+ project · ..."
    const weights = Object.entries(health.weights || {}).map(([name, kind]) => `${name} ${kind}`).join(" · ");
    if (weights) badge.textContent += ` · weights: ${weights}`;
    badge.title = "server status; official weights: cnaps weights download MODEL";
  } catch (_) {
    badge.className = "health bad";
    badge.textContent = "server unreachable";
  }
}

function wire() {
  document.querySelectorAll(".tab").forEach((tab) => tab.addEventListener("click", () => setTab(tab.dataset.tab)));
  $("#card-select").addEventListener("change", showCard);
  $("#card-file").addEventListener("change", (event) => {
    state.cardFile = event.target.files[0] || null;
    $("#card-file-name").textContent = state.cardFile ? state.cardFile.name : "Choose a card file (.txt)";
  });
  const drop = $("#drop");
  const input = $("#image-file");
  drop.addEventListener("click", (event) => { if (!event.target.closest("#drop-clear")) input.click(); });
  drop.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") input.click(); });
  input.addEventListener("change", () => attachImage(input.files[0]));
  ["dragenter", "dragover"].forEach((name) => drop.addEventListener(name, (event) => { event.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((name) => drop.addEventListener(name, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = event.dataTransfer.files[0];
    if (file) attachImage(file);
  });
  $("#drop-clear").addEventListener("click", (event) => { event.stopPropagation(); input.value = ""; attachImage(null); });
  $("#composer").addEventListener("submit", (event) => { event.preventDefault(); ask($("#question").value.trim()); });
  $("#question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("#composer").requestSubmit(); }
  });
  $("#ask-card").addEventListener("click", () => ask(""));
  $("#new-chat").addEventListener("click", newChat);
  loadCards();
  checkHealth();
  setInterval(checkHealth, 15000);
}

document.addEventListener("DOMContentLoaded", wire);
