// The product search console: keyword, image and "similar" queries against the gateway's
// JSON API (server/api/web.py), rendered as a ranked grid. No framework, no build step.
"use strict";

const SIGNAL_LABELS = { image: "图像 image", title: "标题 title" };

const $ = (id) => document.getElementById(id);
let latest = 0; // answers to superseded queries are dropped
let current = null; // the query on screen: changing Top K runs it again

class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

async function api(url, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError("NETWORK", `the gateway did not answer (${error.message})`);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(body?.code ?? `HTTP ${response.status}`, body?.message ?? response.statusText);
  }
  return body;
}

function topK() {
  return $("top-k").value;
}

function catalog() {
  return encodeURIComponent($("catalog").value || "default");
}

// -- queries ----------------------------------------------------------------------------

// A query is {kind: "text", q} | {kind: "similar", id} | {kind: "image", file}.
function request(query) {
  const k = encodeURIComponent(topK());
  const where = `catalog=${catalog()}&top_k=${k}`;
  if (query.kind === "text") {
    return api(`/api/search?q=${encodeURIComponent(query.q)}&${where}`);
  }
  if (query.kind === "similar") {
    return api(`/api/similar?id=${encodeURIComponent(query.id)}&${where}`);
  }
  const form = new FormData();
  form.append("image", query.file, query.file.name || "image");
  return api(`/api/search/image?${where}`, { method: "POST", body: form });
}

async function run(query, remember = true) {
  if (remember) {
    rememberInUrl(query);
  }
  const token = ++latest;
  current = query;
  showSummary(query);
  hideError();
  document.body.classList.add("busy");
  $("timing").textContent = "搜索中… Searching…";
  const started = performance.now();
  try {
    const result = await request(query);
    if (token !== latest) return;
    renderHits(result.hits);
    showTiming(result, performance.now() - started);
  } catch (error) {
    if (token !== latest) return;
    showError(error);
    renderHits([]);
    $("timing").textContent = "";
  } finally {
    if (token === latest) document.body.classList.remove("busy");
  }
}

// Keyword and similar queries live in the URL (#q=… / #similar=…): links and Back work.
function rememberInUrl(query) {
  let hash = `#catalog=${catalog()}`;
  if (query.kind === "text") hash += `&q=${encodeURIComponent(query.q)}`;
  if (query.kind === "similar") hash += `&similar=${encodeURIComponent(query.id)}`;
  const state = query.kind === "image" ? null : query;
  if (hash !== location.hash) history.pushState(state, "", hash || location.pathname);
}

function queryFromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get("q")) return { kind: "text", q: params.get("q") };
  if (params.get("similar")) return { kind: "similar", id: params.get("similar") };
  return null;
}

// -- rendering --------------------------------------------------------------------------

function showSummary(query) {
  const image = $("query-image");
  const label = $("query-label");
  label.replaceChildren();
  const kind = document.createElement("span");
  kind.className = "query-kind";
  const subject = document.createElement("span");
  subject.className = "query-subject";
  if (query.kind === "text") {
    kind.textContent = "关键词 Keyword";
    subject.textContent = `“${query.q}”`;
    image.hidden = true;
  } else if (query.kind === "similar") {
    kind.textContent = "相似商品 Similar to";
    subject.textContent = query.id;
    image.src = `/api/thumbnail?catalog=${catalog()}&id=${encodeURIComponent(query.id)}`;
    image.hidden = false;
  } else {
    kind.textContent = "以图搜图 Image";
    subject.textContent = query.file.name || "pasted image";
    if (image.src.startsWith("blob:")) URL.revokeObjectURL(image.src);
    image.src = URL.createObjectURL(query.file);
    image.hidden = false;
  }
  label.append(kind, subject);
  $("summary").hidden = false;
  $("placeholder").hidden = true;
}

function showTiming(result, roundTripMs) {
  const n = result.hits.length;
  $("timing").textContent =
    `${n} 个结果 hit${n === 1 ? "" : "s"} · ` +
    `embedding ${result.embedding_ms.toFixed(1)} ms · index ${result.index_ms.toFixed(2)} ms · ` +
    `round trip ${roundTripMs.toFixed(0)} ms`;
}

