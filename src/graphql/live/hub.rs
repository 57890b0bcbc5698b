//! Live subscriptions grouped by what they compute. Subscribers of one brand that sent the
//! same document with the same variables form a group; each outbox event is executed once
//! per group, and the same serialized answer goes to every member. The database work per
//! event therefore depends on how many different subscriptions there are, never on how
//! many subscribers, and it runs on a pool of its own, so live work cannot take the
//! connections that webhooks and mutations need.
//!
//! A member that resumes from a cursor joins while its replay runs: what the hub publishes
//! meanwhile waits in the member's queue and follows the replay. The hub's position when
//! the member joined splits the two without overlap (`Hub::join`).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::Variables;
use async_graphql::parser::types::ExecutableDocument;
use tokio::sync::{broadcast, mpsc};

use super::Closer;
use super::protocol::Protocol;
use super::sockets::Sockets;
use crate::domain::outbox::KeysRevoked;
use crate::events::{Bus, Position, Published};
use crate::graphql::TallySchema;
use crate::graphql::exec;
use crate::http::caller::Caller;
use entity::enums::EventKind;

/// The most events published in one round; a round is also at most a quarter of a
/// subscriber's buffer, so that a subscriber keeping up is never closed for taking a
/// round's messages at once.
const ROUND: usize = 64;

/// Close code for a subscriber whose unsent messages passed its buffer.
pub const TOO_SLOW: u16 = 4008;
const TOO_SLOW_REASON: &str = "Subscriber too slow: events were missed; reconnect and resume";

/// What members of one group have in common: they would compute the same answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct GroupKey {
    brand: i64,
    query: String,
    operation: Option<String>,
    /// The variables, serialized (canonically: they are a sorted map).
    variables: String,
}

struct Group {
    /// The first member's caller, on the live pool: what resolvers read of it (the brand,
    /// its currency and store) is the same for every member.
    caller: Caller,
    operation: Option<String>,
    variables: Variables,
    query: String,
    document: Arc<ExecutableDocument>,
    members: HashMap<u64, Member>,
}

impl Group {
    fn request(&self) -> async_graphql::Request {
        let request = async_graphql::Request::new(self.query.clone()).variables(self.variables.clone());
        match &self.operation {
            Some(name) => request.operation_name(name.clone()),
            None => request,
        }
    }
}

/// One subscriber: where its messages go, and under which id.
struct Member {
    id: String,
    protocol: Protocol,
    out: mpsc::Sender<String>,
    closer: Closer,
    /// While its replay runs, what was published for it since it joined.
    held: Option<Vec<String>>,
}

impl Member {
    fn deliver(&mut self, message: String) {
        let full = match &mut self.held {
            Some(held) if held.len() < self.out.max_capacity() => {
                held.push(message);
                false
            }
            Some(_) => true,
            // A member whose buffer is full is closed; nobody else waits for it.
            None => self.out.try_send(message).is_err(),
        };
        if full {
            self.closer.close(TOO_SLOW, TOO_SLOW_REASON);
        }
    }
}

struct Groups {
    groups: HashMap<GroupKey, Group>,
    next: u64,
    /// What the hub has published: a member joining now gets every later event.
    position: Position,
}

#[derive(Clone)]
pub struct Hub {
    groups: Arc<Mutex<Groups>>,
    /// Events published in one round.
    round: usize,
    /// Held while an event is published, so that a member joins between two events.
    turn: Arc<tokio::sync::Mutex<()>>,
    sockets: Sockets,
}

/// A member's place in its group; dropping it leaves the group (and an empty group ends).
pub struct Membership {
    groups: Arc<Mutex<Groups>>,
    key: GroupKey,
    member: u64,
}

