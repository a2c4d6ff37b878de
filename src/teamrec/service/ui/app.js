// teamrec's web page: two pickers over the HTTP API, no build step, no dependencies.
// Everything shown is set with textContent (never innerHTML), so names cannot inject markup.
"use strict";

const API = "/api/v1";
const KEY_STORAGE = "teamrec.key";
const state = { team: null, item: null, person: null };

const $ = (id) => document.getElementById(id);

// -- the API key: ?key=... in the address, or the key field; kept for this tab only ---------
function readKeyFromUrl() {
  const url = new URL(window.location.href);
  const key = url.searchParams.get("key");
  if (key) {
    sessionStorage.setItem(KEY_STORAGE, key);
    url.searchParams.delete("key");  // do not leave the key in the address bar or history
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
}

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
  }
}

async function api(path, params = {}) {
  const url = new URL(API + path, window.location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  const key = apiKey();
  if (key) headers["X-API-Key"] = key;
  const response = await fetch(url, { headers });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

function teamPath(path) {
  return `/teams/${encodeURIComponent(state.team)}${path}`;
}

// -- messages ---------------------------------------------------------------------------------
function showError(error) {
  const box = $("error");
  if (!error) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  let text = error.message || String(error);
  if (error.status === 401 || error.status === 403) {
    text += " (enter this team's API key below)";
    $("key-panel").open = true;
  }
  box.textContent = text;
  box.hidden = false;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// Channels are named #name; other items (films, articles) by their own name.
let itemKind = "channel";
const channelLabel = (name) => (itemKind !== "channel" || name.startsWith("#") ? name : `#${name}`);

// The words of the page for what the team's items are.
const WORDING = {
  channel: { title: "Channels like…", pick: "Pick a channel", search: "Search channels", many: "channels", listFor: "Channels for" },
  item: { title: "Items like…", pick: "Pick an item", search: "Search items", many: "items", listFor: "Items for" },
};

function applyWording(kind) {
  itemKind = kind === "item" ? "item" : "channel";
  const words = WORDING[itemKind];
  $("channels-title").textContent = words.title;
  document.querySelector('label[for="item-search"]').textContent = words.pick;
  $("item-search").placeholder = words.search;
  $("item-options").setAttribute("aria-label", words.many[0].toUpperCase() + words.many.slice(1));
  $("similar-items").setAttribute("aria-label", `Similar ${words.many}`);
  return words;
}

// -- pickers ----------------------------------------------------------------------------------
// A search field with a list of matches under it; choosing one calls onPick(result).
function picker({ input, list, search, label, detail, onPick }) {
  let timer = null;
  let request = 0;

  async function refresh() {
    const mine = ++request;
    try {
      const results = await search(input.value);
      if (mine !== request) return;  // a newer search has started
      clear(list);
      for (const result of results) {
        const option = el("li");
        option.setAttribute("role", "option");
        const button = el("button", "option");
        button.type = "button";
        button.dataset.id = result.id;
        button.append(el("span", "option-name", label(result)), el("small", "muted", detail(result)));
        button.addEventListener("click", () => {
          close();
          onPick(result);
        });
        option.append(button);
        list.append(option);
      }
      if (!results.length) list.append(el("li", "muted empty", "No match"));
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      showError(null);
    } catch (error) {
      showError(error);
    }
  }

  function close() {
    // A search still waiting (typed just before the pick) must not open the list again.
    clearTimeout(timer);
    request += 1;
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 120);
  });
  input.addEventListener("focus", refresh);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
    if (event.key === "Enter") {
      event.preventDefault();
      const first = list.querySelector("button.option");
      if (first) first.click();
    }
  });
  document.addEventListener("click", (event) => {
    if (!list.contains(event.target) && event.target !== input) close();
  });
  return { close, refresh };
}

// -- results ----------------------------------------------------------------------------------
function renderResults(list, results, { label, onPick, empty }) {
  clear(list);
  if (!results.length) {
    list.append(el("li", "muted empty", empty));
    return;
  }
  const top = Math.max(...results.map((r) => r.score), 1e-9);
  for (const result of results) {
    const row = el("li", "result");
    row.dataset.id = result.id;
    const name = el("button", "result-name link", label(result));
    name.type = "button";
    name.addEventListener("click", () => onPick(result));
    const bar = el("span", "bar");
    bar.style.setProperty("--w", `${Math.max(4, Math.round((100 * result.score) / top))}%`);
    bar.setAttribute("aria-hidden", "true");
    row.append(name, bar);
    if (result.reason) row.append(el("p", "reason", result.reason));
    list.append(row);
  }
}

