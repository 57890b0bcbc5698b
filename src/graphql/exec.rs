//! One door for every GraphQL operation, whichever transport brought it: parse once,
//! measure (`cost`), refuse what exceeds a limit with LIMIT_EXCEEDED, and only then hand
//! the parsed document to the engine.
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, HashMapCache};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, Response, ServerError};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc::UnboundedReceiver;

use super::Limits;
use super::TallySchema;
use super::cost::{self, Budget, CostModel, Measured};
use super::literals;
use super::loaders::{Loaders, RequestLoader};
use super::subscription::{CurrentEvent, Wanting, Wants};
use crate::domain::error::DomainError;
use crate::error::{AppError, AppResult};
use crate::http::caller::Caller;
use crate::http::state::AppState;
use entity::event;

/// How long a loader gathers keys before one batched statement: no time at all. The
/// batches run in the request's own task, in rounds (see `drive`), only once every sibling
/// field has asked, so a wait would only add latency at every level of a page.
pub const LOADER_DELAY: Duration = Duration::ZERO;

/// An operation that passed every check, with the figures it was measured at.
pub struct Prepared {
    pub request: Request,
    pub measured: Measured,
    /// The operation that runs: query, mutation or subscription; None when the document
    /// names no runnable operation (the engine answers that error itself).
    pub kind: Option<OperationType>,
    /// The document, kept to put the answer's fields in query order.
    pub document: ExecutableDocument,
}

/// The parser refuses selection sets nested deeper than this, whatever `--max-depth` says.
pub const PARSER_NESTING: usize = 64;

pub fn budget(limits: &Limits) -> Budget {
    Budget { complexity: limits.complexity as u64, depth: limits.depth as u64, introspection: limits.introspection }
}

/// Documents parsed lately, by their text: clients send the same few queries, and a
/// document that passed the scan and the parser once passes them again. Bounded by the
/// text it holds (a parsed document takes some tens of times its text): when full, it
/// starts over.
#[derive(Default)]
pub struct Documents(Mutex<Kept>);

#[derive(Default)]
struct Kept {
    documents: HashMap<Arc<str>, Arc<ExecutableDocument>>,
    bytes: usize,
}

/// The longest document kept, and the most text kept in all.
const DOCUMENT_BYTES: usize = 8 * 1024;
const DOCUMENTS_BYTES: usize = 256 * 1024;

impl Documents {
    fn get(&self, query: &str) -> Option<Arc<ExecutableDocument>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).documents.get(query).cloned()
    }

    fn keep(&self, query: &str, document: Arc<ExecutableDocument>) {
        if query.len() > DOCUMENT_BYTES {
            return;
        }
        let mut kept = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if kept.bytes + query.len() > DOCUMENTS_BYTES {
            *kept = Kept::default();
        }
        kept.bytes += query.len();
        kept.documents.insert(query.into(), document);
    }
}

/// Parses and measures one operation; the document is parsed once, here, or taken from
/// those parsed lately.
pub fn prepare(
    model: &CostModel,
    limits: &Limits,
    documents: &Documents,
    mut request: Request,
) -> Result<Prepared, AppError> {
    let document = match documents.get(&request.query) {
        Some(document) => document,
        None => {
            let document = Arc::new(parse(model, limits, &request.query)?);
            documents.keep(&request.query, document.clone());
            document
        }
    };
    let document = ExecutableDocument::clone(&document);
    let measured = cost::measure(model, &document, request.operation_name.as_deref(), &request.variables);
    cost::check(&measured, &budget(limits)).map_err(AppError::LimitExceeded)?;
    let chosen = cost::chosen(&document, request.operation_name.as_deref());
    if let Some(op) = chosen {
        literals::check_required_variables(op, &request.variables)
            .map_err(|message| AppError::BadUserInput { message, field: None })?;
    }
    let kind = chosen.map(|op| op.ty);
    request.set_parsed_query(document.clone());
    Ok(Prepared { request, measured, kind, document })
}

