// The field app: sign-in and PIN, prepare, find/register/doses/check-in/AEFI offline,
// today's tally, certificate check, sync. Screens are drawn from the hash (#find, ...).
import * as store from "./store.js";
import * as api from "./api.js";
import {loadWords, t, tn, locale} from "./i18n.js";
import {verifyText} from "./verify.js";

const config = document.getElementById("config").dataset;
const main = document.getElementById("main");
const BATCH = 100;
const S = {session: null, bundle: null, records: [], cursor: null, deviceId: null, busy: false};

// --- small DOM helpers ---------------------------------------------------------------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false)
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
const uid = () => crypto.randomUUID();
function field(name, label, input) {
  input.id = input.id || `f-${name}`;
  input.name = name;
  return h("p", {class: "field"}, h("label", {for: input.id}, label), input);
}
const input = (attrs) => h("input", attrs);
function select(options, value) {
  return h("select", {}, options.map(([v, label]) =>
    h("option", {value: v, selected: v === value}, label)));
}
function screen(title, ...content) {
  main.replaceChildren(h("h1", {}, title), ...content);
  main.focus();
}
function nav(...links) { return h("nav", {class: "actions"}, links); }
const link = (hash, label, cls = "button") => h("a", {href: hash, class: cls}, label);
function toast(message, kind = "info") {
  const box = document.getElementById("toast");
  box.replaceChildren(h("p", {class: kind}, message));
}
function formValues(form) { return Object.fromEntries(new FormData(form).entries()); }
const today = () => new Date().toISOString().slice(0, 10);
function when(ms) {
  return ms ? new Intl.DateTimeFormat(locale().replace("_", "-"),
    {dateStyle: "medium", timeStyle: "short"}).format(new Date(ms)) : t("never");
}
function label(mapping, fallback = "") {
  if (!mapping || typeof mapping !== "object") return mapping || fallback;
  return mapping[locale()] || mapping[locale().split("_")[0]] ||
    mapping[(S.bundle && S.bundle.pack.default_locale) || "en"] ||
    Object.values(mapping)[0] || fallback;
}
function showError(e) {
  if (e instanceof api.Offline) toast(t("network_needed"), "error");
  else toast(t("error", {detail: e.message}), "error");
}
function busy(button, run) {
  return async (event) => {
    event.preventDefault();
    if (S.busy) return;
    S.busy = true;
    if (button) button.disabled = true;
    toast(t("working"));
    try { await run(event); } catch (e) { showError(e); } finally {
      S.busy = false;
      if (button) button.disabled = false;
    }
  };
}

// --- network indicator -----------------------------------------------------------------
function showNet() {
  const net = document.getElementById("net");
  net.textContent = navigator.onLine ? t("online") : t("offline");
  net.className = navigator.onLine ? "net on" : "net off";
}
window.addEventListener("online", showNet);
window.addEventListener("offline", showNet);

// --- data --------------------------------------------------------------------------------
async function loadAll() {
  S.session = await store.get("session");
  S.bundle = await store.get("bundle");
  S.cursor = await store.get("cursor");
  S.records = await store.records();
  S.deviceId = await store.getMeta("device_id");
}

async function addRecord(kind, payload, local = null) {
  // payload: what the server gets; local: what only the app keeps (schedules, dose numbers)
  const record = {client_id: uid(), kind, recorded_at: new Date().toISOString(), payload,
                  local, status: "pending", result: null, review: null};
  record.id = await store.addRecord(record);
  S.records.push(record);
  return record;
}

async function saveRecord(record) {
  const {id, ...value} = record;
  await store.saveRecord(id, value);
}

function people() {
  const list = (S.bundle ? S.bundle.people : []).map((p) => ({...p, key: p.reference_id}));
  for (const r of S.records) if (r.kind === "register_person") {
    const p = r.payload;
    list.push({key: `client:${r.client_id}`, local: r, name: p.name, birth_date: p.birth_date,
               gender: p.gender, guardian_name: p.guardian_name,
               mobile_last4: (p.mobile || "").replace(/\D/g, "").slice(-4),
               reference_id: r.result && r.result.reference_id, doses: [], due: [],
               pregnant: Boolean(p.pregnancy)});
  }
  return list;
}

