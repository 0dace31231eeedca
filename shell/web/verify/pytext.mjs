// How the Python verifier writes values in its messages (str repr, list repr, type names),
// so that a failed bundle gets the same reason from both verifiers.

// Python's str.isprintable() is false for these general categories (but true for ' ').
const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

function escapeChar(ch, quote) {
  if (ch === quote || ch === '\\') return '\\' + ch;
  if (ch === '\t') return '\\t';
  if (ch === '\n') return '\\n';
  if (ch === '\r') return '\\r';
  const code = ch.codePointAt(0);
  if (code < 0x20 || code === 0x7f) return '\\x' + code.toString(16).padStart(2, '0');
  if (code < 0x7f || ch === ' ' || !NOT_PRINTABLE.test(ch)) return ch;
  if (code <= 0xff) return '\\x' + code.toString(16).padStart(2, '0');
  if (code <= 0xffff) return '\\u' + code.toString(16).padStart(4, '0');
  return '\\U' + code.toString(16).padStart(8, '0');
}

/** Python's repr() of a str. */
export function pyStrRepr(text) {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) out += escapeChar(ch, quote);
  return out + quote;
}

/** Python's repr() of the values that appear in messages: str, int, None, bool, lists. */
export function pyRepr(value) {
  if (typeof value === 'string') return pyStrRepr(value);
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (Array.isArray(value)) return '[' + value.map(pyRepr).join(', ') + ']';
  return String(value);
}

/** Python's type(value).__name__ for a value of the CE/JSON model. */
export function pyTypeName(value) {
  if (value === null || value === undefined) return 'NoneType';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'string') return 'str';
  if (value instanceof Uint8Array) return 'bytes';
  if (Array.isArray(value)) return 'list';
  return 'dict';
}

/** Python's len() of a str: code points, not UTF-16 units. */
export function pyLen(text) {
  return Array.from(text).length;
}

/** Python's sorted() of strs: code point order (JS's default sort is UTF-16 unit order). */
export function pySorted(texts) {
  const points = (t) => Array.from(t, (ch) => ch.codePointAt(0));
  return [...texts].sort((a, b) => {
    const pa = points(a);
    const pb = points(b);
    for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
      if (pa[i] !== pb[i]) return pa[i] - pb[i];
    }
    return pa.length - pb.length;
  });
}