function renderHits(hits) {
  const list = $("results");
  const template = $("hit-template").content;
  list.replaceChildren(...hits.map((hit) => renderHit(hit, template)));
  if (!hits.length && $("error").hidden) {
    const empty = document.createElement("li");
    empty.className = "no-hits";
    empty.textContent = "没有结果 · No hits";
    list.append(empty);
  }
}

function renderHit(hit, template) {
  const card = template.firstElementChild.cloneNode(true);
  card.dataset.id = hit.id;
  card.dataset.rank = hit.rank;
  card.dataset.score = hit.score;
  card.title = `点击查找相似商品 · Click to find products similar to ${hit.id}`;
  const image = card.querySelector("img.thumbnail");
  image.src = hit.thumbnail;
  image.alt = hit.title || hit.id;
  image.addEventListener("load", () => {
    // Tiny images (Fashion-MNIST is 28 px) look better as crisp pixels than blurred.
    if (image.naturalWidth < 96) image.classList.add("pixelated");
  });
  card.querySelector(".rank").textContent = `#${hit.rank}`;
  card.querySelector(".score").textContent = hit.score.toFixed(3);
  const category = card.querySelector(".category");
  category.textContent = hit.category;
  category.hidden = !hit.category;
  card.querySelector(".title").textContent = hit.title || "（无标题 untitled）";
  card.querySelector(".product-id").textContent = hit.id;
  const signals = card.querySelector(".signals");
  for (const [name, score] of Object.entries(hit.signals)) {
    signals.append(renderSignal(name, score, score === hit.score));
  }
  wireExplain(card, hit);
  const open = () => run({ kind: "similar", id: hit.id });
  card.addEventListener("click", open);
  card.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      open();
    }
  });
  return card;
}

// "Why this match": the hit's heatmap for the query on screen (a keyword, an image or the
// product a "similar" search started from), drawn over the thumbnail on demand.
function wireExplain(card, hit) {
  const button = card.querySelector("button.explain");
  const heat = card.querySelector("img.heat");
  const query = current;
  if (!query) {
    button.hidden = true;
    return;
  }
  button.addEventListener("keydown", (event) => event.stopPropagation());
  button.addEventListener("click", async (event) => {
    event.stopPropagation(); // the card's own click finds similar products
    if (card.classList.contains("explained")) {
      card.classList.remove("explained");
      heat.hidden = true;
      button.setAttribute("aria-pressed", "false");
      return;
    }
    button.disabled = true;
    card.classList.add("explaining");
    try {
      const result = await explainRequest(query, hit.id);
      heat.classList.toggle("pixelated", result.image_width < 96);
      heat.src = result.heatmap;
      heat.alt = `heatmap of ${hit.id}`;
      heat.title =
        `${result.model} · ${result.grid_width}×${result.grid_height} cells · ` +
        `cosine ${result.score.toFixed(3)} (${result.query_space})`;
      heat.dataset.gridWidth = result.grid_width;
      heat.dataset.gridHeight = result.grid_height;
      heat.hidden = false;
      card.classList.add("explained");
      button.setAttribute("aria-pressed", "true");
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
      card.classList.remove("explaining");
    }
  });
}

function explainRequest(query, id) {
  const where = `catalog=${catalog()}&id=${encodeURIComponent(id)}`;
  if (query.kind === "text") {
    return api(`/api/explain?q=${encodeURIComponent(query.q)}&${where}`);
  }
  if (query.kind === "similar") {
    return api(`/api/explain?similar=${encodeURIComponent(query.id)}&${where}`);
  }
  const form = new FormData();
  form.append("image", query.file, query.file.name || "image");
  return api(`/api/explain/image?${where}`, { method: "POST", body: form });
}

function renderSignal(name, score, best) {
  const item = document.createElement("li");
  item.className = `signal${best ? " best" : ""}`;
  item.dataset.signal = name;
  item.dataset.score = score;
  const label = document.createElement("span");
  label.className = "signal-name";
  label.textContent = SIGNAL_LABELS[name] ?? name;
  const bar = document.createElement("span");
  bar.className = "signal-bar";
  const fill = document.createElement("i");
  fill.style.width = `${Math.max(0, Math.min(1, score)) * 100}%`;
  bar.append(fill);
  const value = document.createElement("span");
  value.className = "signal-value";
  value.textContent = score.toFixed(3);
  item.append(label, bar, value);
  return item;
}