/// Scans, parses and checks the literals of a document not seen lately.
fn parse(model: &CostModel, limits: &Limits, query: &str) -> Result<ExecutableDocument, AppError> {
    cost::check_scan(&cost::scan(query), &budget(limits)).map_err(AppError::LimitExceeded)?;
    let document = async_graphql::parser::parse_query(query).map_err(|err| match err {
        async_graphql::parser::Error::RecursionLimitExceeded => AppError::LimitExceeded(format!(
            "the query nests selection sets more than {PARSER_NESTING} deep; the depth limit is {} \
             (--max-depth or TALLY_MAX_DEPTH)",
            limits.depth
        )),
        other => AppError::BadUserInput { message: ServerError::from(other).message, field: None },
    })?;
    literals::check_enum_literals(model, &document)
        .map_err(|message| AppError::BadUserInput { message, field: None })?;
    Ok(document)
}

/// Reads the cost model from the schema's own introspection.
pub async fn model(schema: &super::TallySchema) -> anyhow::Result<CostModel> {
    let response = schema.execute(cost::MODEL_QUERY).await;
    if let Some(err) = response.errors.first() {
        anyhow::bail!("introspecting the schema for the cost model: {}", err.message);
    }
    CostModel::from_introspection(response.data.into_json()?)
}

/// Runs the prepared operations of one request in turn, each with fresh loaders whose
/// batches run inside this task. Together they are one piece of work: when their
/// aggregates make it expensive, it waits for a turn among the key's expensive operations.
pub async fn run(state: &AppState, caller: &Caller, operations: Vec<Prepared>) -> AppResult<Vec<Response>> {
    let aggregates = operations.iter().fold(0u64, |sum, p| sum.saturating_add(p.measured.aggregates));
    let _turn = state.throttle.turn(caller.key_id(), aggregates).await?;
    let mut answers = Vec::with_capacity(operations.len());
    for prepared in operations {
        answers.push(execute(state, caller, prepared).await);
    }
    Ok(answers)
}

async fn execute(state: &AppState, caller: &Caller, prepared: Prepared) -> Response {
    let started = std::time::Instant::now();
    let Prepared { request, document, kind, .. } = prepared;
    let query = kind == Some(OperationType::Query);
    // A query reads on the read pool (on SQLite, beside the writer); anything else on the main one.
    let caller = if query { caller.on(state.read_db.clone()) } else { caller.clone() };
    let (loader, rx) = request_loader(&caller);
    loader.enable_all_cache(query);
    let operation = request.operation_name.clone();
    let request = request.data(loader).data(caller).data(state.bus.clone()).data(state.writer.clone());
    let mut response = drive(state.schema.execute(request), rx).await;
    super::field_order::reorder(&document, operation.as_deref(), &mut response.data);
    let response = coded(response);
    let outcome = response.errors.first().map_or("ok", |e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .and_then(|c| match c {
                async_graphql::Value::String(code) => Some(code.as_str()),
                _ => None,
            })
            .unwrap_or("error")
    });
    let kind = match kind {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "unknown",
    };
    // The operation's name: the one the request chose, or the document's only one.
    let name = operation.as_deref().or(match &document.operations {
        DocumentOperations::Multiple(ops) if ops.len() == 1 => ops.keys().next().map(|n| n.as_str()),
        _ => None,
    });
    crate::http::observe::operation_done(name, kind, outcome, started.elapsed());
    response
}

/// A fresh loader for one operation, and the batches it starts, for `drive` to run.
fn request_loader(caller: &Caller) -> (RequestLoader, UnboundedReceiver<BoxFuture<'static, ()>>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<BoxFuture<'static, ()>>();
    let loaders = Loaders { db: caller.db.clone(), brand: caller.brand_id() };
    let spawn = move |task| {
        let _ = tx.send(task);
    };
    (DataLoader::with_cache(loaders, spawn, HashMapCache::default()).delay(LOADER_DELAY), rx)
}

