// graphql-js's standard introspection query, with every option GraphiQL and code
// generators turn on, then buildClientSchema on the answer: what GraphiQL's Docs, Apollo
// tooling, GraphQL Code Generator and graphql-inspector do first. Used by
// tests/graphql_js.rs. Prints the schema as SDL.
//
//   node tests/js/introspect.mjs URL KEY
import { buildClientSchema, getIntrospectionQuery, printSchema } from 'graphql';

const [url, key] = process.argv.slice(2);
const query = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
});
const response = await fetch(`${url}/graphql`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
  body: JSON.stringify({ query }),
});
const answer = await response.json();
if (response.status !== 200 || answer.errors) {
  console.error(`introspection refused (${response.status}): ${JSON.stringify(answer)}`);
  process.exit(1);
}
process.stdout.write(printSchema(buildClientSchema(answer.data)));
