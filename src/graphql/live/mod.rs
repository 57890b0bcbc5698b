//! `GET /graphql/ws`: graphql-transport-ws and the legacy graphql-ws, spoken here rather
//! than by a library so that every operation passes the same checks as over HTTP and
//! every live subscription joins the `hub`, which executes each event once per group of
//! identical subscriptions, never once per socket.
//!
//! Close codes: 4400 a message that is not the protocol's, 4401 no or a bad key (or a
//! message before `connection_init`), 4403 the key was revoked, 4408 no `connection_init`
//! in time, 4409 an id already in use, 4429 a second `connection_init`, 4008 a subscriber
//! too slow to take its messages, 1013 (try again later) a key over its cap of sockets.
//! Each socket is one task and one queue of unsent messages, with small buffers: an idle
//! socket holds a few KiB, and a burst of events goes out in one write.
pub mod hub;
pub mod protocol;
pub mod sockets;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection};
use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use futures_util::SinkExt;
use tokio::sync::{mpsc, watch};

use self::hub::Membership;
use self::protocol::{ClientMessage, Protocol};
use super::exec;
use super::subscription::Wants;
use crate::domain::auth;
use crate::domain::error::DomainError;
use crate::domain::outbox::{self, Missed};
use crate::error::{AppError, bad_input};
use crate::events::Position;
use crate::http::caller::{Caller, bearer_token};
use crate::http::state::AppState;

