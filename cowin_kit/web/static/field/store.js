// The local store: IndexedDB, every record encrypted with AES-GCM under a key derived
// from the staff member's PIN (PBKDF2-SHA256, random salt). The key lives in memory only.
// Plain (unencrypted) are only: the salt, the iteration count, a check value, the device
// id, the language, the wipe limit and the time of the last contact with the server.
const DB_NAME = "cowin-field";
export const ITERATIONS = 310000;
const CHECK = "cowin-field-check";
export const MAX_PIN_FAILURES = 5;
let db = null;
let key = null;

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export async function open() {
  if (db) return db;
  const r = indexedDB.open(DB_NAME, 1);
  r.onupgradeneeded = () => {
    const d = r.result;
    d.createObjectStore("meta");
    d.createObjectStore("vault");
    d.createObjectStore("records", {autoIncrement: true});
  };
  db = await request(r);
  return db;
}

function store(name, mode = "readonly") {
  return db.transaction(name, mode).objectStore(name);
}

export async function getMeta(name) { await open(); return request(store("meta").get(name)); }
export async function setMeta(name, value) {
  await open();
  return request(store("meta", "readwrite").put(value, name));
}

/** Wipe everything (sign-out, too many wrong PINs, too long without sync). */
export async function wipe() {
  await open();
  const tx = db.transaction(["meta", "vault", "records"], "readwrite");
  const locale = await request(tx.objectStore("meta").get("locale"));
  for (const name of ["meta", "vault", "records"]) tx.objectStore(name).clear();
  if (locale) tx.objectStore("meta").put(locale, "locale");
  await new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error); });
  key = null;
}

/** Wipe when the last contact with the server is older than the pack's limit.
 * Returns the limit in days when it wiped, else 0. */
export async function wipeIfStale(now = Date.now()) {
  const last = await getMeta("last_sync_at");
  const days = await getMeta("wipe_after_days");
  if (last && days && now - last > days * 86400000) { await wipe(); return days; }
  return 0;
}

async function derive(pin, salt, iterations) {
  const base = await crypto.subtle.importKey("raw", new TextEncoder().encode(pin), "PBKDF2",
                                             false, ["deriveKey"]);
  return crypto.subtle.deriveKey({name: "PBKDF2", hash: "SHA-256", salt, iterations}, base,
                                 {name: "AES-GCM", length: 256}, false, ["encrypt", "decrypt"]);
}

async function encrypt(value) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = new TextEncoder().encode(JSON.stringify(value));
  return {iv, ct: await crypto.subtle.encrypt({name: "AES-GCM", iv}, key, data)};
}

async function decrypt(box) {
  const data = await crypto.subtle.decrypt({name: "AES-GCM", iv: box.iv}, key, box.ct);
  return JSON.parse(new TextDecoder().decode(data));
}

export function hasStore() { return getMeta("salt").then(Boolean); }
export function unlocked() { return key !== null; }

export async function setPin(pin) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  key = await derive(pin, salt, ITERATIONS);
  await setMeta("salt", salt);
  await setMeta("iterations", ITERATIONS);
  await setMeta("check", await encrypt(CHECK));
  await setMeta("pin_failures", 0);
  if (!(await getMeta("device_id"))) await setMeta("device_id", crypto.randomUUID());
}

/** true when the PIN opens the store; false for a wrong PIN (counted: after
 * MAX_PIN_FAILURES the store is wiped and "wiped" is returned). */
export async function unlock(pin) {
  const candidate = await derive(pin, await getMeta("salt"), await getMeta("iterations"));
  try {
    const box = await getMeta("check");
    await crypto.subtle.decrypt({name: "AES-GCM", iv: box.iv}, candidate, box.ct);
  } catch (e) {
    const failures = (await getMeta("pin_failures") || 0) + 1;
    if (failures >= MAX_PIN_FAILURES) { await wipe(); return "wiped"; }
    await setMeta("pin_failures", failures);
    return MAX_PIN_FAILURES - failures;
  }
  key = candidate;
  await setMeta("pin_failures", 0);
  return true;
}

export async function put(name, value) {
  const box = await encrypt(value);
  return request(store("vault", "readwrite").put(box, name));
}

export async function get(name) {
  const box = await request(store("vault").get(name));
  return box ? decrypt(box) : null;
}

export async function addRecord(value) {
  const box = await encrypt(value);
  return request(store("records", "readwrite").add(box));
}

export async function saveRecord(id, value) {
  const box = await encrypt(value);
  return request(store("records", "readwrite").put(box, id));
}

export async function records() {
  const [keys, boxes] = await Promise.all([request(store("records").getAllKeys()),
                                           request(store("records").getAll())]);
  const out = [];
  for (let i = 0; i < keys.length; i++) out.push({...(await decrypt(boxes[i])), id: keys[i]});
  return out;
}
