// The app's words: /field/i18n/<locale>.json (rendered by the server from the Babel
// catalogs). t("key", {name: ...}) and tn("key", count, {...}) for plural forms.
let words = {messages: {}, plural: [], dir: "ltr", locale: "en"};

export async function loadWords(base, locale) {
  const response = await fetch(`${base}${locale}.json`);
  if (!response.ok) throw new Error(`words ${locale}: ${response.status}`);
  words = await response.json();
  document.documentElement.lang = locale.replace("_", "-");
  document.documentElement.dir = words.dir;
  return words;
}

export function locale() { return words.locale; }

function fill(text, values) {
  return String(text).replace(/%\((\w+)\)[sd]/g, (_m, name) =>
    values && name in values ? String(values[name]) : "");
}

export function t(key, values) {
  const text = words.messages[key];
  return fill(typeof text === "string" ? text : key, values);
}

export function tn(key, count, values) {
  const forms = words.messages[key];
  if (!Array.isArray(forms)) return fill(forms || key, {num: count, ...values});
  const n = Math.abs(Math.trunc(count));
  const index = words.plural[n < 200 ? n : 100 + (n % 100)] || 0;
  return fill(forms[index] ?? forms[forms.length - 1], {num: count, ...values});
}
