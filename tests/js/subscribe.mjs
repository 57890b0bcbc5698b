// Subscribes with the graphql-ws client from npm and prints each event as one JSON line.
// Usage: node tests/js/subscribe.mjs <ws-url> <api-key> <count>
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, key, count] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${key}` },
  lazy: false,
  retryAttempts: 0,
  on: { connected: () => console.log(JSON.stringify({ connected: true })) },
});

let seen = 0;
const query = 'subscription { orderStatusChanged { order { externalId } previousStatus status } }';
client.subscribe(
  { query },
  {
    next: (event) => {
      console.log(JSON.stringify(event));
      seen += 1;
      if (seen >= Number(count)) {
        client.dispose();
        process.exit(0);
      }
    },
    error: (err) => {
      console.error(JSON.stringify(err instanceof Error ? err.message : err));
      process.exit(1);
    },
    complete: () => process.exit(seen >= Number(count) ? 0 : 1),
  },
);
setTimeout(() => { console.error('timed out'); process.exit(2); }, 30000);