/// Runs a live subscription's document for one event with a fresh loader, in this task:
/// its answer in query order with the event's cursor in `extensions`, or None when the
/// subscription does not want the event.
pub async fn live(
    schema: &TallySchema,
    caller: &Caller,
    document: &ExecutableDocument,
    mut request: Request,
    event: Arc<event::Model>,
    cursor: String,
) -> Option<Response> {
    let operation = request.operation_name.clone();
    request.set_parsed_query(document.clone());
    let current = Arc::new(CurrentEvent { event, cursor: cursor.clone() });
    let mut response = first_answer(schema, caller, request.data(current)).await?;
    super::field_order::reorder(document, operation.as_deref(), &mut response.data);
    response.extensions.insert("cursor".into(), async_graphql::Value::String(cursor));
    Some(coded(response))
}

/// Runs a subscription without an event: the errors it answers with when it cannot run
/// (an unknown field, a bad argument, a stale cursor), or what it wants.
pub async fn live_check(
    schema: &TallySchema,
    caller: &Caller,
    prepared: &Prepared,
) -> Result<Option<Wants>, Vec<ServerError>> {
    let mut request = Request::new(prepared.request.query.clone()).variables(prepared.request.variables.clone());
    if let Some(name) = &prepared.request.operation_name {
        request = request.operation_name(name.clone());
    }
    request.set_parsed_query(prepared.document.clone());
    let wanting = Arc::new(Wanting::default());
    if let Some(response) = first_answer(schema, caller, request.data(wanting.clone())).await
        && !response.errors.is_empty()
    {
        return Err(coded(response).errors);
    }
    Ok(wanting.0.lock().unwrap_or_else(|p| p.into_inner()).take())
}

/// The first answer of a subscription's stream, its loader batches run in this task.
async fn first_answer(schema: &TallySchema, caller: &Caller, request: Request) -> Option<Response> {
    let (loader, rx) = request_loader(caller);
    let mut answers = schema.execute_stream(request.data(loader).data(caller.clone()));
    drive(answers.next(), rx).await
}

/// An error as a GraphQL answer: `data` null, the error with its code.
pub fn error_response(err: AppError) -> Response {
    Response::from_errors(vec![err.into_server_error()])
}

/// Gives every error its code: the one place errors are coded and internal causes logged,
/// for every transport. Tally's own errors carry a code already. A domain refusal that a
/// resolver passed up with `?` (which async-graphql converts through `Display`, keeping it
/// as the error's source) is mapped like any other refusal, its message replaced and an
/// internal cause hidden. The engine's own errors (a malformed document, an unknown
/// field, a bad argument) are BAD_USER_INPUT. An answer that failed because the database
/// is unavailable carries `Retry-After`.
pub fn coded(mut response: Response) -> Response {
    let mut unavailable = false;
    for error in &mut response.errors {
        if let Some(err) = error.source::<AppError>() {
            unavailable |= err.http_status() == axum::http::StatusCode::SERVICE_UNAVAILABLE;
        }
        if error.extensions.as_ref().is_some_and(|e| e.get("code").is_some()) {
            continue;
        }
        if let Some(refusal) = error.source::<DomainError>() {
            let refusal = AppError::from(refusal);
            unavailable |= refusal.http_status() == axum::http::StatusCode::SERVICE_UNAVAILABLE;
            let coded = async_graphql::Error::from(refusal);
            error.message = coded.message;
            error.extensions = coded.extensions;
            continue;
        }
        error.extensions.get_or_insert_with(Default::default).set("code", "BAD_USER_INPUT");
    }
    if unavailable {
        // The database is away: over HTTP the answer is a 503 to retry (`graphql::http`).
        response.http_headers.insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
    }
    response
}