function personRef(person) {
  return person.reference_id || person.key;
}

function localDoses(person) {
  const refs = new Set([person.key, person.reference_id].filter(Boolean));
  const out = [];
  for (const r of S.records) if (["record_visit", "record_dose"].includes(r.kind) &&
                                 refs.has(r.payload.person))
    for (const d of r.local.doses) out.push({...d, date: r.payload.administered_at.slice(0, 10),
                                             record: r});
  return out;
}

function schedules() { return (S.bundle && S.bundle.pack.schedules) || []; }

function dueList(person) {
  const given = new Set(localDoses(person).map((d) => `${d.schedule}/${d.dose}`));
  const due = (person.due || []).filter((d) => ["due", "overdue"].includes(d.status) &&
                                              !given.has(`${d.schedule}/${d.dose}`));
  if (person.local) {  // no due list yet: the first doses of the schedules for such a person
    for (const s of schedules()) {
      if (!s.routine) continue;
      if ((s.timed_from === "pregnancy") !== Boolean(person.pregnant)) continue;
      const first = (s.doses || [])[0];
      const number = first ? (first.number || 1) : 1;
      if (!given.has(`${s.code}/${number}`) && (!first || !first.age || /^0[dwmy]?$/.test(String(first.age))))
        due.push({schedule: s.code, dose: number, status: "due"});
    }
  }
  return due;
}