/// How often the server sends a keep-alive (`ping` or legacy `ka`).
pub const KEEPALIVE: Duration = Duration::from_secs(15);
/// A client that does not take a message within this long is disconnected.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Lets whoever holds it (the hub, a revocation) close one socket with a code.
#[derive(Clone)]
pub struct Closer(watch::Sender<Option<(u16, &'static str)>>);

impl Closer {
    pub fn close(&self, code: u16, reason: &'static str) {
        self.0.send_if_modified(|current| {
            let first = current.is_none();
            if first {
                *current = Some((code, reason));
            }
            first
        });
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/graphql/ws", get(upgrade))
}

/// What tungstenite reads a frame into (it grows for a larger frame, up to the body cap).
const READ_BUFFER: usize = 4096;
/// The most queued messages written to a socket in one go.
const COALESCE: usize = 64;
/// What tungstenite buffers before writing (a coalesced batch is flushed as one write);
/// allocated only while messages are being written.
const WRITE_BUFFER: usize = 64 * 1024;
/// How many replayed events are read from the outbox at a time.
const REPLAY_BATCH: u64 = 200;

async fn upgrade(State(state): State<AppState>, headers: HeaderMap, upgrade: WebSocketUpgrade) -> Response {
    let most = state.limits.ws_max_awaiting_init;
    let Some(awaiting) = state.sockets.await_init(most) else {
        let message = format!(
            "{most} websockets are already waiting to send connection_init; try again shortly \
             (--max-awaiting-init or TALLY_MAX_AWAITING_INIT)"
        );
        let mut refused =
            crate::http::refusal("/graphql/ws", StatusCode::SERVICE_UNAVAILABLE, "LIMIT_EXCEEDED", &message);
        refused.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return refused;
    };
    let protocol = chosen_protocol(&headers).unwrap_or(Protocol::TransportWs);
    upgrade
        .protocols([Protocol::TransportWs.name(), Protocol::Legacy.name()])
        .max_message_size(state.limits.body_bytes)
        .max_frame_size(state.limits.body_bytes)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .on_upgrade(move |socket| session(state, protocol, socket, awaiting))
}

/// The subprotocol the handshake settles on: the client's first one that Tally speaks.
fn chosen_protocol(headers: &HeaderMap) -> Option<Protocol> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(Protocol::named)
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

/// The key in `connection_init`'s payload: `{"authorization": "Bearer <key>"}`.
fn key_of(payload: &serde_json::Value) -> Option<String> {
    let value = ["authorization", "Authorization"].iter().find_map(|k| payload.get(*k)?.as_str())?.trim();
    Some(bearer_token(value).unwrap_or(value).to_string())
}

/// Reads `connection_init` and authenticates it, or closes the socket with the code.
async fn initialise(state: &AppState, socket: &mut WebSocket) -> Option<(Caller, String)> {
    let first = match tokio::time::timeout(state.limits.ws_init_timeout, socket.recv()).await {
        Ok(Some(Ok(Message::Text(text)))) => text,
        Ok(_) => return None,
        Err(_) => {
            let _ = socket.send(close(4408, "Connection initialisation timeout")).await;
            return None;
        }
    };
    let Some(ClientMessage::ConnectionInit { payload }) = ClientMessage::parse(first.as_str()) else {
        let _ = socket.send(close(4401, "Unauthorized: connection_init must come first")).await;
        return None;
    };
    let key = payload.as_ref().and_then(key_of).unwrap_or_default();
    match Caller::authenticate(state, Some(&key)).await {
        Ok(caller) => Some((caller, key)),
        Err(AppError::Unauthenticated(_)) => {
            let _ = socket.send(close(4401, "Unauthorized")).await;
            None
        }
        Err(err) => {
            tracing::warn!(error = ?err, "websocket init failed");
            let _ = socket.send(close(1011, "Internal error")).await;
            None
        }
    }
}

/// An operation the socket is running: a live subscription (and its replay while that
/// runs), or a query or mutation.
enum Running {
    Live(#[allow(dead_code)] Arc<Membership>, Option<tokio::task::JoinHandle<()>>),
    Once(tokio::task::JoinHandle<()>),
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Running::Once(task) | Running::Live(_, Some(task)) = self {
            task.abort();
        }
    }
}

/// One socket, start to end, in one task.
struct Session {
    state: AppState,
    protocol: Protocol,
    caller: Caller,
    key: String,
    out: mpsc::Sender<String>,
    closer: Closer,
    /// Ids of queries and mutations that finished, to free their ids.
    done: mpsc::UnboundedSender<String>,
    running: HashMap<String, Running>,
}

/// Why the session ends.
type Ending = Option<(u16, &'static str)>;

async fn session(state: AppState, protocol: Protocol, mut socket: WebSocket, awaiting: sockets::Awaiting) {
    let initialised = initialise(&state, &mut socket).await;
    drop(awaiting);
    let Some((caller, key)) = initialised else { return };
    let (close_tx, mut close_rx) = watch::channel(None);
    let most = state.limits.ws_max_sockets_per_key;
    let Some(_registered) = state.sockets.register(caller.key_id(), most, Closer(close_tx.clone())) else {
        let reason = format!("LIMIT_EXCEEDED: this key has {most} websockets open (--max-sockets-per-key)");
        let _ = socket.send(close(sockets::TOO_MANY_SOCKETS, &reason)).await;
        return;
    };
    if socket.send(Message::Text(protocol::ACK.into())).await.is_err() {
        return;
    }
    let (out, mut unsent) = mpsc::channel::<String>(state.limits.subscriber_buffer.max(1));
    let (done, mut finished) = mpsc::unbounded_channel();
    let mut session = Session {
        state: state.clone(),
        protocol,
        caller,
        key,
        out,
        closer: Closer(close_tx),
        done,
        running: HashMap::new(),
    };
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.tick().await;
    let mut recheck = tokio::time::interval(state.limits.ws_key_recheck);
    recheck.tick().await;
    let ending: Ending = loop {
        // Biased: a close comes first, then what is queued for the client (so a wake-up for
        // a message polls nothing else), then the client's own messages and the timers.
        let outgoing = tokio::select! {
            biased;
            _ = close_rx.changed() => break *close_rx.borrow(),
            Some(message) = unsent.recv() => message,
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => match session.handle(text.as_str()).await {
                    Ok(()) => continue,
                    Err(ending) => break ending,
                },
                Some(Ok(Message::Binary(_))) => break Some((4400, "Binary messages are not part of the protocol")),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break None,
            },
            Some(id) = finished.recv() => {
                session.running.remove(&id);
                continue;
            }
            _ = keepalive.tick() => protocol.keepalive().to_string(),
            _ = recheck.tick() => match session.key_still_valid().await {
                Ok(()) => continue,
                Err(ending) => break ending,
            },
        };
        // Whatever else is already queued goes out in the same write (a burst of events is
        // one system call, not one per event). A client that stopped reading blocks the
        // write; a close asked for meanwhile (4008 when the hub found its queue full) still
        // ends the session.
        let write = async {
            socket.feed(Message::Text(outgoing.into())).await?;
            for _ in 1..COALESCE {
                match unsent.try_recv() {
                    Ok(more) => socket.feed(Message::Text(more.into())).await?,
                    Err(_) => break,
                }
            }
            socket.flush().await
        };
        tokio::select! {
            sent = tokio::time::timeout(SEND_TIMEOUT, write) => {
                if !matches!(sent, Ok(Ok(()))) {
                    break None;
                }
            }
            _ = close_rx.changed() => break *close_rx.borrow(),
        }
    };
    // Leave every group before the close frame, so no more messages are queued.
    session.running.clear();
    if let Some((code, reason)) = ending {
        let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(close(code, reason))).await;
    }
}

impl Session {
    async fn handle(&mut self, text: &str) -> Result<(), Ending> {
        let Some(message) = ClientMessage::parse(text) else {
            return Err(Some((4400, "Invalid message received")));
        };
        match message {
            ClientMessage::ConnectionInit { .. } => Err(Some((4429, "Too many initialisation requests"))),
            ClientMessage::Ping { payload } => {
                self.send(protocol::pong(payload.as_ref())).await;
                Ok(())
            }
            ClientMessage::Pong { .. } => Ok(()),
            ClientMessage::ConnectionTerminate => Err(Some((1000, "Normal closure"))),
            ClientMessage::Complete { id } => {
                if self.running.remove(&id).is_some() && self.protocol == Protocol::Legacy {
                    self.send(self.protocol.complete(&id)).await;
                }
                Ok(())
            }
            ClientMessage::Subscribe { id, payload } => self.start(id, *payload).await,
        }
    }

    async fn send(&self, message: String) {
        let _ = self.out.send(message).await;
    }

    /// Refuses operation `id` with the protocol's `error` message.
    async fn refuse(&self, id: &str, err: AppError) {
        let errors = serde_json::to_string(&[err.into_server_error()]).unwrap_or_else(|_| "[]".into());
        self.send(self.protocol.error(id, &errors)).await;
    }

    /// Every operation on a socket runs for a key that is still valid.
    async fn key_still_valid(&self) -> Result<(), Ending> {
        match auth::authenticate(&self.state.db, &self.key).await {
            Err(DomainError::Unauthenticated) => {
                // HTTP requests with the key stop working now too, whether or not the bus
                // has read the revocation yet.
                self.state.keys.forget(&auth::hash_key(&self.key));
                Err(Some((4403, "Forbidden: the API key was revoked")))
            }
            _ => Ok(()),
        }
    }

    async fn start(&mut self, id: String, request: async_graphql::Request) -> Result<(), Ending> {
        if self.running.contains_key(&id) {
            return Err(Some((4409, "Subscriber for this id already exists")));
        }
        self.key_still_valid().await?;
        let most = self.state.limits.ws_max_subscriptions;
        if self.running.len() >= most {
            let message = format!(
                "a socket may run at most {most} operations at once (--max-subscriptions or TALLY_MAX_SUBSCRIPTIONS)"
            );
            self.refuse(&id, AppError::LimitExceeded(message)).await;
            return Ok(());
        }
        if let Err(err) = self.state.throttle.admit(self.caller.key_id(), 1) {
            self.refuse(&id, err).await;
            return Ok(());
        }
        let prepared = match exec::prepare(&self.state.cost, &self.state.limits, &self.state.documents, request) {
            Ok(prepared) => prepared,
            Err(err) => {
                self.refuse(&id, err).await;
                return Ok(());
            }
        };
        if prepared.kind != Some(OperationType::Subscription) {
            let (state, caller, out, done, protocol) =
                (self.state.clone(), self.caller.clone(), self.out.clone(), self.done.clone(), self.protocol);
            let task_id = id.clone();
            let task = tokio::spawn(async move {
                let message = match exec::run(&state, &caller, vec![prepared]).await {
                    Ok(answers) => {
                        for answer in answers {
                            let payload = serde_json::to_string(&answer).unwrap_or_default();
                            let _ = out.send(protocol.next(&task_id, &payload)).await;
                        }
                        protocol.complete(&task_id)
                    }
                    Err(err) => {
                        let errors = serde_json::to_string(&[err.into_server_error()]).unwrap_or_default();
                        protocol.error(&task_id, &errors)
                    }
                };
                let _ = out.send(message).await;
                let _ = done.send(task_id);
            });
            self.running.insert(id, Running::Once(task));
            return Ok(());
        }
        // A subscription that cannot run (an unknown field, a bad argument, a stale cursor)
        // is refused now, not at its first event.
        let caller = self.caller.on(self.state.live_db.clone());
        let wants = match exec::live_check(&self.state.schema, &caller, &prepared).await {
            Ok(wants) => wants,
            Err(errors) => {
                let errors = serde_json::to_string(&errors).unwrap_or_else(|_| "[]".into());
                self.send(self.protocol.error(&id, &errors)).await;
                return Ok(());
            }
        };
        let resume = wants.filter(|w| w.after.is_some());
        if let Some(after) = resume.as_ref().and_then(|w| w.after.as_ref())
            && !self.caught_up(after).await
        {
            let err =
                bad_input("after", "after names events this server has not read: it is not a cursor of this database");
            self.refuse(&id, err).await;
            return Ok(());
        }
        let exec::Prepared { request, document, .. } = prepared;
        let cursor_variable = after_variable(&document, request.operation_name.as_deref());
        let again = (request.query.clone(), request.operation_name.clone(), request.variables.clone());
        let joining = hub::Joining {
            caller: caller.clone(),
            query: request.query.clone(),
            operation: request.operation_name.clone(),
            variables: request.variables.clone(),
            document: document.clone(),
            id: id.clone(),
            protocol: self.protocol,
            out: self.out.clone(),
            closer: self.closer.clone(),
            replaying: resume.is_some(),
        };
        let (membership, joined_at) = self.state.hub.join(joining, cursor_variable.as_deref()).await;
        let membership = Arc::new(membership);
        let replay = resume.map(|wants| {
            let replay = Replay {
                state: self.state.clone(),
                caller,
                query: again.0,
                operation: again.1,
                variables: again.2,
                document,
                wants,
                through: joined_at,
                id: id.clone(),
                protocol: self.protocol,
                out: self.out.clone(),
            };
            let membership = membership.clone();
            let closer = self.closer.clone();
            tokio::spawn(async move {
                match replay.run().await {
                    Ok(()) => membership.go_live(&replay.out).await,
                    Err(err) => {
                        tracing::warn!(error = ?err, "replaying missed events failed");
                        closer.close(1011, "Internal error while replaying missed events; resume again");
                    }
                }
            })
        });
        self.running.insert(id, Running::Live(membership, replay));
        Ok(())
    }

    /// Waits (briefly) until this server's hub has published every event `after` has seen,
    /// so that the replay and the live stream meet without a gap.
    async fn caught_up(&self, after: &Position) -> bool {
        for _ in 0..100 {
            if self.state.hub.position().covers(after) {
                return true;
            }
            self.state.bus.kick();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

/// The variable a subscription's `after` argument is given by, if any: members that differ
/// only in where they resume share a group.
fn after_variable(document: &ExecutableDocument, operation: Option<&str>) -> Option<String> {
    let operation = super::cost::chosen(document, operation)?;
    operation.selection_set.node.items.iter().find_map(|selection| match &selection.node {
        Selection::Field(field) => match &field.node.get_argument("after")?.node {
            async_graphql_value::Value::Variable(name) => Some(name.to_string()),
            _ => None,
        },
        _ => None,
    })
}

/// A resuming subscriber's missed events: those its cursor had not seen that the hub had
/// published when the subscriber joined (`through`); the hub holds everything later.
struct Replay {
    state: AppState,
    caller: Caller,
    query: String,
    operation: Option<String>,
    variables: async_graphql::Variables,
    document: ExecutableDocument,
    wants: Wants,
    through: Position,
    id: String,
    protocol: Protocol,
    out: mpsc::Sender<String>,
}

impl Replay {
    async fn run(&self) -> Result<(), AppError> {
        let Some(from) = &self.wants.after else { return Ok(()) };
        let also: Vec<i64> = from.gaps.iter().copied().collect();
        let missed = Missed {
            brand_id: self.caller.brand_id().0,
            kind: self.wants.kind,
            campaign_id: self.wants.campaign,
            above: from.high,
            through: self.through.high,
            also: &also,
        };
        let mut last = 0;
        loop {
            let page = outbox::missed(&self.caller.db, &missed, last, REPLAY_BATCH).await?;
            let Some(end) = page.last().map(|e| e.id) else { return Ok(()) };
            for event in page {
                // Still uncommitted when the subscriber joined: the hub delivers it.
                if !self.through.seen(event.id) {
                    continue;
                }
                let cursor = from.union(&self.through.up_to(event.id, event.created_at)).encode();
                let (schema, document) = (&self.state.schema, &self.document);
                let mut request = async_graphql::Request::new(self.query.clone()).variables(self.variables.clone());
                request.operation_name = self.operation.clone();
                if let Some(answer) = exec::live(schema, &self.caller, document, request, Arc::new(event), cursor).await
                {
                    let payload = serde_json::to_string(&answer).map_err(anyhow::Error::from)?;
                    if self.out.send(self.protocol.next(&self.id, &payload)).await.is_err() {
                        return Ok(());
                    }
                }
            }
            last = end;
        }
    }
}