function renderChosen(box, title, lines) {
  clear(box);
  box.append(el("strong", null, title));
  for (const line of lines) if (line) box.append(el("span", "muted", line));
  box.hidden = false;
}

async function pickItem(item) {
  state.item = item.id;
  $("item-search").value = item.name;
  saveHash();
  renderChosen($("item-chosen"), channelLabel(item.name), [
    item.description,
    item.people !== undefined ? `${item.people} people` : "",
  ]);
  const list = $("similar-items");
  list.setAttribute("aria-busy", "true");
  try {
    const answer = await api(teamPath(`/items/${encodeURIComponent(item.id)}/similar`), { k: 10 });
    $("item-search").value = answer.item.name;
    renderChosen($("item-chosen"), channelLabel(answer.item.name), [
      answer.item.description,
      `${answer.item.people} people`,
    ]);
    renderResults(list, answer.results, {
      label: (r) => channelLabel(r.name),
      onPick: (r) => pickItem({ id: r.id, name: r.name }),
      empty: `No similar ${WORDING[itemKind].many} yet`,
    });
    showError(null);
  } catch (error) {
    clear(list);
    showError(error);
  } finally {
    list.removeAttribute("aria-busy");
  }
}

async function pickPerson(person) {
  state.person = person.id;
  $("person-search").value = person.name;
  saveHash();
  renderChosen($("person-chosen"), person.name, [person.title, person.handle ? `@${person.handle}` : ""]);
  $("recommended-title").textContent = `${WORDING[itemKind].listFor} ${person.name}`;
  $("similar-people-title").textContent = `People like ${person.name}`;
  $("person-results").hidden = false;
  const recommended = $("recommended-items");
  const similar = $("similar-people");
  recommended.setAttribute("aria-busy", "true");
  similar.setAttribute("aria-busy", "true");
  const path = `/people/${encodeURIComponent(person.id)}`;
  try {
    const [recs, like] = await Promise.all([
      api(teamPath(`${path}/recommendations`), { k: 10, explain: "true" }),
      api(teamPath(`${path}/similar`), { k: 10 }),
    ]);
    $("person-search").value = like.user.name;
    $("recommended-title").textContent = `${WORDING[itemKind].listFor} ${like.user.name}`;
    $("similar-people-title").textContent = `People like ${like.user.name}`;
    renderChosen($("person-chosen"), like.user.name, [
      like.user.title,
      like.user.handle ? `@${like.user.handle}` : "",
      `${like.user.items} ${WORDING[itemKind].many}`,
    ]);
    renderResults(recommended, recs.results, {
      label: (r) => channelLabel(r.name),
      onPick: (r) => pickItem({ id: r.id, name: r.name }),
      empty: "Nothing new to recommend",
    });
    renderResults(similar, like.results, {
      label: (r) => r.name,
      onPick: (r) => pickPerson({ id: r.id, name: r.name }),
      empty: "Nobody similar yet",
    });
    showError(null);
  } catch (error) {
    clear(recommended);
    clear(similar);
    showError(error);
  } finally {
    recommended.removeAttribute("aria-busy");
    similar.removeAttribute("aria-busy");
  }
}

