//! A GraphQL document fuzzer over HTTP. Documents are built at random from `schema.graphql`:
//! valid ones (every type's fields, arguments of every kind, aliases, fragments, directives,
//! variables, batches) and broken ones (cut short, garbled, fragment bombs, deep nesting,
//! thousands of aliases, wrong variables, bodies that are not JSON). Each goes to a real
//! server, and every answer must be a GraphQL answer below 500 whose errors all carry a
//! code, within `ANSWER_WITHIN`; the server must still answer at the end.
//!
//! Each backend runs for `TALLY_FUZZ_SECONDS` (default 25); `TALLY_FUZZ_SEED` replays a run
//! (the seed is printed). A longer run: `TALLY_FUZZ_SECONDS=1800 cargo test --release --test graphql_fuzz`.
#![recursion_limit = "256"]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};
use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tally::graphql::Limits;
use tally::ids::{self, Kind};

/// Far past any honest answer; a stall fails the run.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);
const CODES: [&str; 7] =
    ["UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT", "INVALID_TRANSITION", "LIMIT_EXCEEDED", "INTERNAL"];

#[derive(Clone, Debug)]
struct Arg {
    name: String,
    ty: Type,
}

#[derive(Clone, Debug)]
struct Field {
    name: String,
    args: Vec<Arg>,
    ty: Type,
}

#[derive(Clone, Debug)]
enum Def {
    Object(Vec<Field>),
    Scalar,
    Enum(Vec<String>),
    Input(Vec<Arg>),
}

/// The types of `schema.graphql`.
struct Schema {
    types: HashMap<String, Def>,
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

impl Schema {
    fn load() -> Schema {
        let sdl = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
        let doc = async_graphql::parser::parse_schema(&sdl).unwrap();
        let mut types = HashMap::new();
        for scalar in ["Int", "Float", "String", "Boolean", "ID"] {
            types.insert(scalar.to_string(), Def::Scalar);
        }
        for definition in doc.definitions {
            let TypeSystemDefinition::Type(ty) = definition else { continue };
            let ty = ty.node;
            let args = |list: &[async_graphql::Positioned<async_graphql::parser::types::InputValueDefinition>]| {
                list.iter().map(|a| Arg { name: a.node.name.node.to_string(), ty: a.node.ty.node.clone() }).collect()
            };
            let fields = |list: &[async_graphql::Positioned<async_graphql::parser::types::FieldDefinition>]| {
                list.iter()
                    .map(|f| Field {
                        name: f.node.name.node.to_string(),
                        args: args(&f.node.arguments),
                        ty: f.node.ty.node.clone(),
                    })
                    .collect()
            };
            let def = match &ty.kind {
                TypeKind::Object(o) => Def::Object(fields(&o.fields)),
                TypeKind::Interface(i) => Def::Object(fields(&i.fields)),
                TypeKind::Enum(e) => Def::Enum(e.values.iter().map(|v| v.node.value.node.to_string()).collect()),
                TypeKind::InputObject(i) => Def::Input(args(&i.fields)),
                TypeKind::Scalar | TypeKind::Union(_) => Def::Scalar,
            };
            types.insert(ty.name.node.to_string(), def);
        }
        Schema { types }
    }

    fn fields(&self, ty: &str) -> &[Field] {
        match self.types.get(ty) {
            Some(Def::Object(fields)) => fields,
            _ => &[],
        }
    }

    fn is_object(&self, ty: &str) -> bool {
        matches!(self.types.get(ty), Some(Def::Object(_)))
    }
}

/// Ids the documents use: real ones of the seeded brand, another brand's, and nonsense.
struct Ids {
    real: Vec<String>,
}

struct Generator<'a> {
    schema: &'a Schema,
    rng: StdRng,
    ids: &'a Ids,
    fragments: Vec<String>,
    variables: Vec<(String, String, Value)>,
}

