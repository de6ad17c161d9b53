// Certificate check offline, against the trust list of the prepare bundle (see
// certificates.offline_trust on the server), as the kit's own verifier does it:
//  - EU DCC (HC1:): Base45, zlib, COSE_Sign1 (CBOR), ES256 (raw r||s) or PS256 signature
//    over the Sig_structure with the document signer's key (matched by kid), what the
//    signer may sign (its DCC key usages), its validity when the DCC was issued, the CWT
//    iat/exp, revocation of the UVCI;
//  - SMART Health Card (shc:/): JWS, raw DEFLATE, ES256 with the issuer's JWKS, issuer,
//    nbf/exp, revocation of vc.rid;
//  - W3C credential (VC1:): Base45, zlib, JSON; VC 2.0 with an eddsa-jcs-2022 Data
//    Integrity proof (Ed25519 over the SHA-256 of the RFC 8785 forms of the proof options
//    and of the credential), or the older form (Ed25519 detached JWS over the sorted-key
//    JSON of the credential without proof.jws); issuer, validFrom/validUntil (or
//    issuanceDate/expirationDate), revocation of the evidence's certificateId.
// Answers {ok, verdict: valid|invalid|unreadable, code, format, issuer, signed, name,
// birth, doses: [{date, vaccine, dose, total, lot}]}.

const subtle = crypto.subtle;
const bytesOf = (text) => new TextEncoder().encode(text);
const textOf = (bytes) => new TextDecoder("utf-8", {fatal: true}).decode(bytes);

