// graphql-http's server audit (the GraphQL over HTTP spec's MUST and SHOULD rules) against
// a running server, every request carrying the key. Used by tests/graphql_over_http.rs.
// Prints one line per result ("ok", "notice", "warn" or "error", the rule, the reason)
// and a closing JSON line with the counts.
//
//   node tests/js/audit.mjs URL KEY
import { auditServer } from 'graphql-http';

const [url, key] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${key}`);
  return fetch(input, { ...init, headers });
};
const results = await auditServer({ url: `${url}/graphql`, fetchFn });
const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const result of results) {
  counts[result.status] += 1;
  const reason = result.status === 'ok' ? '' : ` (${result.reason})`;
  console.log(`${result.status} ${result.id} ${result.name}${reason}`);
}
console.log(JSON.stringify(counts));
