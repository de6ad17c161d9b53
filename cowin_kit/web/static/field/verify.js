// Certificate check offline: SMART Health Cards (shc:/...), a JWS signed with ES256
// (ECDSA P-256), checked with WebCrypto against the issuer keys (JWKS) of the cached
// trust list. Answers {ok, code, issuer, name, doses}.

function b64url(text) {
  const s = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(s + "===".slice((s.length + 3) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** shc:/5676290952432060346029... (or the chunked shc:/1/2/...) -> the JWS text. */
export function shcToJws(text) {
  const body = text.trim().replace(/^shc:\//i, "").split("/").pop();
  if (!/^(\d\d)+$/.test(body)) throw new Error("damaged");
  let jws = "";
  for (let i = 0; i < body.length; i += 2) jws += String.fromCharCode(Number(body.slice(i, i + 2)) + 45);
  return jws;
}

async function inflateRaw(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Every EC P-256 JWK anywhere in the trust list (its JWKS, whatever it is nested in). */
export function trustedKeys(trust) {
  const found = [];
  const walk = (node) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      if (node.kty === "EC" && node.crv === "P-256" && node.x && node.y) found.push(node);
      else Object.values(node).forEach(walk);
    }
  };
  walk(trust);
  return found;
}

function summary(payload) {
  const bundle = ((payload.vc || {}).credentialSubject || {}).fhirBundle || {};
  let name = "", birth = "";
  const doses = [];
  for (const entry of bundle.entry || []) {
    const r = entry.resource || {};
    if (r.resourceType === "Patient") {
      const n = (r.name || [{}])[0];
      name = [...(n.given || []), n.family || ""].join(" ").trim();
      birth = r.birthDate || "";
    } else if (r.resourceType === "Immunization") {
      const code = ((r.vaccineCode || {}).coding || [{}])[0];
      doses.push({date: r.occurrenceDateTime || "", vaccine: code.display || code.code || "",
                  lot: r.lotNumber || ""});
    }
  }
  return {name, birth, doses};
}

export async function verifyText(text, trust, now = Date.now()) {
  const clean = (text || "").trim();
  if (/^HC1:/i.test(clean)) return {ok: false, code: "online_only"};
  if (!/^shc:\//i.test(clean)) return {ok: false, code: "unknown_format"};
  let header, payload, signed, signature, parts;
  try {
    parts = shcToJws(clean).split(".");
    if (parts.length !== 3) throw new Error("parts");
    header = JSON.parse(new TextDecoder().decode(b64url(parts[0])));
    let body = b64url(parts[1]);
    if (header.zip === "DEF") body = await inflateRaw(body);
    payload = JSON.parse(new TextDecoder().decode(body));
    signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
    signature = b64url(parts[2]);
  } catch (e) {
    return {ok: false, code: "damaged"};
  }
  if (header.alg !== "ES256") return {ok: false, code: "bad_signature"};
  const keys = trustedKeys(trust).filter((k) => k.kid === header.kid);
  if (!keys.length) return {ok: false, code: "unknown_key"};
  for (const jwk of keys) {
    const publicKey = await crypto.subtle.importKey(
      "jwk", {kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, ext: true},
      {name: "ECDSA", namedCurve: "P-256"}, false, ["verify"]);
    const good = await crypto.subtle.verify({name: "ECDSA", hash: "SHA-256"}, publicKey,
                                            signature, signed);
    if (good) {
      if (payload.exp && payload.exp * 1000 < now) return {ok: false, code: "expired"};
      return {ok: true, code: "valid", issuer: payload.iss || "", ...summary(payload)};
    }
  }
  return {ok: false, code: "bad_signature"};
}