function showError(error) {
  const box = $("error");
  box.replaceChildren();
  const code = document.createElement("strong");
  code.className = "error-code";
  code.textContent = error.code ?? "ERROR";
  const message = document.createElement("span");
  message.className = "error-message";
  message.textContent = error.message;
  box.append(code, message);
  box.hidden = false;
}

function hideError() {
  $("error").hidden = true;
}

// The catalogs the key may use, in the selector; the choice is kept in the URL (#catalog=…).
async function loadCatalogs() {
  const select = $("catalog");
  const wanted = new URLSearchParams(location.hash.slice(1)).get("catalog") || select.value || "default";
  try {
    const { catalogs } = await api("/api/catalogs");
    select.replaceChildren(
      ...catalogs.map((c) => {
        const option = document.createElement("option");
        option.value = c.id;
        option.textContent = `${c.id} · ${c.product_count.toLocaleString()}`;
        option.title = c.display_name || c.id;
        return option;
      }),
    );
    if (catalogs.some((c) => c.id === wanted)) select.value = wanted;
  } catch (error) {
    // Keep what is there: the stats line shows the error.
  }
}

async function loadStats() {
  try {
    const stats = await api(`/api/stats?catalog=${catalog()}`);
    const models = stats.models.map((m) => m.name).join(" · ");
    $("stats").textContent = `${stats.product_count.toLocaleString()} 件商品 products · ${models}`;
  } catch (error) {
    $("stats").textContent = `stats: ${error.code}`;
  }
}

// -- wiring -----------------------------------------------------------------------------

function searchImage(file) {
  if (file) run({ kind: "image", file });
}

// With API keys on, the JSON API and thumbnails need a `search` key: kept in a cookie so
// that <img> requests carry it too; it lives for this browser session only.
function setKey(key) {
  const value = encodeURIComponent(key.trim());
  document.cookie = `productsearch_key=${value}; path=/; SameSite=Strict${value ? "" : "; max-age=0"}`;
}

function wire() {
  $("api-key").addEventListener("change", async (event) => {
    setKey(event.target.value);
    await loadCatalogs();
    loadStats();
    if (current) run(current, false);
  });
  $("catalog").addEventListener("change", () => {
    loadStats();
    if (current && current.kind !== "similar") run(current);
    else renderHits([]);
  });
  $("text-form").addEventListener("submit", (event) => {
    event.preventDefault();
    run({ kind: "text", q: $("q").value });
  });
  $("top-k").addEventListener("change", () => {
    if (current) run(current, false);
  });
  $("query-image").addEventListener("error", (event) => {
    event.target.hidden = true; // the upload was no image the browser can show
  });
  $("file").addEventListener("change", (event) => {
    searchImage(event.target.files[0]);
    event.target.value = ""; // choosing the same file again searches again
  });

  const zone = $("drop-zone");
  let depth = 0; // dragenter/dragleave fire for every child element
  document.addEventListener("dragenter", (event) => {
    event.preventDefault();
    depth += 1;
    zone.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.classList.remove("dragging");
  });
  document.addEventListener("dragover", (event) => event.preventDefault());
  document.addEventListener("drop", (event) => {
    event.preventDefault(); // anywhere on the page: never navigate to the dropped file
    depth = 0;
    zone.classList.remove("dragging");
    searchImage(event.dataTransfer?.files[0]);
  });
  document.addEventListener("paste", (event) => {
    const file = [...(event.clipboardData?.files ?? [])].find((f) => f.type.startsWith("image/"));
    if (file) searchImage(file);
  });

  window.addEventListener("popstate", () => {
    const query = queryFromHash();
    if (query) {
      if (query.kind === "text") $("q").value = query.q;
      run(query, false);
    }
  });

  loadCatalogs().then(() => {
    loadStats();
    const initial = queryFromHash();
    if (initial) {
      if (initial.kind === "text") $("q").value = initial.q;
      run(initial, false);
    }
  });
}

wire();