/// Polls `main` together with the loader batches it starts, all in this one task. A batch
/// runs only while `main` is waiting on something, never while it is still walking a
/// page (async-graphql's list resolution yields every 32 items and wakes itself at once),
/// and batches run in rounds: one started while others are running waits, unpolled (so
/// still gathering keys), until they have finished and `main` has asked for everything
/// their answers lead to. Every key that one level of a page or a list asks for lands in
/// one batch: the statement count does not depend on its length, on how fast this
/// machine resolves it, or on which statement the database answers first. (The batches'
/// zero delay is ready at once; it is this, not a timer, that gathers their keys.)
async fn drive<F: Future>(main: F, mut spawned: UnboundedReceiver<BoxFuture<'static, ()>>) -> F::Output {
    let mut running = FuturesUnordered::new();
    let mut waiting = Vec::new();
    let mut main = std::pin::pin!(main);
    let woken = Arc::new(AtomicBool::new(false));
    std::future::poll_fn(move |cx| {
        let waker = Waker::from(Arc::new(Flagging { woken: woken.clone(), inner: cx.waker().clone() }));
        let mut flagged = Context::from_waker(&waker);
        loop {
            woken.store(false, Ordering::SeqCst);
            if let Poll::Ready(out) = main.as_mut().poll(&mut flagged) {
                return Poll::Ready(out);
            }
            if woken.load(Ordering::SeqCst) {
                continue;
            }
            while let Poll::Ready(Some(task)) = spawned.poll_recv(cx) {
                waiting.push(task);
            }
            if running.is_empty() {
                running.extend(waiting.drain(..));
            }
            while let Poll::Ready(Some(())) = running.poll_next_unpin(cx) {}
            // A round ended without waking `main`: start the next one now.
            if running.is_empty() && !waiting.is_empty() {
                continue;
            }
            if !woken.load(Ordering::SeqCst) {
                return Poll::Pending;
            }
        }
    })
    .await
}

/// A waker that notes it was used, and wakes the task.
struct Flagging {
    woken: Arc<AtomicBool>,
    inner: Waker,
}

impl Wake for Flagging {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.inner.wake_by_ref();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(query: &str) -> Arc<ExecutableDocument> {
        Arc::new(async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn documents_are_kept_by_their_text_bounded_and_short_ones_only() {
        let documents = Documents::default();
        documents.keep("{ a }", doc("{ a }"));
        assert!(documents.get("{ a }").is_some());
        assert!(documents.get("{ a  }").is_none(), "another text is another document");
        let long = format!("{{ {} }}", "a ".repeat(DOCUMENT_BYTES / 2));
        documents.keep(&long, doc(&long));
        assert!(documents.get(&long).is_none(), "long documents are not kept");
        let filler = format!("{{ {} ", "b ".repeat(DOCUMENT_BYTES / 2 - 8));
        for i in 0..=DOCUMENTS_BYTES / filler.len() {
            let q = format!("{filler} f{i} }}");
            documents.keep(&q, doc(&q));
        }
        let kept = documents.0.lock().unwrap().bytes;
        assert!(kept <= DOCUMENTS_BYTES, "{kept} bytes kept");
        assert!(documents.get("{ a }").is_none(), "full, it started over");
    }

    #[tokio::test]
    async fn a_kept_document_is_measured_with_each_request_s_variables() {
        let documents = Documents::default();
        let model = model(&crate::graphql::build_schema()).await.unwrap();
        let limits = Limits::default();
        let query = "query($n: Int) { campaigns(first: $n) { edges { node { name } } } }";
        let request =
            |n: i64| Request::new(query).variables(async_graphql::Variables::from_json(serde_json::json!({"n": n})));
        let one = prepare(&model, &limits, &documents, request(1)).ok().unwrap();
        assert!(documents.get(query).is_some());
        let fifty = prepare(&model, &limits, &documents, request(50)).ok().unwrap();
        let one_again = prepare(&model, &limits, &documents, request(1)).ok().unwrap();
        assert!(fifty.measured.cost > one.measured.cost, "{:?} {:?}", fifty.measured, one.measured);
        assert_eq!(one.measured.cost, one_again.measured.cost);
        // A refused document is refused every time, never kept.
        for _ in 0..2 {
            assert!(prepare(&model, &limits, &documents, Request::new("{ a(")).is_err());
        }
        assert!(documents.get("{ a(").is_none());
    }
}