function b64(text, url = true) {
  let s = String(text);
  if (url) s = s.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(s + "===".slice((s.length + 3) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
const toB64 = (bytes) => btoa(String.fromCharCode(...bytes));

const B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
/** Base45 (RFC 9285) to bytes. */
export function b45decode(text) {
  const out = [];
  for (let i = 0; i < text.length; i += 3) {
    const v = Array.from(text.slice(i, i + 3), (c) => B45.indexOf(c));
    if (v.length < 2 || v.includes(-1)) throw new Error("base45");
    const n = v[0] + v[1] * 45 + (v.length === 3 ? v[2] * 2025 : 0);
    if (v.length === 3) {
      if (n > 0xffff) throw new Error("base45");
      out.push(n >> 8, n & 255);
    } else {
      if (n > 0xff) throw new Error("base45");
      out.push(n);
    }
  }
  return Uint8Array.from(out);
}

async function inflate(bytes, format) {  // "deflate" (zlib) or "deflate-raw"
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream(format));
  const out = new Uint8Array(await new Response(stream).arrayBuffer());
  if (out.length > 1 << 20) throw new Error("too large");
  return out;
}

// --- CBOR (RFC 8949): what COSE and CWT need -------------------------------------------
/** Decodes one CBOR item: byte strings as Uint8Array, maps as objects keyed by the text of
 * their keys (1, "-260", ...), tags as their content. Definite lengths only. */
export function cborDecode(bytes) {
  let pos = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (n) => { if (pos + n > bytes.length) throw new Error("cbor"); };
  function length(info) {
    if (info < 24) return info;
    const size = {24: 1, 25: 2, 26: 4, 27: 8}[info];
    if (!size) throw new Error("cbor");
    need(size);
    let n = 0;
    for (let i = 0; i < size; i++) n = n * 256 + bytes[pos + i];
    pos += size;
    return n;
  }
  function item(depth) {
    if (depth > 16) throw new Error("cbor");
    need(1);
    const first = bytes[pos++], major = first >> 5, info = first & 31;
    if (major === 7) {
      const simple = {20: false, 21: true, 22: null, 23: undefined};
      if (info in simple) return simple[info];
      const size = {25: 2, 26: 4, 27: 8}[info];
      if (!size) throw new Error("cbor");
      need(size);
      const at = pos;
      pos += size;
      if (size === 4) return view.getFloat32(at);
      if (size === 8) return view.getFloat64(at);
      const h = view.getUint16(at), e = (h >> 10) & 31, m = h & 1023;
      const value = e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1024 + m) * 2 ** (e - 25);
      return h & 0x8000 ? -value : value;
    }
    const n = length(info);
    if (major === 0) return n;
    if (major === 1) return -1 - n;
    if (major === 2 || major === 3) {
      need(n);
      const part = bytes.subarray(pos, pos + n);
      pos += n;
      return major === 2 ? part : textOf(part);
    }
    if (major === 4) return Array.from({length: n}, () => item(depth + 1));
    if (major === 5) {
      const map = {};
      for (let i = 0; i < n; i++) { const key = item(depth + 1); map[String(key)] = item(depth + 1); }
      return map;
    }
    return item(depth + 1);  // major 6: a tag (COSE_Sign1 18, CWT 61, dates): its content
  }
  const value = item(0);
  if (pos !== bytes.length) throw new Error("cbor");
  return value;
}

function cborHead(major, n) {
  const m = major << 5;
  if (n < 24) return [m | n];
  if (n < 0x100) return [m | 24, n];
  if (n < 0x10000) return [m | 25, n >> 8, n & 255];
  return [m | 26, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** The COSE Sig_structure ["Signature1", protected, h'', payload] as CBOR. */
export function sigStructure(protectedBytes, payload) {
  const parts = [[0x84], cborHead(3, 10), bytesOf("Signature1"), cborHead(2, protectedBytes.length),
                 protectedBytes, [0x40], cborHead(2, payload.length), payload];
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

// --- verdicts --------------------------------------------------------------------------
const UNREADABLE = new Set(["damaged", "unknown_format"]);
function answer(code, extra = {}) {
  return {ok: code === "valid", verdict: code === "valid" ? "valid" : UNREADABLE.has(code) ? "unreadable" : "invalid",
          code, doses: [], ...extra};
}
/** The first failing check after a good signature (times, revocation), else valid. */
function judge(now, {from, until, ids, revoked}) {
  if (until !== null && until !== undefined && until * 1000 < now) return "expired";
  if (from !== null && from !== undefined && from * 1000 > now) return "not_yet_valid";
  const gone = new Set(revoked || []);
  if (ids.some((id) => id && gone.has(id))) return "revoked";
  return "valid";
}
const seconds = (iso) => {
  const ms = typeof iso === "string" ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? null : ms / 1000;
};

// --- EU DCC ----------------------------------------------------------------------------
async function verifyDcc(text, trust, now) {
  let cose, header, claims;
  try {
    cose = cborDecode(await inflate(b45decode(text.slice(4)), "deflate"));
    if (!Array.isArray(cose) || cose.length !== 4 || !(cose[0] instanceof Uint8Array) ||
        !(cose[2] instanceof Uint8Array) || !(cose[3] instanceof Uint8Array)) throw new Error("cose");
    header = cose[0].length ? cborDecode(cose[0]) : {};
    claims = cborDecode(cose[2]);
  } catch (e) {
    return answer("damaged", {format: "dcc"});
  }
  const unprotected = cose[1] && typeof cose[1] === "object" ? cose[1] : {};
  const alg = "1" in header ? header[1] : unprotected[1];
  const kid = "4" in header ? header[4] : unprotected[4];
  const dcc = ((claims && claims[-260]) || {})[1];
  if (!dcc || typeof dcc !== "object") return answer("damaged", {format: "dcc"});
  const signers = (trust.dcc || []).filter((s) => kid instanceof Uint8Array && s.kid === toB64(kid) && s.spki);
  if (!signers.length) return answer("unknown_key", {format: "dcc"});
  const tbs = sigStructure(cose[0], cose[2]);
  let signer = null;
  for (const s of signers) {
    const params = alg === -7 && s.alg === "ES256" ? [{name: "ECDSA", namedCurve: "P-256"}, {name: "ECDSA", hash: "SHA-256"}]
      : alg === -37 && s.alg === "PS256" ? [{name: "RSA-PSS", hash: "SHA-256"}, {name: "RSA-PSS", saltLength: 32}] : null;
    if (!params || (alg === -7 && cose[3].length !== 64)) continue;
    const key = await subtle.importKey("spki", b64(s.spki, false), params[0], false, ["verify"]);
    if (await subtle.verify(params[1], key, cose[3], tbs)) { signer = s; break; }
  }
  if (!signer) return answer("bad_signature", {format: "dcc"});
  const nam = dcc.nam || {};
  const vaccinations = Array.isArray(dcc.v) ? dcc.v : [];
  const found = {format: "dcc", signed: true, issuer: String(claims[1] || ""),
                 name: [nam.gn, nam.fn].filter(Boolean).join(" "), birth: String(dcc.dob || ""),
                 doses: vaccinations.map((v) => ({date: String(v.dt || ""), vaccine: String(v.mp || ""),
                                                  dose: v.dn, total: v.sd, lot: ""}))};
  const kinds = ["v", "t", "r"].filter((k) => Array.isArray(dcc[k]) && dcc[k].length);
  const allowed = signer.entry_types;
  if (allowed && (!kinds.length || kinds.some((k) => !allowed.includes(k)))) return answer("not_allowed", found);
  const iat = claims[6], exp = claims[4];
  if (typeof iat !== "number" || typeof exp !== "number") return answer("damaged", found);
  if ((signer.not_before && iat < signer.not_before) || (signer.not_after && iat > signer.not_after))
    return answer("not_allowed", found);
  const ids = [];
  for (const k of kinds) for (const entry of dcc[k])
    if (entry && typeof entry.ci === "string") ids.push(entry.ci, entry.ci.split("#")[0]);
  return answer(judge(now, {from: iat, until: exp, ids, revoked: trust.revoked}), found);
}

// --- SMART Health Cards ----------------------------------------------------------------
/** shc:/5676290952432060346029... (or the chunked shc:/1/2/...) -> the JWS text. */
export function shcToJws(text) {
  const body = text.trim().replace(/^shc:\//i, "").split("/").pop();
  if (!/^(\d\d)+$/.test(body)) throw new Error("damaged");
  let jws = "";
  for (let i = 0; i < body.length; i += 2) jws += String.fromCharCode(Number(body.slice(i, i + 2)) + 45);
  return jws;
}

/** Every EC P-256 JWK of the trust list's SMART Health Card JWKS. */
export function trustedKeys(trust) {
  const keys = ((trust && trust.shc_jwks) || {}).keys || [];
  return keys.filter((k) => k.kty === "EC" && k.crv === "P-256" && k.x && k.y);
}

function shcSummary(payload) {
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
      const protocol = (r.protocolApplied || [{}])[0] || {};
      doses.push({date: String(r.occurrenceDateTime || "").slice(0, 10), vaccine: code.display || code.code || "",
                  lot: r.lotNumber || "", dose: protocol.doseNumberPositiveInt, total: protocol.seriesDosesPositiveInt});
    }
  }
  return {name, birth, doses};
}

async function verifyShc(text, trust, now) {
  let header, payload, signed, signature;
  try {
    const parts = shcToJws(text).split(".");
    if (parts.length !== 3) throw new Error("parts");
    header = JSON.parse(textOf(b64(parts[0])));
    let body = b64(parts[1]);
    if (header.zip === "DEF") body = await inflate(body, "deflate-raw");
    payload = JSON.parse(textOf(body));
    signed = bytesOf(`${parts[0]}.${parts[1]}`);
    signature = b64(parts[2]);
  } catch (e) {
    return answer("damaged", {format: "shc"});
  }
  if (header.alg !== "ES256" || signature.length !== 64) return answer("bad_signature", {format: "shc"});
  const keys = trustedKeys(trust).filter((k) => k.kid === header.kid);
  if (!keys.length) return answer("unknown_key", {format: "shc"});
  for (const jwk of keys) {
    const key = await subtle.importKey("jwk", {kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, ext: true},
                                       {name: "ECDSA", namedCurve: "P-256"}, false, ["verify"]);
    if (!(await subtle.verify({name: "ECDSA", hash: "SHA-256"}, key, signature, signed))) continue;
    const found = {format: "shc", signed: true, issuer: String(payload.iss || ""), ...shcSummary(payload)};
    if (trust.issuer && payload.iss !== trust.issuer) return answer("issuer_mismatch", found);
    const rid = String((payload.vc || {}).rid || "");
    return answer(judge(now, {from: payload.nbf, until: payload.exp, ids: [rid, rid.split(".")[0]],
                              revoked: trust.revoked}), found);
  }
  return answer("bad_signature", {format: "shc"});
}

// --- W3C credential ----------------------------------------------------------------------
function byCodePoint(a, b) {
  const x = Array.from(a, (c) => c.codePointAt(0)), y = Array.from(b, (c) => c.codePointAt(0));
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}
/** JSON with keys sorted by code point, "," and ":" without spaces, UTF-8 as itself: the
 * older credential form's canonical_json (certificates/formats/vc_jws2020.py). */
export function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object")
    return `{${Object.keys(value).sort(byCodePoint).map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  return JSON.stringify(value);
}

/** RFC 8785 (JCS): members sorted by UTF-16 code units (what Array.prototype.sort does),
 * strings and numbers as JSON.stringify writes them: the eddsa-jcs-2022 canonical form
 * (certificates/formats/jcs.py). */
export function jcs(value) {
  if (Array.isArray(value)) return `[${value.map(jcs).join(",")}]`;
  if (value && typeof value === "object")
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${jcs(value[k])}`).join(",")}}`;
  return JSON.stringify(value);
}

const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/** Multibase base58btc ("z...") to bytes. */
export function multibaseDecode(text) {
  if (typeof text !== "string" || text[0] !== "z") throw new Error("multibase");
  let number = 0n;
  for (const c of text.slice(1)) {
    const digit = B58.indexOf(c);
    if (digit < 0) throw new Error("base58");
    number = number * 58n + BigInt(digit);
  }
  const out = [];
  while (number > 0n) { out.unshift(Number(number % 256n)); number /= 256n; }
  const zeros = text.slice(1).match(/^1*/)[0].length;
  return Uint8Array.from([...new Array(zeros).fill(0), ...out]);
}

const sha256 = async (text) => new Uint8Array(await subtle.digest("SHA-256", bytesOf(text)));

/** The bytes an eddsa-jcs-2022 proof signs (certificates/formats/vc.py hash_data). */
async function eddsaJcsData(document, proof) {
  const {proof: _, ...unsecured} = document;
  const {proofValue, ...config} = proof;
  if (config["@context"] !== undefined) {
    const wanted = [].concat(config["@context"]), have = [].concat(unsecured["@context"]);
    if (wanted.some((c, i) => have[i] !== c)) throw new Error("context");
    unsecured["@context"] = config["@context"];
  } else if (unsecured["@context"] !== undefined) config["@context"] = unsecured["@context"];
  const [a, b] = await Promise.all([sha256(jcs(config)), sha256(jcs(unsecured))]);
  const out = new Uint8Array(64);
  out.set(a, 0);
  out.set(b, 32);
  return out;
}

// A VC 2.0 credential with an eddsa-jcs-2022 Data Integrity proof, or the older form
// (VC 1.1, Ed25519 detached JWS over the sorted-key JSON without proof.jws).
async function verifyVc(text, trust, now) {
  let document, signature, input, method;
  try {
    document = JSON.parse(textOf(await inflate(b45decode(text.slice(4)), "deflate")));
    const proof = document.proof || {};
    if (proof.type === "DataIntegrityProof") {
      if (proof.cryptosuite !== "eddsa-jcs-2022" || proof.proofPurpose !== "assertionMethod")
        return answer("bad_signature", {format: "vc"});
      signature = multibaseDecode(proof.proofValue);
      input = await eddsaJcsData(document, proof);
      method = String(proof.verificationMethod || "");
    } else {
      const parts = String(proof.jws).split(".");
      if (parts.length !== 3 || parts[1] !== "") throw new Error("jws");
      const header = JSON.parse(textOf(b64(parts[0])));
      signature = b64(parts[2]);
      if (header.alg !== "EdDSA" || header.b64 !== false || !(header.crit || []).includes("b64"))
        return answer("bad_signature", {format: "vc"});
      method = String(proof.verificationMethod || header.kid || "");
      const {jws, ...rest} = proof;
      input = bytesOf(`${parts[0]}.${canonicalJson({...document, proof: rest})}`);
    }
  } catch (e) {
    return answer("damaged", {format: "vc"});
  }
  const fragment = method.split("#").pop();
  const keys = (trust.vc || []).filter((k) => k.publicKeyJwk &&
    (k.id === method || k.thumbprint === method || k.thumbprint === fragment));
  if (!keys.length) return answer("unknown_key", {format: "vc"});
  for (const k of keys) {
    const key = await subtle.importKey("jwk", {kty: "OKP", crv: "Ed25519", x: k.publicKeyJwk.x},
                                       {name: "Ed25519"}, false, ["verify"]);
    if (!(await subtle.verify({name: "Ed25519"}, key, signature, input))) continue;
    const subject = document.credentialSubject || {};
    const evidence = Array.isArray(document.evidence) ? document.evidence : [];
    const issuer = typeof document.issuer === "object" && document.issuer ? document.issuer.id : document.issuer;
    const found = {format: "vc", signed: true, issuer: String(issuer || ""), name: String(subject.name || ""),
                   birth: String(subject.dob || ""),
                   doses: evidence.map((e) => ({date: String(e.date || "").slice(0, 10), vaccine: String(e.vaccine || ""),
                                                dose: e.dose, total: e.totalDoses, lot: String(e.batch || "")}))};
    if (trust.issuer && issuer !== trust.issuer) return answer("issuer_mismatch", found);
    return answer(judge(now, {from: seconds(document.validFrom ?? document.issuanceDate),
                              until: seconds(document.validUntil ?? document.expirationDate),
                              ids: evidence.map((e) => e.certificateId), revoked: trust.revoked}), found);
  }
  return answer("bad_signature", {format: "vc"});
}

export async function verifyText(text, trust, now = Date.now()) {
  const clean = (text || "").trim();
  trust = trust || {};
  if (clean.startsWith("HC1:")) return verifyDcc(clean, trust, now);
  if (/^shc:\//i.test(clean)) return verifyShc(clean, trust, now);
  if (clean.startsWith("VC1:")) return verifyVc(clean, trust, now);
  return answer("unknown_format");
}