impl Generator<'_> {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    fn pick<'s, T>(&mut self, items: &'s [T]) -> &'s T {
        &items[self.rng.gen_range(0..items.len())]
    }

    fn string(&mut self) -> String {
        let samples = ["Ana", "", "x", "ANA10", "ana", "=1+1", "a\"quote", "emoji 🎉", "tab\tnew\nline", "é"];
        let mut s = self.pick(&samples).to_string();
        if self.chance(0.05) {
            s = "long".repeat(self.rng.gen_range(100..3000));
        }
        s
    }

    fn id(&mut self) -> String {
        match self.rng.gen_range(0..5) {
            0 | 1 if !self.ids.real.is_empty() => self.pick(&self.ids.real).clone(),
            2 => {
                let kind = *self.pick(&[Kind::Creator, Kind::Campaign, Kind::Order, Kind::Conversion, Kind::Brand]);
                ids::encode(kind, self.rng.gen_range(1..50))
            }
            3 => self.string(),
            _ => "Q3JlYXRvcjotMQ".to_string(),
        }
    }

    /// A literal of the type, valid most of the time.
    fn literal(&mut self, ty: &Type, depth: u32) -> String {
        if ty.nullable && self.chance(0.05) {
            return "null".into();
        }
        if let BaseType::List(inner) = &ty.base {
            let n = self.rng.gen_range(0..4);
            let items: Vec<String> = (0..n).map(|_| self.literal(inner, depth + 1)).collect();
            return format!("[{}]", items.join(", "));
        }
        let name = named(ty).to_string();
        if self.chance(0.04) {
            // The wrong kind of value altogether.
            return self.pick(&["1", "\"x\"", "true", "[1]", "{a: 1}", "ENUM_X", "3.5"]).to_string();
        }
        match (name.as_str(), self.schema.types.get(&name)) {
            ("Int", _) => {
                self.pick(&["0", "1", "5", "50", "100", "101", "-1", "2147483647", "99999999999"]).to_string()
            }
            ("Float", _) => "1.5".into(),
            ("Boolean", _) => self.pick(&["true", "false"]).to_string(),
            ("ID", _) => serde_json::to_string(&self.id()).unwrap(),
            ("String", _) => serde_json::to_string(&self.string()).unwrap(),
            ("Decimal", _) => {
                let d = ["\"12.50\"", "\"0\"", "\"-1\"", "\"1e5\"", "\"abc\"", "\"100000000000.01\"", "\"7.5\"", "12"];
                self.pick(&d).to_string()
            }
            ("DateTime", _) => {
                let t = [
                    "\"2026-03-01T00:00:00Z\"",
                    "\"2026-03-01T10:00:00+02:00\"",
                    "\"9999-12-31T23:59:59Z\"",
                    "\"yesterday\"",
                    "\"1969-01-01T00:00:00Z\"",
                ];
                self.pick(&t).to_string()
            }
            (_, Some(Def::Enum(values))) => {
                let values = values.clone();
                self.pick(&values).clone()
            }
            (_, Some(Def::Input(fields))) if depth < 4 => {
                let fields = fields.clone();
                let mut parts = Vec::new();
                for f in &fields {
                    if !f.ty.nullable || self.chance(0.5) {
                        parts.push(format!("{}: {}", f.name, self.literal(&f.ty, depth + 1)));
                    }
                }
                format!("{{{}}}", parts.join(", "))
            }
            _ => "null".into(),
        }
    }

    /// A JSON value for a variable of the type.
    fn json_value(&mut self, ty: &Type) -> Value {
        let literal = self.literal(ty, 0);
        // GraphQL literals of scalars and lists of them are JSON too; others become strings.
        serde_json::from_str(&literal).unwrap_or(Value::String(literal))
    }

    fn argument(&mut self, arg: &Arg, depth: u32) -> String {
        if self.chance(0.1) {
            let name = format!("v{}", self.variables.len());
            let value = self.json_value(&arg.ty);
            let ty = if self.chance(0.9) { arg.ty.to_string() } else { "String".into() };
            self.variables.push((name.clone(), ty, value));
            return format!("{}: ${name}", arg.name);
        }
        format!("{}: {}", arg.name, self.literal(&arg.ty, depth))
    }

    fn directive(&mut self) -> String {
        match self.rng.gen_range(0..40) {
            0 => " @skip(if: true)".into(),
            1 => " @skip(if: false)".into(),
            2 => " @include(if: false)".into(),
            3 => " @include(if: true)".into(),
            4 => " @nonsense".into(),
            _ => String::new(),
        }
    }

    fn selection(&mut self, ty: &str, depth: u32) -> String {
        let fields = self.schema.fields(ty).to_vec();
        if fields.is_empty() {
            return "__typename".into();
        }
        let mut parts = Vec::new();
        for i in 0..self.rng.gen_range(1..=4) {
            if self.chance(0.08) {
                parts.push("__typename".into());
                continue;
            }
            if self.chance(0.04) && depth < 8 {
                let inner = self.selection(ty, depth + 1);
                parts.push(format!("... on {ty} {{ {inner} }}"));
                continue;
            }
            if self.chance(0.04) && depth < 8 {
                let name = format!("F{}", self.fragments.len());
                self.fragments.push(String::new());
                let inner = self.selection(ty, depth + 1);
                let index = name[1..].parse::<usize>().unwrap();
                self.fragments[index] = format!("fragment {name} on {ty} {{ {inner} }}");
                parts.push(format!("...{name}"));
                continue;
            }
            let field = self.pick(&fields).clone();
            let child = named(&field.ty).to_string();
            if self.schema.is_object(&child) && depth >= 6 {
                continue;
            }
            let mut text = String::new();
            if self.chance(0.15) {
                text.push_str(&format!("a{depth}_{i}: "));
            }
            text.push_str(&field.name);
            let mut args = Vec::new();
            for a in &field.args {
                if !a.ty.nullable || self.chance(0.6) {
                    args.push(self.argument(a, 0));
                }
            }
            if !args.is_empty() {
                text.push_str(&format!("({})", args.join(", ")));
            }
            text.push_str(&self.directive());
            if self.schema.is_object(&child) {
                let inner = self.selection(&child, depth + 1);
                text.push_str(&format!(" {{ {inner} }}"));
            }
            parts.push(text);
        }
        if parts.is_empty() { "__typename".into() } else { parts.join(" ") }
    }

    fn operation(&mut self) -> (String, Value) {
        self.fragments.clear();
        self.variables.clear();
        let (keyword, root) = match self.rng.gen_range(0..20) {
            0..=14 => ("query", "Query"),
            15..=18 => ("mutation", "Mutation"),
            _ => ("subscription", "Subscription"),
        };
        let body = self.selection(root, 0);
        let header = if self.variables.is_empty() {
            String::new()
        } else {
            let defs: Vec<String> = self.variables.iter().map(|(n, t, _)| format!("${n}: {t}")).collect();
            format!("({})", defs.join(", "))
        };
        let mut doc = format!("{keyword} Op{header} {{ {body} }}");
        for fragment in &self.fragments {
            doc.push('\n');
            doc.push_str(fragment);
        }
        let variables: serde_json::Map<String, Value> =
            self.variables.iter().map(|(n, _, v)| (n.clone(), v.clone())).collect();
        (doc, Value::Object(variables))
    }

    /// A document broken on purpose, or an attack.
    fn hostile(&mut self, doc: String) -> String {
        match self.rng.gen_range(0..11) {
            0 => {
                let keep = self.rng.gen_range(0..=doc.chars().count());
                doc.chars().take(keep).collect()
            }
            1 => {
                let mut bytes = doc.into_bytes();
                for _ in 0..self.rng.gen_range(1..5) {
                    let at = self.rng.gen_range(0..bytes.len());
                    bytes[at] = *self.pick(b"{}()[]:$@!.\"\\#,= \nx0");
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
            2 => {
                let levels = self.rng.gen_range(5..45);
                let mut q = format!("query {{ ...G{levels} }} fragment G0 on Query {{ brand {{ name }} }}");
                for i in 1..=levels {
                    q.push_str(&format!(" fragment G{i} on Query {{ ...G{} ...G{} }}", i - 1, i - 1));
                }
                q
            }
            3 => {
                let n = self.rng.gen_range(20..300);
                format!("{{ {}name{} }}", "brand { ".repeat(n), " }".repeat(n))
            }
            4 => {
                let n = self.rng.gen_range(10..8000);
                let field = *self.pick(&["dashboard { orders }", "brand { name }", "orders(first: 100) { totalCount }"]);
                format!("{{ {} }}", (0..n).map(|i| format!("x{i}: {field}")).collect::<Vec<_>>().join(" "))
            }
            5 => format!("{doc} {doc}"),
            6 => format!("{doc}\nfragment Loop on Query {{ ...Loop }}"),
            7 => "{ orders(first: 100) { edges { node { campaign { orders(first: 100) { edges { node { campaign { orders(first: 100) { totalCount } } } } } } } } } }".into(),
            8 => {
                let n = self.rng.gen_range(1..20_000);
                format!("{{ orders(filter: {{status: [{}]}}) {{ totalCount }} }}", vec!["PAID"; n].join(", "))
            }
            9 => {
                let n = self.rng.gen_range(10..20_000);
                format!("{{ orders(filter: {{status: {}PAID{}}}) {{ totalCount }} }}", "[".repeat(n), "]".repeat(n))
            }
            _ => {
                let n = self.rng.gen_range(100..3000);
                format!("{{ brand {{ name {} }} }}", "@skip(if: false) ".repeat(n))
            }
        }
    }

    /// One request body: a document (or a batch of them), maybe broken.
    fn body(&mut self) -> Vec<u8> {
        if self.chance(0.02) {
            return self
                .pick(&[&b"not json"[..], b"{", b"[]", b"{\"query\": 1}", b"{\"variables\": {}}", b"null"])
                .to_vec();
        }
        let one = |g: &mut Self| {
            let (doc, variables) = g.operation();
            let doc = if g.chance(0.2) { g.hostile(doc) } else { doc };
            let mut request = json!({ "query": doc, "variables": variables });
            if g.chance(0.05) {
                request["operationName"] = json!(*g.pick(&["Op", "Other", ""]));
            }
            if g.chance(0.02) {
                request["variables"] = json!([1, 2]);
            }
            request
        };
        let body = if self.chance(0.1) {
            let n = self.rng.gen_range(0..13);
            Value::Array((0..n).map(|_| one(self)).collect())
        } else {
            one(self)
        };
        serde_json::to_vec(&body).unwrap()
    }
}

/// Checks one answer; returns what is wrong with it.
fn judge(status: u16, body: &[u8]) -> Result<(), String> {
    if status >= 500 {
        return Err(format!("status {status}"));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
    let answers = match &value {
        Value::Array(list) => list.clone(),
        other => vec![other.clone()],
    };
    for answer in answers {
        if answer.get("data").is_none() && answer.get("errors").is_none() {
            return Err("neither data nor errors".into());
        }
        for error in answer["errors"].as_array().into_iter().flatten() {
            let code = error["extensions"]["code"].as_str().unwrap_or("");
            if !CODES.contains(&code) {
                return Err(format!("an error without a known code: {error}"));
            }
            if code == "INTERNAL" {
                return Err(format!("an internal error: {error}"));
            }
        }
    }
    Ok(())
}

async fn seeded(app: &TestApp) -> (TestBrand, Ids) {
    let s = one_member(app, "10").await;
    let mut real = vec![s.campaign.clone(), s.ana.clone()];
    for i in 0..5 {
        let order = app
            .order_event(
                &s.brand,
                json!({ "externalId": format!("f{i}"), "amount": "20.00", "currency": "USD", "status": "PAID",
                        "occurredAt": "2026-03-03T10:00:00Z", "couponCode": "ANA10" }),
            )
            .await;
        real.push(order["id"].as_str().unwrap().to_string());
        real.push(order["conversion"]["id"].as_str().unwrap().to_string());
    }
    let other = app.brand("Other").await;
    real.push(app.create_creator(&other, "Not yours").await);
    (s.brand, Ids { real })
}

async fn random_documents_never_break_the_server(backend: Backend) {
    let seconds: u64 = std::env::var("TALLY_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(25);
    let seed: u64 = std::env::var("TALLY_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().r#gen());
    println!("graphql fuzz on {backend:?}: {seconds} s, TALLY_FUZZ_SEED={seed}");
    let app = spawn_app_with(backend, Limits { rate_per_second: 0, ..Default::default() }).await;
    let (brand, ids) = seeded(&app).await;
    let viewer = app.viewer_key(&brand).await;
    let schema = Arc::new(Schema::load());
    let ids = Arc::new(ids);
    let sent = Arc::new(AtomicU64::new(0));
    let slowest = Arc::new(std::sync::Mutex::new((0u64, String::new())));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..3u64)
        .map(|worker| {
            let (schema, ids, sent, slowest) = (schema.clone(), ids.clone(), sent.clone(), slowest.clone());
            let (url, keys) = (app.url.clone(), [brand.key.clone(), viewer.clone(), "tly_wrong".to_string()]);
            tokio::spawn(async move {
                let http = reqwest::Client::builder().timeout(ANSWER_WITHIN).build().unwrap();
                let mut g = Generator {
                    schema: &schema,
                    rng: StdRng::seed_from_u64(seed.wrapping_add(worker)),
                    ids: &ids,
                    fragments: Vec::new(),
                    variables: Vec::new(),
                };
                while Instant::now() < deadline {
                    let body = g.body();
                    let key = if g.chance(0.9) { &keys[0] } else { g.pick(&keys) };
                    let started = Instant::now();
                    let response = http
                        .post(format!("{url}/graphql"))
                        .bearer_auth(key)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    let shown = String::from_utf8_lossy(&body[..body.len().min(2000)]).into_owned();
                    let response =
                        response.unwrap_or_else(|e| panic!("no answer within {ANSWER_WITHIN:?} ({e}) to {shown}"));
                    let status = response.status().as_u16();
                    let answer = response.bytes().await.unwrap();
                    let took = started.elapsed();
                    assert!(took < ANSWER_WITHIN, "a slow answer to {shown}");
                    let mut worst = slowest.lock().unwrap();
                    if took.as_millis() as u64 > worst.0 {
                        *worst = (took.as_millis() as u64, shown.chars().take(300).collect());
                    }
                    drop(worst);
                    if let Err(why) = judge(status, &answer) {
                        panic!("{why}\nrequest: {shown}\nanswer: {}", String::from_utf8_lossy(&answer));
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let d = app.data(&brand.key, "{ brand { name } dashboard { orders } }", json!({})).await;
    assert_eq!(d["brand"]["name"], "Acme");
    let health = app.http.get(format!("{}/health", app.url)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let (ms, request) = slowest.lock().unwrap().clone();
    println!(
        "graphql fuzz on {backend:?}: {} requests, all answered; the slowest in {ms} ms: {request}",
        sent.load(Ordering::Relaxed)
    );
}

on_both_backends!(random_documents_never_break_the_server);
