// The server: the staff sign-in and the field sync API (/api/v1/field/...).
export class Offline extends Error {}
export class SignedOut extends Error {}
export class Refused extends Error {
  constructor(message, body) { super(message); this.body = body; }
}

let base = "/api/v1/";
let language = "en";
export function configure(apiBase, locale) { base = apiBase; language = locale; }

async function call(method, path, {token, body} = {}) {
  const headers = {"Accept": "application/json", "Accept-Language": language};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(base + path, {method, headers, cache: "no-store",
                                         body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (e) {
    throw new Offline(String(e));
  }
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (response.status === 401 && token) throw new SignedOut((data && data.detail) || "401");
  if (!response.ok) throw new Refused((data && (data.detail || data.title)) || response.statusText, data);
  return data;
}

export const signIn = (username, password) =>
  call("POST", "staff/sign-in", {body: {username, password}});
export const prepare = (token, days) => call("GET", `field/prepare?days=${days}`, {token});
export const sync = (token, deviceId, records) =>
  call("POST", "field/sync", {token, body: {device_id: deviceId, records}});
export const outcomes = (token, deviceId, since) =>
  call("GET", `field/outcomes?device_id=${encodeURIComponent(deviceId)}` +
       (since ? `&since=${encodeURIComponent(since)}` : ""), {token});