async function mobileHash(raw) {
  let digits = raw.replace(/[^\d+]/g, "");
  if (digits.startsWith("+")) digits = digits.slice(1);
  else if (digits.startsWith("00")) digits = digits.slice(2);
  else digits = config.callingCode + digits.replace(/^0+/, "");
  const salt = S.bundle.mobile_salt;
  const k = await crypto.subtle.importKey("raw", new TextEncoder().encode(salt),
                                          {name: "HMAC", hash: "SHA-256"}, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(`+${digits}`));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function find(query) {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const all = people();
  const digits = q.replace(/[\s()+-]/g, "");
  let hash = null;
  if (/^\d{7,15}$/.test(digits) && S.bundle && S.bundle.mobile_salt) hash = await mobileHash(q);
  return all.filter((p) =>
    (p.name || "").toLowerCase().includes(q) ||
    (p.guardian_name || "").toLowerCase().includes(q) ||
    (p.reference_id && p.reference_id.startsWith(digits) && digits.length >= 4) ||
    (p.external_id && p.external_id.toLowerCase() === q) ||
    (hash && p.mobile_hash === hash) ||
    (/^\d{4}$/.test(digits) && p.mobile_last4 === digits));
}

// --- screens -----------------------------------------------------------------------------
function signInScreen(again = false) {
  const button = h("button", {type: "submit"}, t("sign_in"));
  const form = h("form", {},
    field("username", t("username"), input({autocomplete: "username", required: true,
      value: again && S.session ? S.session.username : null, readonly: again || null})),
    field("password", t("password"), input({type: "password", autocomplete: "current-password",
                                            required: true})),
    button);
  form.addEventListener("submit", busy(button, async () => {
    const v = formValues(form);
    const answer = await api.signIn(v.username.trim(), v.password);
    const session = {username: answer.username, token: answer.token,
                     expires_at: Date.now() + answer.expires_in * 1000};
    if (again) {
      S.session = {...S.session, ...session};
      await store.put("session", S.session);
      toast("");
      location.hash = "#sync";
      route();
    } else pinSetScreen(session);
  }));
  screen(t("sign_in"), form, languageSwitch());
}

function pinSetScreen(session) {
  const button = h("button", {type: "submit"}, t("save"));
  const form = h("form", {},
    h("p", {}, t("pin_help")),
    field("pin", t("pin"), input({type: "password", inputmode: "numeric", autocomplete: "new-password",
                                  required: true, minlength: 6})),
    field("pin2", t("pin_again"), input({type: "password", inputmode: "numeric",
                                         autocomplete: "new-password", required: true})),
    button);
  form.addEventListener("submit", busy(button, async () => {
    const v = formValues(form);
    if (!/^\d{6,}$/.test(v.pin)) return toast(t("pin_too_short"), "error");
    if (v.pin !== v.pin2) return toast(t("pin_mismatch"), "error");
    await store.setPin(v.pin);
    await store.put("session", session);
    await loadAll();
    toast("");
    location.hash = "#home";
    route();
  }));
  screen(t("pin_set_title"), form);
}

function unlockScreen() {
  const button = h("button", {type: "submit"}, t("unlock"));
  const form = h("form", {},
    field("pin", t("pin"), input({type: "password", inputmode: "numeric",
                                  autocomplete: "current-password", required: true})),
    button);
  form.addEventListener("submit", busy(button, async () => {
    const answer = await store.unlock(formValues(form).pin);
    if (answer === "wiped") { toast(t("wiped_attempts"), "error"); return signInScreen(); }
    if (answer !== true) return toast(tn("pin_wrong", answer), "error");
    await loadAll();
    toast("");
    route();
  }));
  screen(t("unlock"), form, h("p", {}, h("button", {type: "button", class: "link",
    onclick: signOut}, t("sign_out"))), languageSwitch());
}

function pendingCount() { return S.records.filter((r) => r.status === "pending").length; }

async function home() {
  const last = await store.getMeta("last_sync_at");
  const prepared = S.bundle ? S.bundle.prepared_at_local : null;
  screen(t("app_name"),
    h("p", {class: "who"}, t("signed_in_as", {name: (S.bundle && S.bundle.staff.display_name) ||
                                                   S.session.username})),
    h("p", {id: "prepared"}, prepared ? t("prepared_at", {when: when(prepared)}) : t("not_prepared")),
    h("p", {id: "last-sync"}, t("last_sync", {when: when(last)})),
    h("p", {id: "waiting"}, tn("waiting", pendingCount())),
    nav(link("#prepare", t("prepare")), link("#find", t("find")), link("#register", t("register")),
        link("#tally", t("tally")), link("#verify", t("verify")), link("#sync", t("sync"))),
    h("p", {}, h("button", {type: "button", class: "link", onclick: signOut}, t("sign_out"))),
    languageSwitch());
}

function back() { return h("p", {}, link("#home", t("back"), "back")); }

function needsBundle() {
  if (S.bundle) return false;
  screen(t("app_name"), h("p", {}, t("not_prepared")), back());
  return true;
}

function prepareScreen() {
  const button = h("button", {type: "submit"}, t("prepare"));
  const form = h("form", {}, field("days", t("days_ahead"),
    input({type: "number", min: 1, max: 14, value: 3, required: true})), button);
  form.addEventListener("submit", busy(button, async () => {
    const days = Number(formValues(form).days) || 3;
    const bundle = await withToken((token) => api.prepare(token, days));
    if (!bundle) return;
    bundle.prepared_at_local = Date.now();
    await store.put("bundle", bundle);
    S.bundle = bundle;
    await store.setMeta("wipe_after_days", (bundle.pack && bundle.pack.wipe_after_days) || 7);
    await store.setMeta("last_sync_at", Date.now());
    toast(tn("prepare_done", bundle.people.length), "success");
    location.hash = "#home";
  }));
  screen(t("prepare"), form, back());
}

function personLine(p) {
  const ref = p.reference_id ? p.reference_id : h("span", {class: "pending"}, t("pending"));
  return h("li", {}, h("a", {href: `#person/${encodeURIComponent(p.key)}`, class: "person"},
    h("strong", {}, p.name), " · ", p.birth_date || p.birth_year || "", " · ", ref));
}

function findScreen() {
  if (needsBundle()) return;
  const results = h("div", {id: "results"});
  const form = h("form", {role: "search"},
    field("q", t("find_hint"), input({type: "search", autocomplete: "off", required: true})),
    h("button", {type: "submit"}, t("search")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const found = await find(formValues(form).q);
    results.replaceChildren(h("p", {}, tn("found", found.length)),
                            h("ul", {class: "list"}, found.slice(0, 50).map(personLine)));
  });
  screen(t("find"), form, results, back());
}

function findPerson(key) { return people().find((p) => p.key === key || p.reference_id === key); }

function scheduleName(code) {
  const s = schedules().find((x) => x.code === code);
  return s ? label(s.disease, code) : code;
}

function personScreen(key) {
  if (needsBundle()) return;
  const p = findPerson(key);
  if (!p) return home();
  const given = [...(p.doses || []).map((d) => `${d.date} · ${d.product} (${scheduleName(d.series)} ${d.dose_number || ""})`),
                 ...localDoses(p).map((d) => `${d.date} · ${d.product} · ${d.lot} (${scheduleName(d.schedule)} ${d.dose})`)];
  const appts = ((S.bundle && S.bundle.appointments) || []).filter((a) => a.reference_id === p.reference_id);
  const checkedIn = new Set(S.records.filter((r) => r.kind === "check_in").map((r) => `${r.payload.person}/${r.local.session_id}`));
  screen(p.name,
    h("p", {}, t("reference_id"), ": ", p.reference_id || h("span", {class: "pending"}, t("pending"))),
    p.birth_date ? h("p", {}, t("born", {date: p.birth_date})) : null,
    p.guardian_name ? h("p", {}, t("guardian", {name: p.guardian_name})) : null,
    appts.map((a) => h("p", {}, t("appointment", {slot: `${a.slot || ""} (${a.dose || ""})`}), " ",
      checkedIn.has(`${p.reference_id}/${a.session_id}`) ? t("checked_in") :
        h("button", {type: "button", onclick: async () => {
          await addRecord("check_in", {person: p.reference_id}, {session_id: a.session_id});
          toast(t("checked_in"), "success");
          personScreen(key);
        }}, t("check_in")))),
    h("h2", {}, t("doses_given")), h("ul", {class: "list doses"}, given.map((g) => h("li", {}, g))),
    nav(link(`#doses/${encodeURIComponent(p.key)}`, t("record_doses")),
        link(`#aefi/${encodeURIComponent(p.key)}`, t("aefi"), "button secondary")),
    back());
}

function lotsFor(product) {
  return ((S.bundle && S.bundle.lots) || []).filter((l) => l.product === product).map((l) => l.lot);
}

function doseRow(schedule, dose, status, checked) {
  const s = schedules().find((x) => x.code === schedule) || {products: []};
  const products = s.products && s.products.length ? s.products : ((S.bundle && S.bundle.pack.products) || []).map((x) => x.code);
  const lots = lotsFor(products[0]);
  const n = document.querySelectorAll(".dose-row").length;
  const productSelect = select(products.map((c) => [c, c]), products[0]);
  productSelect.name = `product-${n}`;
  productSelect.setAttribute("aria-label", t("vaccine"));
  const lot = input({name: `lot-${n}`, value: lots[0] || "", list: "lots", "aria-label": t("lot"), class: "lot"});
  productSelect.addEventListener("change", () => { lot.value = lotsFor(productSelect.value)[0] || ""; });
  const box = input({type: "checkbox", name: `give-${n}`, id: `give-${n}`, checked: checked || null, class: "give"});
  return h("fieldset", {class: "dose-row", "data-schedule": schedule, "data-dose": dose},
    h("legend", {}, h("label", {for: `give-${n}`}, box, " ",
      t("dose_n", {schedule: scheduleName(schedule), number: dose}),
      status ? h("span", {class: `status ${status}`}, " ", t(`st_${status}`)) : null)),
    productSelect, lot);
}

function dosesScreen(key) {
  if (needsBundle()) return;
  const p = findPerson(key);
  if (!p) return home();
  const rows = h("div", {id: "dose-rows"});
  const lotList = h("datalist", {id: "lots"}, ((S.bundle.lots) || []).map((l) => h("option", {value: l.lot})));
  const due = dueList(p);
  const button = h("button", {type: "submit"}, t("record_doses"));
  const form = h("form", {}, rows, lotList);
  screen(t("record_doses"), h("p", {}, p.name), form);
  for (const d of due) rows.append(doseRow(d.schedule, d.dose, d.status, false));
  if (!due.length) rows.append(h("p", {}, t("nothing_due")));
  const other = select([["", "—"], ...schedules().map((s) => [s.code, `${scheduleName(s.code)} (${s.code})`])], "");
  other.id = "another";
  other.addEventListener("change", () => {
    if (!other.value) return;
    const taken = localDoses(p).filter((d) => d.schedule === other.value).length +
      (p.doses || []).filter((d) => d.series === other.value).length;
    rows.append(doseRow(other.value, taken + 1, null, true));
    other.value = "";
  });
  const booked = ((S.bundle && S.bundle.appointments) || []).some((a) => a.reference_id && a.reference_id === p.reference_id);
  form.append(h("p", {class: "field"}, h("label", {for: "another"}, t("another")), other),
    booked ? field("secret_code", t("secret_code"), input({inputmode: "numeric", pattern: "[0-9]{4}", autocomplete: "off"})) : null,
    button, back());
  form.addEventListener("submit", busy(button, async () => {
    const doses = [];
    for (const row of form.querySelectorAll(".dose-row")) {
      if (!row.querySelector(".give").checked) continue;
      const lot = row.querySelector(".lot").value.trim();
      if (!lot) return toast(t("lot_needed"), "error");
      doses.push({schedule: row.dataset.schedule, dose: Number(row.dataset.dose),
                  product: row.querySelector("select").value, lot});
    }
    if (!doses.length) return toast(t("choose_dose"), "error");
    const facility = (S.bundle.staff.facilities || [])[0] || null;
    const at = new Date().toISOString();
    const routine = (d) => (schedules().find((s) => s.code === d.schedule) || {}).routine;
    const visit = doses.filter(routine);
    if (visit.length)  // routine doses: one visit
      await addRecord("record_visit", {person: personRef(p), facility, administered_at: at,
        doses: visit.map((d) => ({product: d.product, lot: d.lot, schedule: d.schedule}))},
        {doses: visit});
    const code = form.elements.secret_code ? form.elements.secret_code.value.trim() : "";
    for (const d of doses.filter((x) => !routine(x)))  // the booked (campaign) series: one record a dose
      await addRecord("record_dose", {person: personRef(p), facility, administered_at: at,
        product: d.product, lot: d.lot, dose: d.dose, secret_code: code || null}, {doses: [d]});
    toast(tn("doses_saved", doses.length), "success");
    location.hash = `#person/${encodeURIComponent(p.key)}`;
  }));
}

function registerScreen() {
  if (needsBundle()) return;
  const pack = S.bundle.pack;
  const kind = select([["newborn", t("reg_newborn")], ["pregnant", t("reg_pregnant")],
                       ["walk_in", t("reg_walk_in")]], "newborn");
  const extra = h("div", {});
  const button = h("button", {type: "submit"}, t("save"));
  // the smallest places first: people live in a village or ward, not in a state
  const places = [...(pack.places || [])].sort((a, b) => (b.level || 0) - (a.level || 0));
  const form = h("form", {},
    field("kind", t("who"), kind),
    field("name", t("name"), input({required: true, autocomplete: "off"})),
    field("birth_date", t("birth_date"), input({type: "date", required: true, max: today()})),
    field("gender", t("gender"), select((pack.genders || []).map((g) => [g.code, label(g.label, g.code)]))),
    field("mobile", t("mobile"), input({type: "tel", required: true, autocomplete: "off"})),
    places.length ? field("location", t("place"), select(places.map((p) => [p.code, label(p.name, p.code)]))) : null,
    extra, button);
  const draw = () => {
    extra.replaceChildren();
    if (kind.value === "newborn") {
      form.elements.birth_date.value = form.elements.birth_date.value || today();
      extra.append(field("guardian_name", t("guardian_name"), input({required: true})),
        field("guardian_relation", t("guardian_relation"), select([["mother", t("rel_mother")],
          ["father", t("rel_father")], ["other", t("rel_other")]], "mother")));
    } else if (kind.value === "pregnant") {
      extra.append(field("lmp", t("lmp"), input({type: "date", max: today()})),
                   field("edd", t("edd"), input({type: "date"})));
    }
    extra.append(field("id_type", t("id_type"), select([["", t("none")],
      ...(pack.id_types || []).map((i) => [i.code, label(i.label, i.code)])], "")),
      field("id_number", t("id_number"), input({autocomplete: "off"})));
  };
  kind.addEventListener("change", draw);
  draw();
  form.addEventListener("submit", busy(button, async () => {
    const v = formValues(form);
    const payload = {name: v.name.trim(), birth_date: v.birth_date, gender: v.gender,
                     mobile: v.mobile.trim(), location: v.location || null,
                     facility: (S.bundle.staff.facilities || [])[0] || null};
    if (v.guardian_name) Object.assign(payload, {guardian_name: v.guardian_name.trim(),
                                                 guardian_relation: v.guardian_relation});
    if (v.id_type && v.id_number) Object.assign(payload, {id_type: v.id_type, id_number: v.id_number.trim()});
    if (v.kind === "pregnant") payload.pregnancy = {registered_on: today(), lmp: v.lmp || null, edd: v.edd || null};
    const record = await addRecord("register_person", payload);
    toast(t("registered"), "success");
    location.hash = `#person/${encodeURIComponent(`client:${record.client_id}`)}`;
  }));
  screen(t("register"), form, back());
}

function aefiScreen(key) {
  if (needsBundle()) return;
  const p = findPerson(key);
  if (!p) return home();
  const choices = [
    ...localDoses(p).map((d) => [`client:${d.record.client_id}`, `${d.date} · ${d.product} · ${d.lot}`]),
    ...(p.doses || []).filter((d) => d.dose_id).map((d) => [`id:${d.dose_id}`, `${d.date} · ${d.product}`])];
  const button = h("button", {type: "submit"}, t("save"));
  const form = h("form", {},
    field("dose", t("which_dose"), select(choices, choices.length ? choices[0][0] : "")),
    field("onset_at", t("onset"), input({type: "datetime-local", required: true,
                                         value: new Date(Date.now() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16)})),
    field("seriousness", t("seriousness"), select([["non_serious", t("non_serious")],
      ["serious", t("serious")], ["death", t("death")]], "non_serious")),
    field("outcome", t("outcome"), select([["recovering", t("recovering")], ["recovered", t("recovered")],
      ["not_recovered", t("not_recovered")], ["unknown", t("unknown")]], "recovering")),
    field("description", t("description"), h("textarea", {required: true, rows: 3})),
    button);
  form.addEventListener("submit", busy(button, async () => {
    const v = formValues(form);
    if (!v.dose) return toast(t("choose_dose"), "error");
    const payload = {onset_at: new Date(v.onset_at).toISOString(), seriousness: v.seriousness,
                     outcome: v.outcome, symptoms: [v.description.trim()], notes: ""};
    if (v.dose.startsWith("client:")) payload.dose = v.dose;
    else payload.dose_id = Number(v.dose.slice(3));
    await addRecord("report_aefi", payload, {person: p.key});
    toast(t("aefi_saved"), "success");
    location.hash = `#person/${encodeURIComponent(p.key)}`;
  }));
  screen(t("aefi"), h("p", {}, p.name), form, back());
}

function tallyScreen() {
  const day = new Date().toDateString();
  const todays = S.records.filter((r) => new Date(r.recorded_at).toDateString() === day);
  const count = (kind) => todays.filter((r) => r.kind === kind).length;
  const byProduct = {};
  let doses = 0;
  for (const r of todays) if (["record_visit", "record_dose"].includes(r.kind)) for (const d of r.local.doses) {
    byProduct[d.product] = (byProduct[d.product] || 0) + 1;
    doses += 1;
  }
  screen(t("tally"), h("ul", {class: "list tally"},
    h("li", {id: "tally-people"}, tn("tally_people", count("register_person"))),
    h("li", {id: "tally-doses"}, tn("tally_doses", doses)),
    h("li", {}, tn("tally_checkins", count("check_in"))),
    h("li", {}, tn("tally_aefi", count("report_aefi")))),
    h("table", {}, h("tbody", {}, Object.entries(byProduct).sort().map(([code, n]) =>
      h("tr", {}, h("th", {scope: "row"}, code), h("td", {}, String(n)))))),
    back());
}

function verifyScreen() {
  const out = h("div", {id: "verdict", "aria-live": "polite"});
  const button = h("button", {type: "submit"}, t("check"));
  const form = h("form", {}, h("p", {}, t("verify_hint")),
    field("qr", t("qr_text"), h("textarea", {rows: 4, required: true, spellcheck: "false"})), button);
  form.addEventListener("submit", busy(button, async () => {
    let result;
    try {
      result = await verifyText(formValues(form).qr, (S.bundle && S.bundle.trust) || {});
    } catch (e) {
      result = {verdict: "unreadable", code: "damaged", doses: []};
    }
    toast("");
    const dose = (d) => [d.date, d.vaccine, d.dose && d.total ? t("dose_of", {dose: d.dose, total: d.total})
      : d.dose ? t("dose_only", {dose: d.dose}) : "", d.lot].filter(Boolean).join(" · ");
    out.replaceChildren(
      h("p", {class: `verdict ${result.ok ? "ok" : "bad"}`, "data-verdict": result.verdict}, t(`verdict_${result.verdict}`)),
      h("p", {class: "reason"}, t(result.code)),
      result.format ? h("p", {class: "format"}, t(`fmt_${result.format}`)) : null,
      result.signed ? h("p", {class: "holder"}, t("holder", {name: result.name}),
                        result.birth ? ` · ${t("born", {date: result.birth})}` : "") : null,
      result.signed && result.issuer ? h("p", {}, t("issuer", {name: result.issuer})) : null,
      result.signed ? h("ul", {class: "list doses"}, result.doses.map((d) => h("li", {}, dose(d)))) : null);
  }));
  screen(t("verify"), form, out, back());
}

// --- sync ----------------------------------------------------------------------------------
async function withToken(run) {
  try {
    return await run(S.session.token);
  } catch (e) {
    if (e instanceof api.SignedOut) { toast(t("sign_in_again"), "error"); signInScreen(true); return null; }
    throw e;
  }
}

export async function syncNow() {
  const pending = S.records.filter((r) => r.status === "pending");
  for (let i = 0; i < pending.length; i += BATCH) {
    // A batch cut in the middle stays pending and is sent whole again: the server answers
    // "duplicate" (with its first answer) for what it had already recorded.
    const batch = pending.slice(i, i + BATCH);
    const answer = await api.sync(S.session.token, S.deviceId, batch.map((r) => ({
      client_id: r.client_id, kind: r.kind, recorded_at: r.recorded_at, payload: r.payload})));
    const byId = new Map(answer.results.map((res) => [res.client_id, res]));
    for (const r of batch) {
      const res = byId.get(r.client_id);
      if (!res) continue;
      r.status = res.status;
      r.result = res;
      await saveRecord(r);
    }
  }
  const got = await api.outcomes(S.session.token, S.deviceId, S.cursor);
  for (const o of got.outcomes || []) {
    const r = S.records.find((x) => x.client_id === o.client_id);
    if (r) { r.review = o; await saveRecord(r); }
  }
  if (got.cursor !== undefined) { S.cursor = got.cursor; await store.put("cursor", S.cursor); }
  await store.setMeta("last_sync_at", Date.now());
}

function recordLine(r) {
  const what = r.local && r.local.doses ? r.local.doses.map((d) => d.product).join(", ")
    : r.kind === "register_person" ? r.payload.name : (r.payload.person || "");
  const result = r.result || {};
  return h("li", {class: `rec ${r.status}`, "data-client-id": r.client_id},
    h("strong", {}, t(`k_${r.kind}`)), " · ", what, " · ",
    h("span", {class: "rstatus"}, t(`r_${r.status}`)),
    result.reference_id ? ` · ${result.reference_id}` : "",
    result.message ? h("span", {class: "msg"}, ` · ${result.message}`) : "",
    r.review ? h("span", {class: "review"}, ` · ${t(`review_${r.review.decision}`)}${r.review.note ? ` (${r.review.note})` : ""}`) : "");
}

async function syncScreen() {
  const last = await store.getMeta("last_sync_at");
  const button = h("button", {type: "button", id: "sync-now"}, t("sync_now"));
  button.addEventListener("click", busy(button, async () => {
    try {
      const done = await withToken(async () => { await syncNow(); return true; });
      if (done) { await syncScreen(); toast(t("sync_done"), "success"); }
    } catch (e) {
      if (e instanceof api.Offline) { await syncScreen(); toast(t("sync_cut"), "error"); } else throw e;
    }
  }));
  const list = [...S.records].reverse().slice(0, 300).map(recordLine);
  screen(t("sync"), h("p", {id: "last-sync"}, t("last_sync", {when: when(last)})),
    h("p", {id: "waiting"}, tn("waiting", pendingCount())), button,
    h("ul", {class: "list records", id: "records"}, list), back());
}

async function signOut() {
  const waiting = store.unlocked() ? pendingCount() : 0;
  if (waiting && !confirm(tn("sign_out_confirm", waiting))) return;
  await store.wipe();
  Object.assign(S, {session: null, bundle: null, records: [], cursor: null});
  toast(t("signed_out"), "success");
  location.hash = "";
  signInScreen();
}

// --- language -------------------------------------------------------------------------------
function languageSwitch() {
  const codes = config.locales.split(" ");
  if (codes.length < 2) return null;
  const names = JSON.parse(config.localeNames);
  const choice = select(codes.map((c) => [c, names[c] || c]), locale());
  choice.id = "language";
  choice.addEventListener("change", async () => {
    await store.setMeta("locale", choice.value);
    await loadWords(config.i18n, choice.value);
    api.configure(config.api, choice.value);
    showNet();
    route();
  });
  return h("p", {class: "field lang"}, h("label", {for: "language"}, t("language")), choice);
}

function chooseLocale(saved) {
  const codes = config.locales.split(" ");
  if (saved && codes.includes(saved)) return saved;
  for (const wanted of navigator.languages || []) {
    const base = wanted.split("-")[0];
    const hit = codes.find((c) => c === wanted.replace("-", "_") || c === base);
    if (hit) return hit;
  }
  return config.defaultLocale;
}

// --- routing ---------------------------------------------------------------------------------
async function route() {
  if (!(await store.hasStore())) return signInScreen();
  if (!store.unlocked()) return unlockScreen();
  const [name, arg] = location.hash.slice(1).split("/");
  const key = arg ? decodeURIComponent(arg) : "";
  const screens = {prepare: prepareScreen, find: findScreen, register: registerScreen,
                   person: () => personScreen(key), doses: () => dosesScreen(key),
                   aefi: () => aefiScreen(key), tally: tallyScreen, verify: verifyScreen,
                   sync: syncScreen};
  return (screens[name] || home)();
}
window.addEventListener("hashchange", () => route().catch(showError));

async function boot() {
  await store.open();
  const chosen = chooseLocale(await store.getMeta("locale"));
  await loadWords(config.i18n, chosen);
  api.configure(config.api, chosen);
  showNet();
  if ("serviceWorker" in navigator)
    navigator.serviceWorker.register(config.sw, {scope: config.i18n.replace(/i18n\/$/, "")})
      .catch((e) => console.warn("service worker", e));
  const wiped = await store.wipeIfStale();
  if (wiped) toast(tn("wiped_old", wiped), "error");
  await route();
  document.body.dataset.ready = "1";
}
boot().catch(showError);
