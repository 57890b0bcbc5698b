//! `/graphql/ws`: graphql-transport-ws and the legacy graphql-ws. Tally reads
//! `connection_init` itself before the protocol handler sees it, so it can answer with
//! the protocol's close codes: 4408 when no init arrives in time (`Limits::ws_init_timeout`), 4401 for a missing or
//! bad key. Every operation a client starts passes the same checks as over HTTP first
//! (`Gate`). Outgoing messages pass through one forwarder that also sends keep-alives,
//! closes with 4008 a subscriber that fell too far behind, and with 4403 a connection
//! whose key was revoked since it connected.
use std::str::FromStr;
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols};
use async_graphql::parser::types::OperationType;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;

use crate::domain::auth;
use crate::domain::error::DomainError;
use crate::error::AppError;
use crate::graphql::exec;
use crate::http::caller::{Caller, bearer_token};
use crate::http::state::AppState;

/// How often the server sends a keep-alive (`ping` or legacy `ka`).
pub const KEEPALIVE: Duration = Duration::from_secs(15);
/// A client that does not take a message within this long is disconnected.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Close code for a subscriber that fell further behind than the event buffer.
pub const TOO_SLOW: u16 = 4008;

/// Lets a subscription close its whole connection with a code.
#[derive(Clone)]
pub struct Closer(watch::Sender<Option<(u16, &'static str)>>);

impl Closer {
    pub fn close(&self, code: u16, reason: &'static str) {
        let _ = self.0.send(Some((code, reason)));
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/graphql/ws", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let legacy = chosen_protocol(&headers) == Some(WebSocketProtocols::SubscriptionsTransportWS);
    upgrade.protocols(ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| session(state, protocol, legacy, socket))
}

/// The subprotocol the handshake settles on: the client's first one that Tally speaks.
fn chosen_protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

/// The key in `connection_init`'s payload: `{"authorization": "Bearer <key>"}`.
fn key_of(payload: &serde_json::Value) -> Option<String> {
    let value = ["authorization", "Authorization"].iter().find_map(|k| payload.get(*k)?.as_str())?.trim();
    Some(bearer_token(value).unwrap_or(value).to_string())
}

async fn session(state: AppState, protocol: GraphQLProtocol, legacy: bool, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let first = match tokio::time::timeout(state.limits.ws_init_timeout, stream.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => text,
        Ok(_) => return,
        Err(_) => {
            let _ = sink.send(close(4408, "Connection initialisation timeout")).await;
            return;
        }
    };
    let init: serde_json::Value = serde_json::from_str(first.as_str()).unwrap_or_default();
    if init.get("type").and_then(|t| t.as_str()) != Some("connection_init") {
        let _ = sink.send(close(4401, "Unauthorized: connection_init must come first")).await;
        return;
    }
    let key = init.get("payload").and_then(key_of);
    let caller = match Caller::authenticate(&state, key.as_deref()).await {
        Ok(c) => c,
        Err(AppError::Unauthenticated(_)) => {
            let _ = sink.send(close(4401, "Unauthorized")).await;
            return;
        }
        Err(err) => {
            tracing::warn!(error = ?err, "websocket init failed");
            let _ = sink.send(close(1011, "Internal error")).await;
            return;
        }
    };

    let (close_tx, mut close_rx) = watch::channel(None);
    let mut data: Data = exec::socket_data(&state, &caller);
    data.insert(Closer(close_tx));

    // The init message is replayed to the protocol handler, which acknowledges it. Reading
    // stops when a close is requested or the forwarder gave up on the client.
    let mut stopped = close_rx.clone();
    let (gone_tx, mut gone_rx) = watch::channel(false);
    let (out_tx, mut out_rx) = futures_channel::mpsc::channel::<Message>(32);
    let gate = Gate { state: state.clone(), caller, out: out_tx.clone(), legacy };
    let incoming = futures_util::stream::once(async move { Ok::<Message, axum::Error>(Message::Text(first)) })
        .chain(stream)
        .take_until(async move {
            tokio::select! {
                _ = stopped.wait_for(|c| c.is_some()) => {}
                _ = gone_rx.wait_for(|g| *g) => {}
            }
        })
        .filter_map(move |message| {
            let gate = gate.clone();
            async move {
                match message {
                    Ok(message) => gate.pass(message).await.map(Ok),
                    Err(err) => Some(Err(err)),
                }
            }
        });
    let graphql = GraphQLWebSocket::new_with_pair(out_tx, incoming, exec::CodedSchema(state.schema.clone()), protocol)
        .with_data(data)
        .on_connection_init(|_| async { Ok(Data::default()) })
        .serve();

    let (db, secret) = (state.db.clone(), key.unwrap_or_default());
    let forward = async move {
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        keepalive.tick().await;
        let mut recheck = tokio::time::interval(state.limits.ws_key_recheck);
        recheck.tick().await;
        loop {
            let message = tokio::select! {
                _ = recheck.tick() => {
                    if let Err(DomainError::Unauthenticated) = auth::authenticate(&db, &secret).await {
                        let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(close(4403, "Forbidden: the API key was revoked"))).await;
                        break;
                    }
                    continue;
                }
                next = out_rx.next() => match next {
                    Some(m) => m,
                    None => break,
                },
                _ = keepalive.tick() => Message::Text(if legacy { r#"{"type":"ka"}"# } else { r#"{"type":"ping"}"# }.into()),
                _ = close_rx.changed() => break,
            };
            match tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
        // A requested close is sent last, whichever branch ended the loop (the handler
        // may have stopped first because the same request ended its input).
        let requested = *close_rx.borrow();
        if let Some((code, reason)) = requested {
            let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(close(code, reason))).await;
        }
        let _ = gone_tx.send(true);
    };
    // Both run to the end: the forwarder flushes what the handler wrote (a close frame
    // included) after the handler stops, and the handler stops once the forwarder is gone.
    tokio::join!(graphql, forward);
}

/// Every operation a client starts passes here before the protocol handler sees it: the
/// key's rate limit and the document's cost are checked exactly as over HTTP, and a refusal
/// answers the protocol's `error` message with LIMIT_EXCEEDED (or BAD_USER_INPUT) in
/// `extensions.code`. Queries and mutations run here too, through the same door as over
/// HTTP (and the key's budget of expensive operations); only subscriptions go on to the
/// protocol handler.
#[derive(Clone)]
struct Gate {
    state: AppState,
    caller: Caller,
    out: futures_channel::mpsc::Sender<Message>,
    legacy: bool,
}

#[derive(serde::Deserialize)]
struct Start {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    payload: Option<serde_json::Value>,
}

impl Gate {
    async fn pass(&self, message: Message) -> Option<Message> {
        let Message::Text(text) = &message else { return Some(message) };
        let start: Start = match serde_json::from_str(text.as_str()) {
            Ok(start) => start,
            Err(_) => return Some(message),
        };
        if start.kind != "subscribe" && start.kind != "start" {
            return Some(message);
        }
        let (Some(id), Some(payload)) = (start.id, start.payload) else { return Some(message) };
        let request: async_graphql::Request = match serde_json::from_value(payload) {
            Ok(request) => request,
            Err(_) => return Some(message),
        };
        if let Err(err) = self.state.throttle.admit(self.caller.key_id(), 1) {
            self.refuse(&id, err).await;
            return None;
        }
        let prepared = match exec::prepare(&self.state.cost, &self.state.limits, request) {
            Ok(prepared) => prepared,
            Err(err) => {
                self.refuse(&id, err).await;
                return None;
            }
        };
        if prepared.kind == Some(OperationType::Subscription) {
            return Some(message);
        }
        let gate = self.clone();
        tokio::spawn(async move {
            match exec::run(&gate.state, &gate.caller, vec![prepared]).await {
                Ok(answers) => {
                    for answer in answers {
                        let kind = if gate.legacy { "data" } else { "next" };
                        gate.send(serde_json::json!({ "id": id, "type": kind, "payload": answer })).await;
                    }
                    gate.send(serde_json::json!({ "id": id, "type": "complete" })).await;
                }
                Err(err) => gate.refuse(&id, err).await,
            }
        });
        None
    }

    async fn refuse(&self, id: &str, err: AppError) {
        let error = err.into_server_error();
        self.send(serde_json::json!({ "id": id, "type": "error", "payload": [error] })).await;
    }

    async fn send(&self, message: serde_json::Value) {
        let _ = self.out.clone().send(Message::Text(message.to_string().into())).await;
    }
}