// -- experiments: a panel for admin keys (the routes answer 401/403 to anyone else) -----------
const pct = (x) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(2)}%`);
const pp = (x) => (x === null || x === undefined ? "–" : `${x >= 0 ? "+" : ""}${(100 * x).toFixed(2)} pp`);

async function chartDataUrl(path) {
  // Fetched with the key header, shown as a data: URL (the page's policy allows data: images).
  const headers = { Accept: "image/png" };
  const key = apiKey();
  if (key) headers["X-API-Key"] = key;
  const response = await fetch(new URL(API + path + "?format=png", window.location.origin), { headers });
  if (!response.ok) throw new ApiError(response.status, null);
  const blob = await response.blob();
  return await new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

async function showReport(name) {
  const body = $("experiment-table").querySelector("tbody");
  clear(body);
  const path = teamPath(`/experiments/${encodeURIComponent(name)}/report`);
  let report;
  try {
    report = await api(path);
  } catch (error) {
    $("experiment-notes").textContent = error.message;
    $("experiment-chart").hidden = true;
    return;
  }
  const diff = Object.fromEntries(report.differences.map((d) => [d.arm, d]));
  for (const arm of report.arms) {
    const row = el("tr");
    const d = diff[arm.arm];
    const cells = [arm.arm, arm.units, arm.impressions, arm.clicks, pct(arm.ctr),
      `[${pct(arm.low)}, ${pct(arm.high)}]`, d ? `${pp(d.difference)} (p ${d.p_value === null ? "–" : d.p_value.toFixed(3)})` : "control"];
    for (const value of cells) row.append(el("td", null, String(value)));
    body.append(row);
  }
  const srm = report.srm && report.srm.flagged ? " Sample ratio mismatch: do not trust the differences yet." : "";
  $("experiment-notes").textContent = `Unit: ${report.unit}. Control: ${report.control}.${srm}`;
  try {
    $("experiment-chart").src = await chartDataUrl(path);
    $("experiment-chart").hidden = false;
  } catch (error) {
    $("experiment-chart").hidden = true;
  }
}

async function showExperiments() {
  const panel = $("experiments");
  if (!apiKey()) {  // reports need the team's admin key: no key, no request, no panel
    panel.hidden = true;
    return;
  }
  let listed;
  try {
    listed = (await api(teamPath("/experiments"))).experiments;
  } catch (error) {
    panel.hidden = true;  // not an admin key for this team: no panel
    return;
  }
  const select = $("experiment");
  clear(select);
  for (const experiment of listed) {
    const option = el("option", null, experiment.name + (experiment.serving ? "" : " (not in this team)"));
    option.value = experiment.name;
    select.append(option);
  }
  panel.hidden = !listed.length;
  if (listed.length) await showReport(select.value);
}

// -- teams, model information and the address ---------------------------------------------------
function saveHash() {
  const params = new URLSearchParams();
  if (state.team) params.set("team", state.team);
  if (state.item) params.set("item", state.item);
  if (state.person) params.set("person", state.person);
  history.replaceState(null, "", `${window.location.pathname}${window.location.search}#${params}`);
}

async function showModel() {
  try {
    const model = await api(teamPath("/model"));
    const words = applyWording(model.item_kind);
    $("model-info").textContent =
      `${model.people} people · ${model.items} ${words.many} · ${model.algorithm} · model v${model.model_version}`;
  } catch (error) {
    $("model-info").textContent = "";
  }
}

function resetTeam() {
  state.item = null;
  state.person = null;
  for (const id of ["similar-items", "recommended-items", "similar-people"]) clear($(id));
  for (const id of ["item-chosen", "person-chosen", "person-results"]) $(id).hidden = true;
  $("item-search").value = "";
  $("person-search").value = "";
}

async function loadTeams() {
  const hash = new URLSearchParams(window.location.hash.slice(1));
  let teams;
  try {
    teams = (await api("/teams")).teams;
    showError(null);
  } catch (error) {
    showError(error);
    return;
  }
  const select = $("team");
  clear(select);
  for (const team of teams) {
    const option = el("option", null, team.name);
    option.value = team.name;
    select.append(option);
  }
  $("team-picker").hidden = teams.length < 2;
  if (!teams.length) return;
  const wanted = hash.get("team");
  state.team = teams.some((t) => t.name === wanted) ? wanted : teams[0].name;
  select.value = state.team;
  await showModel();
  showExperiments();
  if (hash.get("item")) pickItem({ id: hash.get("item"), name: hash.get("item") });
  if (hash.get("person")) pickPerson({ id: hash.get("person"), name: hash.get("person") });
}

function setUpKey() {
  const status = $("key-status");
  status.textContent = apiKey() ? "A key is in use." : "No key: reading is open on this service unless it says otherwise.";
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("api-key").value.trim();
    if (value) sessionStorage.setItem(KEY_STORAGE, value);
    $("api-key").value = "";
    status.textContent = value ? "A key is in use." : status.textContent;
    loadTeams();
  });
  $("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    status.textContent = "Key forgotten.";
    loadTeams();
  });
}

function main() {
  readKeyFromUrl();
  setUpKey();
  picker({
    input: $("item-search"),
    list: $("item-options"),
    search: async (q) => (await api(teamPath("/items"), { q, limit: 8 })).results,
    label: (item) => channelLabel(item.name) + (item.private ? " (private)" : ""),
    detail: (item) => `${item.people} people`,
    onPick: pickItem,
  });
  picker({
    input: $("person-search"),
    list: $("person-options"),
    search: async (q) => (await api(teamPath("/people"), { q, limit: 8 })).results,
    label: (person) => person.name,
    detail: (person) => [person.title, person.handle ? `@${person.handle}` : ""].filter(Boolean).join(" · "),
    onPick: pickPerson,
  });
  $("team").addEventListener("change", async (event) => {
    state.team = event.target.value;
    resetTeam();
    saveHash();
    await showModel();
    showExperiments();
  });
  $("experiment").addEventListener("change", (event) => showReport(event.target.value));
  loadTeams();
}

document.addEventListener("DOMContentLoaded", main);