impl Membership {
    /// Ends the replay: what was published meanwhile follows it (waiting for room in the
    /// member's queue), then everything live.
    pub async fn go_live(&self, out: &mpsc::Sender<String>) {
        loop {
            let held = {
                let mut groups = lock(&self.groups);
                let Some(member) = groups.groups.get_mut(&self.key).and_then(|g| g.members.get_mut(&self.member))
                else {
                    return;
                };
                match member.held.as_mut().map(std::mem::take) {
                    Some(held) if !held.is_empty() => held,
                    _ => {
                        member.held = None;
                        return;
                    }
                }
            };
            for message in held {
                if out.send(message).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn lock(groups: &Mutex<Groups>) -> std::sync::MutexGuard<'_, Groups> {
    groups.lock().unwrap_or_else(|p| p.into_inner())
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut groups = lock(&self.groups);
        if let Some(group) = groups.groups.get_mut(&self.key) {
            group.members.remove(&self.member);
            if group.members.is_empty() {
                groups.groups.remove(&self.key);
            }
        }
    }
}

/// A subscription to join: the request and its parsed document, and where to send.
pub struct Joining {
    pub caller: Caller,
    pub query: String,
    pub operation: Option<String>,
    pub variables: Variables,
    pub document: ExecutableDocument,
    pub id: String,
    pub protocol: Protocol,
    pub out: mpsc::Sender<String>,
    pub closer: Closer,
    /// Whether the member's replay runs first (its live messages held until `go_live`).
    pub replaying: bool,
}

impl Hub {
    /// Starts fanning out the bus's events, executing on `schema` with the group's caller;
    /// a revocation closes the keys' sockets in `sockets`.
    pub fn start(schema: TallySchema, bus: &Bus, sockets: Sockets, subscriber_buffer: usize) -> Hub {
        let (events, position) = bus.subscribe();
        let groups = Groups { groups: HashMap::new(), next: 0, position };
        let round = (subscriber_buffer / 4).clamp(1, ROUND);
        let hub = Hub { groups: Arc::new(Mutex::new(groups)), round, turn: Default::default(), sockets };
        let running = hub.clone();
        tokio::spawn(async move { running.run(schema, events).await });
        hub
    }

    /// Groups of identical subscriptions, and subscriptions in all.
    pub fn counts(&self) -> (usize, usize) {
        let groups = lock(&self.groups);
        (groups.groups.len(), groups.groups.values().map(|g| g.members.len()).sum())
    }

    /// What the hub has published so far.
    pub fn position(&self) -> Position {
        lock(&self.groups).position.clone()
    }

    /// Joins the group of identical subscriptions, between two events: the member gets
    /// every event published after the returned position (held while it replays).
    pub async fn join(&self, joining: Joining, ignored_variable: Option<&str>) -> (Membership, Position) {
        let mut shared = joining.variables.clone();
        if let Some(name) = ignored_variable {
            shared.remove(&async_graphql::Name::new(name));
        }
        let key = GroupKey {
            brand: joining.caller.brand_id().0,
            query: joining.query,
            operation: joining.operation,
            variables: serde_json::to_string(&shared).unwrap_or_default(),
        };
        let _turn = self.turn.lock().await;
        let mut groups = lock(&self.groups);
        groups.next += 1;
        let member = groups.next;
        let position = groups.position.clone();
        let group = groups.groups.entry(key.clone()).or_insert_with(|| Group {
            caller: joining.caller,
            operation: key.operation.clone(),
            variables: joining.variables,
            query: key.query.clone(),
            document: Arc::new(joining.document),
            members: HashMap::new(),
        });
        group.members.insert(
            member,
            Member {
                id: joining.id,
                protocol: joining.protocol,
                out: joining.out,
                closer: joining.closer,
                held: joining.replaying.then(Vec::new),
            },
        );
        (Membership { groups: self.groups.clone(), key, member }, position)
    }

    async fn run(self, schema: TallySchema, mut events: broadcast::Receiver<Arc<Published>>) {
        loop {
            // Every event already waiting is published in one round: a member gets the
            // round's messages together, and its socket writes them in one go.
            let mut batch = Vec::new();
            match events.recv().await {
                Ok(published) => batch.push(published),
                Err(broadcast::error::RecvError::Lagged(missed)) => self.lagged(missed),
                Err(broadcast::error::RecvError::Closed) => return,
            }
            while batch.len() < self.round {
                match events.try_recv() {
                    Ok(published) => batch.push(published),
                    Err(broadcast::error::TryRecvError::Lagged(missed)) => self.lagged(missed),
                    Err(_) => break,
                }
            }
            let _turn = self.turn.lock().await;
            self.publish(&schema, &batch).await;
        }
    }

    /// Events were missed: every member may have missed them, so all of them are told to
    /// resume from their cursors.
    fn lagged(&self, missed: u64) {
        tracing::error!(missed, "live updates fell behind the outbox; closing every subscriber");
        self.close_all();
    }

    /// Executes each event once for each group of its brand, the groups concurrently, and
    /// hands the answers to the groups' members in event order. A revocation closes its
    /// keys' sockets.
    async fn publish(&self, schema: &TallySchema, batch: &[Arc<Published>]) {
        let mut answers = Vec::with_capacity(batch.len());
        for published in batch {
            if published.event.kind == EventKind::KeysRevoked {
                match serde_json::from_str::<KeysRevoked>(&published.event.payload) {
                    Ok(revoked) => self.sockets.revoke(&revoked.key_ids),
                    Err(err) => tracing::error!(error = %err, "unreadable key revocation in the outbox"),
                }
                continue;
            }
            answers.push(self.execute(schema, published).await);
        }
        let mut groups = lock(&self.groups);
        if let Some(last) = batch.last() {
            groups.position = last.position.clone();
        }
        metrics::counter!("tally_live_events_total").increment(batch.len() as u64);
        let mut delivered = 0u64;
        for (key, payload) in answers.into_iter().flatten().flatten() {
            let Some(group) = groups.groups.get_mut(&key) else { continue };
            delivered += group.members.len() as u64;
            for member in group.members.values_mut() {
                let message = member.protocol.next(&member.id, &payload);
                member.deliver(message);
            }
        }
        metrics::counter!("tally_live_deliveries_total").increment(delivered);
    }

    /// The event's answer for each group of its brand, serialized.
    async fn execute(&self, schema: &TallySchema, published: &Published) -> Vec<Option<(GroupKey, String)>> {
        let event = Arc::new(published.event.clone());
        let cursor = published.position.encode();
        // What each group of the event's brand runs, copied out of the lock.
        let runs: Vec<(GroupKey, Caller, async_graphql::Request, Arc<ExecutableDocument>)> = {
            let groups = lock(&self.groups);
            groups
                .groups
                .iter()
                .filter(|(key, _)| key.brand == event.brand_id)
                .map(|(key, g)| (key.clone(), g.caller.clone(), g.request(), g.document.clone()))
                .collect()
        };
        let runs = runs.into_iter().map(|(key, caller, request, document)| {
            let (event, cursor) = (event.clone(), cursor.clone());
            async move {
                let answer = exec::live(schema, &caller, &document, request, event, cursor).await?;
                Some((key, serde_json::to_string(&answer).ok()?))
            }
        });
        futures_util::future::join_all(runs).await
    }

    fn close_all(&self) {
        let groups = lock(&self.groups);
        for member in groups.groups.values().flat_map(|g| g.members.values()) {
            member.closer.close(TOO_SLOW, TOO_SLOW_REASON);
        }
    }
}
