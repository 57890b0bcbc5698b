//! Live subscriptions grouped by what they compute. Subscribers of one brand that sent the
//! same document with the same variables form a group; each outbox event is executed once
//! per group, and the same serialized answer goes to every member. The database work per
//! event therefore depends on how many different subscriptions there are, never on how
//! many subscribers, and it runs on a pool of its own, so live work cannot take the
//! connections that webhooks and mutations need.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::Variables;
use async_graphql::parser::types::ExecutableDocument;
use tokio::sync::{broadcast, mpsc};

use super::Closer;
use super::protocol::Protocol;
use crate::events::Bus;
use crate::graphql::TallySchema;
use crate::graphql::exec;
use crate::http::caller::Caller;
use entity::event;

/// Close code for a subscriber whose unsent messages passed its buffer.
pub const TOO_SLOW: u16 = 4008;

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
}

#[derive(Default)]
struct Groups {
    groups: HashMap<GroupKey, Group>,
    next: u64,
}

#[derive(Clone)]
pub struct Hub {
    groups: Arc<Mutex<Groups>>,
}

/// A member's place in its group; dropping it leaves the group (and an empty group ends).
pub struct Membership {
    groups: Arc<Mutex<Groups>>,
    key: GroupKey,
    member: u64,
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
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
}

impl Hub {
    /// Starts fanning out the bus's events, executing on `schema` with the group's caller.
    pub fn start(schema: TallySchema, bus: &Bus) -> Hub {
        let hub = Hub { groups: Arc::new(Mutex::new(Groups::default())) };
        let events = bus.subscribe();
        let running = hub.clone();
        tokio::spawn(async move { running.run(schema, events).await });
        hub
    }

    pub fn join(&self, joining: Joining) -> Membership {
        let key = GroupKey {
            brand: joining.caller.brand_id().0,
            query: joining.query,
            operation: joining.operation,
            variables: serde_json::to_string(&joining.variables).unwrap_or_default(),
        };
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        groups.next += 1;
        let member = groups.next;
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
            Member { id: joining.id, protocol: joining.protocol, out: joining.out, closer: joining.closer },
        );
        Membership { groups: self.groups.clone(), key, member }
    }

    async fn run(self, schema: TallySchema, mut events: broadcast::Receiver<Arc<event::Model>>) {
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    // Every member may have missed these: tell them all to reconnect.
                    tracing::error!(missed, "live updates fell behind the outbox; closing every subscriber");
                    self.close_all();
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            self.publish(&schema, &event).await;
        }
    }

    /// Executes the event once for each group of its brand, concurrently, and hands each
    /// answer to the group's members.
    async fn publish(&self, schema: &TallySchema, event: &Arc<event::Model>) {
        // What each group of the event's brand runs, copied out of the lock.
        let runs: Vec<(GroupKey, Caller, async_graphql::Request, Arc<ExecutableDocument>)> = {
            let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
            groups
                .groups
                .iter()
                .filter(|(key, _)| key.brand == event.brand_id)
                .map(|(key, g)| (key.clone(), g.caller.clone(), g.request(), g.document.clone()))
                .collect()
        };
        let runs = runs.into_iter().map(|(key, caller, request, document)| {
            let event = event.clone();
            async move {
                let answer = exec::live(schema, &caller, &document, request, event).await?;
                Some((key, serde_json::to_string(&answer).ok()?))
            }
        });
        let answers = futures_util::future::join_all(runs).await;
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        for (key, payload) in answers.into_iter().flatten() {
            let Some(group) = groups.groups.get(&key) else { continue };
            for member in group.members.values() {
                // A member whose buffer is full is closed; nobody else waits for it.
                if member.out.try_send(member.protocol.next(&member.id, &payload)).is_err() {
                    member.closer.close(TOO_SLOW, "Subscriber too slow: events were missed; reconnect and resume");
                }
            }
        }
    }

    fn close_all(&self) {
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        for member in groups.groups.values().flat_map(|g| g.members.values()) {
            member.closer.close(TOO_SLOW, "Subscriber too slow: events were missed; reconnect and resume");
        }
    }
}
