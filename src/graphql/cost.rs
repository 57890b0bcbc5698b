//! What one GraphQL document costs, measured before the engine validates or runs it.
//!
//! The engine walks every fragment spread in full, in its recursion-depth check and again
//! in its complexity, depth and cache-control visitors, so a 1 KB document whose fragments
//! each spread the one below twice costs 2^30 steps. Here each fragment is measured once
//! and its figures are reused at every spread, so measuring is linear in the document,
//! and a document is refused before the engine spends anything on it.
//!
//! Three figures come out:
//! - `fields`: every field and directive the document expands to, all operations and
//!   fragments counted (what validation walks);
//! - `cost`: the work of the operation that runs, each field weighted by what it does:
//!   a connection multiplies its edges by `first`, a plain list by its expected length,
//!   and aggregates (`dashboard`, `performance`, `totalCount`, `totalCommission`) and
//!   mutations by what they cost the database;
//! - `depth`: the deepest nesting of data fields (introspection is exempt: GraphiQL's and
//!   every codegen tool's introspection query nests 15 levels, and it has a budget of its own).
use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::{Name, Variables};
use async_graphql_value::{ConstValue, Value};
use serde::Deserialize;

use super::connection::{DEFAULT_PAGE, MAX_PAGE};

/// The weight of the aggregates and writes (a plain field weighs 1).
const WEIGHTS: &[(&str, &str, u64)] =
    &[("Query", "dashboard", 1000), ("Campaign", "performance", 200), ("Creator", "totalCommission", 20)];
/// Every connection's `totalCount` counts rows.
const TOTAL_COUNT_WEIGHT: u64 = 100;
/// Every mutation is a write transaction.
const MUTATION_WEIGHT: u64 = 50;
/// Expected lengths of the lists that are not connections; any other list counts 10.
const LIST_LENGTHS: &[(&str, &str, u64)] = &[
    ("Campaign", "members", 50),
    ("CampaignPerformance", "rows", 50),
    ("Dashboard", "byCampaign", 20),
    ("Order", "history", 10),
    ("Conversion", "reviews", 10),
];
const OTHER_LIST_LENGTH: u64 = 10;

/// How a field's cost is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// 1 plus its selection.
    Plain,
    /// 1 plus its selection, the `edges` of which count `first` times.
    Connection,
    /// 1 plus its selection times the list's length.
    List(u64),
    /// Its weight plus its selection.
    Weighted(u64),
    /// An aggregate: its weight plus its selection, its weight counted as aggregate work too.
    Aggregate(u64),
}

#[derive(Clone, Debug)]
struct FieldInfo {
    /// The named type it returns (lists and non-null stripped).
    named: String,
    rule: Rule,
    /// An introspection field: it counts toward the introspection budget, not `cost`.
    introspection: bool,
    /// Its arguments' named input types (lists and non-null stripped).
    args: HashMap<String, String>,
}

/// The fields of every type of the schema with their rules, read once from the schema's
/// own introspection.
#[derive(Clone, Debug, Default)]
pub struct CostModel {
    /// Type name → field name → what the field costs.
    types: HashMap<String, HashMap<String, FieldInfo>>,
    query: String,
    mutation: Option<String>,
    subscription: Option<String>,
    /// Input object type name → field name → its named input type.
    inputs: HashMap<String, HashMap<String, String>>,
    /// Enum type name → its values.
    enums: HashMap<String, Vec<String>>,
}

/// The introspection query the model is read from.
pub const MODEL_QUERY: &str = "{ __schema {
  queryType { name } mutationType { name } subscriptionType { name }
  directives { args { name } }
  types { kind name fields(includeDeprecated: true) { name args { name type { ...T } } type { ...T } }
          inputFields { name type { ...T } } enumValues(includeDeprecated: true) { name } interfaces { name }
          possibleTypes { name } }
} }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Introspection {
    #[serde(rename = "__schema")]
    schema: SchemaInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaInfo {
    query_type: Named,
    mutation_type: Option<Named>,
    subscription_type: Option<Named>,
    directives: Vec<WithArgs>,
    types: Vec<TypeInfo>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct WithArgs {
    args: Vec<Named>,
}

#[derive(Deserialize)]
struct Typed {
    name: String,
    #[serde(rename = "type")]
    ty: TypeRef,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeInfo {
    kind: String,
    name: String,
    fields: Option<Vec<FieldRef>>,
    input_fields: Option<Vec<Typed>>,
    enum_values: Option<Vec<Named>>,
    interfaces: Option<Vec<Named>>,
    possible_types: Option<Vec<Named>>,
}

#[derive(Deserialize)]
struct FieldRef {
    name: String,
    args: Vec<Typed>,
    #[serde(rename = "type")]
    ty: TypeRef,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeRef {
    kind: String,
    name: Option<String>,
    of_type: Option<Box<TypeRef>>,
}

impl TypeRef {
    /// The named type and whether a list wraps it.
    fn unwrap(&self) -> (String, bool) {
        let mut list = false;
        let mut t = self;
        loop {
            if t.kind == "LIST" {
                list = true;
            }
            match &t.of_type {
                Some(inner) => t = inner,
                None => return (t.name.clone().unwrap_or_default(), list),
            }
        }
    }
}

/// The list of a connection whose length is the connection field's `first`.
fn is_edges(owner: &str, field: &str) -> bool {
    owner.ends_with("Connection") && matches!(field, "edges" | "nodes")
}

fn len_max(lists: impl Iterator<Item = Option<usize>>) -> u64 {
    lists.flatten().max().unwrap_or(0).max(1) as u64
}

impl CostModel {
    /// Reads the model from the JSON `data` of `MODEL_QUERY` run on the schema.
    pub fn from_introspection(data: serde_json::Value) -> anyhow::Result<CostModel> {
        let Introspection { schema } = serde_json::from_value(data)?;
        // Introspection lists count their longest length in this schema, so that a
        // document cannot nest them into an exponential walk.
        let longest_args = schema
            .types
            .iter()
            .flat_map(|t| t.fields.iter().flatten())
            .map(|f| f.args.len())
            .chain(schema.directives.iter().map(|d| d.args.len()))
            .max()
            .unwrap_or(0)
            .max(1) as u64;
        let lengths: HashMap<(&str, &str), u64> = [
            (("__Schema", "types"), schema.types.len() as u64),
            (("__Schema", "directives"), schema.directives.len().max(1) as u64),
            (("__Type", "fields"), len_max(schema.types.iter().map(|t| t.fields.as_ref().map(Vec::len)))),
            (("__Type", "inputFields"), len_max(schema.types.iter().map(|t| t.input_fields.as_ref().map(Vec::len)))),
            (("__Type", "enumValues"), len_max(schema.types.iter().map(|t| t.enum_values.as_ref().map(Vec::len)))),
            (("__Type", "interfaces"), len_max(schema.types.iter().map(|t| t.interfaces.as_ref().map(Vec::len)))),
            (
                ("__Type", "possibleTypes"),
                len_max(schema.types.iter().map(|t| t.possible_types.as_ref().map(Vec::len))),
            ),
            (("__Field", "args"), longest_args),
            (("__Directive", "args"), longest_args),
        ]
        .into_iter()
        .collect();
        let mutation = schema.mutation_type.map(|t| t.name);
        let mut types: HashMap<String, HashMap<String, FieldInfo>> = HashMap::new();
        for ty in &schema.types {
            let fields = types.entry(ty.name.clone()).or_default();
            for field in ty.fields.iter().flatten() {
                let (named, list) = field.ty.unwrap();
                let introspection = ty.name.starts_with("__");
                let weight = WEIGHTS.iter().find(|(t, f, _)| *t == ty.name && *f == field.name).map(|w| w.2);
                let rule = if let Some(w) = weight {
                    Rule::Aggregate(w)
                } else if Some(&ty.name) == mutation.as_ref() {
                    Rule::Weighted(MUTATION_WEIGHT)
                } else if field.name == "totalCount" && ty.name.ends_with("Connection") {
                    Rule::Aggregate(TOTAL_COUNT_WEIGHT)
                } else if named.ends_with("Connection") && field.args.iter().any(|a| a.name == "first") {
                    Rule::Connection
                } else if is_edges(&ty.name, &field.name) {
                    // Its length is the connection's `first`, counted there.
                    Rule::Plain
                } else if list {
                    let known = LIST_LENGTHS.iter().find(|(t, f, _)| *t == ty.name && *f == field.name).map(|l| l.2);
                    let length = lengths.get(&(ty.name.as_str(), field.name.as_str())).copied();
                    Rule::List(known.or(length).unwrap_or(OTHER_LIST_LENGTH))
                } else {
                    Rule::Plain
                };
                let args = field.args.iter().map(|a| (a.name.clone(), a.ty.unwrap().0)).collect();
                fields.insert(field.name.clone(), FieldInfo { named, rule, introspection, args });
            }
        }
        // The two introspection entry points live on the query type but are not listed in
        // its fields.
        let query = schema.query_type.name;
        for (name, named) in [("__schema", "__Schema"), ("__type", "__Type")] {
            let args =
                if name == "__type" { [("name".to_string(), "String".to_string())].into() } else { HashMap::new() };
            let info = FieldInfo { named: named.to_string(), rule: Rule::Plain, introspection: true, args };
            types.entry(query.clone()).or_default().insert(name.to_string(), info);
        }
        let inputs = (schema.types.iter())
            .filter(|t| t.kind == "INPUT_OBJECT")
            .map(|t| {
                let fields = t.input_fields.iter().flatten().map(|f| (f.name.clone(), f.ty.unwrap().0)).collect();
                (t.name.clone(), fields)
            })
            .collect();
        let enums = (schema.types.iter())
            .filter(|t| t.kind == "ENUM")
            .map(|t| (t.name.clone(), t.enum_values.iter().flatten().map(|v| v.name.clone()).collect()))
            .collect();
        let subscription = schema.subscription_type.map(|t| t.name);
        Ok(CostModel { types, query, mutation, subscription, inputs, enums })
    }

    fn field(&self, parent: &str, name: &str) -> Option<&FieldInfo> {
        self.types.get(parent)?.get(name)
    }

    /// The named type of a field's argument.
    pub fn argument_type(&self, parent: &str, field: &str, argument: &str) -> Option<&str> {
        self.field(parent, field)?.args.get(argument).map(String::as_str)
    }

    /// The names of a field's arguments; None for a field the type does not have.
    pub fn argument_names(&self, parent: &str, field: &str) -> Option<Vec<&str>> {
        Some(self.field(parent, field)?.args.keys().map(String::as_str).collect())
    }

    /// The names of an input object's fields; None for any other type.
    pub fn input_field_names(&self, input: &str) -> Option<Vec<&str>> {
        Some(self.inputs.get(input)?.keys().map(String::as_str).collect())
    }

    /// The named type a field returns.
    pub fn field_type(&self, parent: &str, field: &str) -> Option<&str> {
        self.field(parent, field).map(|f| f.named.as_str())
    }

    /// The named type of an input object's field.
    pub fn input_field_type(&self, input: &str, field: &str) -> Option<&str> {
        self.inputs.get(input)?.get(field).map(String::as_str)
    }

    /// The values of an enum type; None for any other type.
    pub fn enum_values(&self, name: &str) -> Option<&[String]> {
        self.enums.get(name).map(Vec::as_slice)
    }

    /// The root type of an operation type.
    pub fn root(&self, ty: OperationType) -> Option<&str> {
        match ty {
            OperationType::Query => Some(&self.query),
            OperationType::Mutation => self.mutation.as_deref(),
            OperationType::Subscription => self.subscription.as_deref(),
        }
    }
}

/// The figures of one document.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Measured {
    /// Fields and directives the whole document expands to.
    pub fields: u64,
    /// The weighted work of the operation that runs.
    pub cost: u64,
    /// The weighted work of its introspection.
    pub introspection: u64,
    /// The part of `cost` that aggregates rows (what makes an operation expensive).
    pub aggregates: u64,
    /// Its deepest nesting of data fields.
    pub depth: u64,
    /// The deepest nesting of selection sets, fragment spreads included, anywhere in the
    /// document (what the engine's recursive walks go through).
    pub nesting: u64,
}

/// Work counted separately for data and for introspection, and the part of the data work
/// that aggregates.
#[derive(Clone, Copy, Debug, Default)]
struct Work {
    data: u64,
    introspection: u64,
    aggregates: u64,
}

impl Work {
    fn of(weight: u64, introspection: bool) -> Work {
        if introspection {
            Work { introspection: weight, ..Work::default() }
        } else {
            Work { data: weight, ..Work::default() }
        }
    }

    fn aggregate(weight: u64) -> Work {
        Work { data: weight, introspection: 0, aggregates: weight }
    }

    fn plus(self, other: Work) -> Work {
        Work {
            data: self.data.saturating_add(other.data),
            introspection: self.introspection.saturating_add(other.introspection),
            aggregates: self.aggregates.saturating_add(other.aggregates),
        }
    }

    fn times(self, n: u64) -> Work {
        Work {
            data: self.data.saturating_mul(n),
            introspection: self.introspection.saturating_mul(n),
            aggregates: self.aggregates.saturating_mul(n),
        }
    }
}

/// The figures of a selection set: the work done once, the work done per edge of the
/// connection it belongs to, its depth and the fields it expands to.
#[derive(Clone, Copy, Debug, Default)]
struct SetCost {
    once: Work,
    per_edge: Work,
    depth: u64,
    fields: u64,
    /// Selection sets and spreads nested inside, this one not counted.
    nesting: u64,
}

impl SetCost {
    fn merge(&mut self, other: SetCost) {
        self.once = self.once.plus(other.once);
        self.per_edge = self.per_edge.plus(other.per_edge);
        self.depth = self.depth.max(other.depth);
        self.fields = self.fields.saturating_add(other.fields);
        self.nesting = self.nesting.max(other.nesting);
    }

    /// This set's figures one nesting level further in.
    fn nested(mut self) -> SetCost {
        self.nesting += 1;
        self
    }
}

struct Walker<'a> {
    model: &'a CostModel,
    doc: &'a ExecutableDocument,
    /// The request's variables, then the defaults of the operation that runs.
    variables: &'a Variables,
    defaults: HashMap<&'a str, &'a ConstValue>,
    fragments: HashMap<&'a str, SetCost>,
    /// Fragments being measured: a spread of one of them is a cycle, which validation refuses.
    open: HashSet<&'a str>,
    /// How deep the walk is now; past `MAX_NESTING` it stops descending (and the document
    /// is refused), so that no document can exhaust the stack.
    level: u64,
    too_deep: bool,
}

/// The deepest nesting of selection sets and fragment spreads a document may have: the
/// parser's own limit for selection sets, and the engine's recursion limit (set to match).
pub const MAX_NESTING: u64 = 64;

impl<'a> Walker<'a> {
    /// The page size a connection field asks for: `first`, a variable or the default,
    /// within what the resolver accepts; at least 1 so that its edges are always counted.
    fn first(&self, arguments: &[(async_graphql::Positioned<Name>, async_graphql::Positioned<Value>)]) -> u64 {
        let value = arguments.iter().find(|(n, _)| n.node.as_str() == "first").map(|(_, v)| &v.node);
        let number = match value {
            None => Some(DEFAULT_PAGE as i64),
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::Variable(name)) => {
                match self.variables.get(name).or_else(|| self.defaults.get(name.as_str()).copied()) {
                    Some(ConstValue::Number(n)) => n.as_i64(),
                    _ => None,
                }
            }
            Some(_) => None,
        };
        number.unwrap_or(DEFAULT_PAGE as i64).clamp(1, MAX_PAGE as i64) as u64
    }

    /// A nested selection set (of a field, an inline fragment or a fragment), one level in.
    fn descend(&mut self, set: &'a SelectionSet, parent: Option<&'a str>) -> SetCost {
        if set.items.is_empty() {
            return SetCost::default();
        }
        if self.level >= MAX_NESTING {
            self.too_deep = true;
            return SetCost::default();
        }
        self.level += 1;
        let cost = self.selection_set(set, parent);
        self.level -= 1;
        cost.nested()
    }

    fn selection_set(&mut self, set: &'a SelectionSet, parent: Option<&'a str>) -> SetCost {
        let mut total = SetCost::default();
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    let model: &'a CostModel = self.model;
                    let info = parent.and_then(|p| model.field(p, name));
                    let child = self.descend(&field.selection_set.node, info.map(|i| i.named.as_str()));
                    let introspection = info.is_some_and(|i| i.introspection);
                    let rule = info.map(|i| i.rule).unwrap_or(Rule::Plain);
                    let inner = child.once.plus(child.per_edge);
                    let work = match rule {
                        Rule::Plain => Work::of(1, introspection).plus(inner),
                        Rule::Connection => Work::of(1, introspection)
                            .plus(child.once)
                            .plus(child.per_edge.times(self.first(&field.arguments[..]))),
                        Rule::List(n) => Work::of(1, introspection).plus(inner.times(n)),
                        Rule::Weighted(w) => Work::of(w, introspection).plus(inner),
                        Rule::Aggregate(w) => Work::aggregate(w).plus(inner),
                    };
                    let directives = field.directives.len() as u64;
                    let work = work.plus(Work::of(directives, introspection));
                    let edges = parent.is_some_and(|p| is_edges(p, name));
                    let cost = SetCost {
                        once: if edges { Work::default() } else { work },
                        per_edge: if edges { work } else { Work::default() },
                        depth: if introspection { 0 } else { 1 + child.depth },
                        fields: child.fields.saturating_add(1 + directives),
                        nesting: child.nesting,
                    };
                    total.merge(cost);
                }
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    let on = inline.type_condition.as_ref().map(|c| c.node.on.node.as_str()).or(parent);
                    let mut cost = self.descend(&inline.selection_set.node, on);
                    let directives = inline.directives.len() as u64;
                    cost.fields = cost.fields.saturating_add(directives);
                    cost.once = cost.once.plus(Work::of(directives, false));
                    total.merge(cost);
                }
                Selection::FragmentSpread(spread) => {
                    let spread = &spread.node;
                    let directives = spread.directives.len() as u64;
                    let mut cost = self.spread(spread.fragment_name.node.as_str());
                    cost.fields = cost.fields.saturating_add(1 + directives);
                    cost.once = cost.once.plus(Work::of(directives, false));
                    total.merge(cost);
                }
            }
        }
        total
    }

    /// A fragment spread: the fragment's figures one level in.
    fn spread(&mut self, name: &'a str) -> SetCost {
        let cost = self.fragment(name);
        if self.level + 1 + cost.nesting > MAX_NESTING {
            self.too_deep = true;
        }
        cost.nested()
    }

    /// A fragment's figures, measured at its first spread and reused at every other.
    fn fragment(&mut self, name: &'a str) -> SetCost {
        if let Some(known) = self.fragments.get(name) {
            return *known;
        }
        let Some((key, definition)) = self.doc.fragments.get_key_value(name) else { return SetCost::default() };
        if !self.open.insert(key.as_str()) {
            return SetCost::default();
        }
        let on = definition.node.type_condition.node.on.node.as_str();
        // Measured as if spread here, one level in, so the walk's own depth stays bounded.
        self.level += 1;
        let cost = if self.level > MAX_NESTING {
            self.too_deep = true;
            SetCost::default()
        } else {
            self.selection_set(&definition.node.selection_set.node, Some(on))
        };
        self.level -= 1;
        self.open.remove(key.as_str());
        if !self.too_deep {
            self.fragments.insert(key.as_str(), cost);
        }
        cost
    }
}

/// The operation that runs: the one named, or the only one.
pub fn chosen<'d>(doc: &'d ExecutableDocument, name: Option<&str>) -> Option<&'d OperationDefinition> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next().map(|op| &op.node),
        _ => None,
    }
}

/// Measures a parsed document in time linear in its size.
pub fn measure(
    model: &CostModel,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Measured {
    let run = chosen(doc, operation_name);
    let defaults = run
        .iter()
        .flat_map(|op| op.variable_definitions.iter())
        .filter_map(|d| Some((d.node.name.node.as_str(), &d.node.default_value.as_ref()?.node)))
        .collect();
    let mut walker = Walker {
        model,
        doc,
        variables,
        defaults,
        fragments: HashMap::new(),
        open: HashSet::new(),
        level: 0,
        too_deep: false,
    };
    let mut measured = Measured::default();
    for (_, op) in doc.operations.iter() {
        let op = &op.node;
        let root = model.root(op.ty);
        let cost = walker.selection_set(&op.selection_set.node, root);
        let directives = op.directives.len() as u64;
        measured.fields = measured.fields.saturating_add(cost.fields).saturating_add(directives);
        measured.nesting = measured.nesting.max(cost.nesting);
        if run.is_some_and(|r| std::ptr::eq(r, op)) {
            let work = cost.once.plus(cost.per_edge);
            measured.cost = work.data.saturating_add(directives);
            measured.introspection = work.introspection;
            measured.aggregates = work.aggregates;
            measured.depth = cost.depth;
        }
    }
    // Validation walks every fragment's definition as well as its spreads.
    let names: Vec<&str> = doc.fragments.keys().map(|n| n.as_str()).collect();
    for name in names {
        let fragment = walker.fragment(name);
        measured.fields = measured.fields.saturating_add(fragment.fields);
        measured.nesting = measured.nesting.max(fragment.nesting + 1);
    }
    if walker.too_deep {
        measured.nesting = MAX_NESTING + 1;
    }
    measured
}

/// What a lexical scan of a document's text finds, before any parsing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scanned {
    /// Field selections written in the document: never more than `Measured::fields`.
    pub fields: u64,
    /// The deepest nesting of `{`, `(` and `[`.
    pub nesting: u64,
    /// Names, numbers and strings: what parsing costs grows with them.
    pub tokens: u64,
}

/// Tokens a document may hold per unit of `--max-complexity`: room for every field to
/// carry an alias, arguments and a few values, and parsing stays within milliseconds.
pub const TOKENS_PER_COMPLEXITY: u64 = 2;

/// Scans a document's text in one pass, so that a document too large or too deep for the
/// limits is refused without being parsed (parsing costs about 140 ms per MB). A name is a
/// field selection when every bracket around it is a selection set's `{` (not inside
/// arguments, values or variable definitions) and it is not an alias, a directive, a
/// fragment's name or a type condition.
pub fn scan(text: &str) -> Scanned {
    let bytes = text.as_bytes();
    // Open brackets, and how many of them are not a selection set's `{`.
    let (mut depth, mut others) = (0u64, 0u64);
    let mut kinds: Vec<u8> = Vec::new();
    let (mut fields, mut nesting, mut tokens) = (0u64, 0u64, 0u64);
    let mut skip_names = 0u8;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                tokens += 1;
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 3;
                continue;
            }
            b'"' => {
                tokens += 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                continue;
            }
            b'{' | b'(' | b'[' => {
                // A `{` inside arguments or values is an input object, not a selection set.
                let selection = b == b'{' && others == 0;
                kinds.push(u8::from(selection));
                depth += 1;
                others += u64::from(!selection);
                nesting = nesting.max(depth);
                skip_names = 0;
            }
            b'}' | b')' | b']' => {
                if let Some(selection) = kinds.pop() {
                    depth -= 1;
                    others -= u64::from(selection == 0);
                }
                skip_names = 0;
            }
            b'@' => skip_names = 1,
            b'.' if bytes[i..].starts_with(b"...") => {
                // A fragment's name, or `on` and a type.
                skip_names = 2;
                i += 3;
                continue;
            }
            b':' if depth > 0 && others == 0 => {
                // The name before it was an alias.
                fields = fields.saturating_sub(1);
            }
            b'-' | b'0'..=b'9' => {
                tokens += 1;
                while i < bytes.len() && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    i += 1;
                }
                continue;
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                tokens += 1;
                let start = i;
                while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                let name = &bytes[start..i];
                let selecting = depth > 0 && others == 0;
                if skip_names > 0 {
                    // After `...`, only `on` is followed by another name to skip.
                    skip_names = if skip_names == 2 && name == b"on" { 1 } else { 0 };
                } else if selecting {
                    fields += 1;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Scanned { fields, nesting, tokens }
}

/// Why a scanned document is refused, before parsing; the same refusals `check` makes.
pub fn check_scan(scanned: &Scanned, budget: &Budget) -> Result<(), String> {
    if scanned.nesting > MAX_NESTING {
        return Err(format!(
            "the document nests brackets more than {MAX_NESTING} deep (a fixed limit); \
             the depth limit for data fields is {} (--max-depth or TALLY_MAX_DEPTH)",
            budget.depth
        ));
    }
    if scanned.fields > budget.complexity {
        return Err(fields_refusal(scanned.fields, budget));
    }
    let most = budget.complexity.saturating_mul(TOKENS_PER_COMPLEXITY);
    if scanned.tokens > most {
        return Err(format!(
            "the document holds {} names, numbers and strings, more than the limit of {most} \
             ({TOKENS_PER_COMPLEXITY} × the query complexity limit: --max-complexity or TALLY_MAX_COMPLEXITY)",
            scanned.tokens
        ));
    }
    Ok(())
}

fn fields_refusal(fields: u64, budget: &Budget) -> String {
    format!(
        "the document expands to at least {fields} fields and directives, more than the limit of {} \
         (the query complexity limit: --max-complexity or TALLY_MAX_COMPLEXITY)",
        budget.complexity
    )
}

/// What a document is measured against.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Largest `cost` of one request (the sum over a batch) and largest `fields`.
    pub complexity: u64,
    pub depth: u64,
    /// Largest introspection work: enough for the introspection query every tool sends,
    /// with room to spare, and never an exponential walk.
    pub introspection: u64,
}

/// Why a document is refused; each names its limit and how to raise it.
pub fn check(measured: &Measured, budget: &Budget) -> Result<(), String> {
    if measured.nesting > MAX_NESTING {
        return Err(format!(
            "the document nests selection sets and fragment spreads more than {MAX_NESTING} deep (a fixed limit); \
             the depth limit for data fields is {} (--max-depth or TALLY_MAX_DEPTH)",
            budget.depth
        ));
    }
    if measured.fields > budget.complexity {
        return Err(fields_refusal(measured.fields, budget));
    }
    if measured.depth > budget.depth {
        return Err(format!(
            "the query nests {} fields deep, more than the limit of {} (--max-depth or TALLY_MAX_DEPTH)",
            measured.depth, budget.depth
        ));
    }
    if measured.cost > budget.complexity {
        return Err(format!(
            "the query costs {}, more than the limit of {} (--max-complexity or TALLY_MAX_COMPLEXITY); \
             ask for fewer rows with `first`, fewer aggregates, or split it",
            measured.cost, budget.complexity
        ));
    }
    if measured.introspection > budget.introspection {
        return Err(format!(
            "the introspection costs {}, more than the limit of {} (--max-introspection or TALLY_MAX_INTROSPECTION); \
             nest introspection lists less",
            measured.introspection, budget.introspection
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphql::{Limits, build_schema, exec};

    async fn model() -> CostModel {
        exec::model(&build_schema()).await.unwrap()
    }

    fn measured(model: &CostModel, query: &str) -> Measured {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        measure(model, &doc, None, &Variables::default())
    }

    fn budget() -> Budget {
        exec::budget(&Limits::default())
    }

    /// Fragments that each spread the one below twice: 2^levels expansions in 1 KB.
    fn fragment_bomb(levels: usize) -> String {
        let mut q = String::from("query { ...G0 }\nfragment F0 on Query { brand { name } }\n");
        for i in 1..=levels {
            q.push_str(&format!("fragment F{i} on Query {{ ...F{} ...F{} }}\n", i - 1, i - 1));
        }
        q.replace("...G0", &format!("...F{levels}"))
    }

    #[tokio::test]
    async fn a_fragment_bomb_is_measured_in_linear_time_and_refused() {
        let model = model().await;
        let m = measured(&model, &fragment_bomb(40));
        assert!(m.fields > 1 << 40 && m.cost > 1 << 40, "{m:?}");
        assert!(check(&m, &budget()).unwrap_err().contains("--max-complexity"));
        // Fields count once per spread, however the fragments are shared.
        let small = measured(&model, &fragment_bomb(3));
        assert_eq!(small.cost, 8 * 2, "8 expansions of brand {{ name }}");
        assert!(check(&small, &budget()).is_ok());
    }

    #[tokio::test]
    async fn the_standard_introspection_query_passes_the_default_limits() {
        let model = model().await;
        let query = include_str!("../../tests/fixtures/introspection.graphql");
        let m = measured(&model, query);
        assert_eq!((m.cost, m.depth), (0, 0), "introspection is not data: {m:?}");
        assert!(m.introspection > 50_000, "its lists count their longest length: {m:?}");
        check(&m, &budget()).unwrap();
    }

    #[tokio::test]
    async fn nested_introspection_lists_are_refused() {
        let model = model().await;
        let nest =
            "{ __schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } } }";
        let m = measured(&model, nest);
        assert!(check(&m, &budget()).unwrap_err().contains("introspection"), "{m:?}");
    }

    #[tokio::test]
    async fn connections_count_their_edges_first_times_and_aggregates_their_weight() {
        let model = model().await;
        let page = measured(&model, "{ orders(first: 100) { totalCount edges { cursor node { id } } } }");
        // orders 1 + totalCount 100 + 100 × (edges 1 + cursor 1 + node 1 + id 1)
        assert_eq!(page.cost, 1 + 100 + 100 * 4);
        assert_eq!(page.depth, 4);
        let default = measured(&model, "{ orders { edges { node { id } } } }");
        assert_eq!(default.cost, 1 + 50 * 3);
        let doc = async_graphql::parser::parse_query("query($n: Int) { orders(first: $n) { edges { node { id } } } }")
            .unwrap();
        let vars = Variables::from_json(serde_json::json!({ "n": 10 }));
        assert_eq!(measure(&model, &doc, None, &vars).cost, 1 + 10 * 3);
        let dashboards = (0..30).map(|i| format!("d{i}: dashboard {{ orders }}")).collect::<Vec<_>>().join(" ");
        let m = measured(&model, &format!("{{ {dashboards} }}"));
        assert_eq!(m.cost, 30 * 1001);
        assert!(check(&m, &budget()).is_err());
    }

    #[test]
    fn the_scan_counts_field_selections_only() {
        let fields = |q: &str| scan(q).fields;
        assert_eq!(fields("{ a b: c ... on T { d } ...F @skip(if: true) e(x: {y: 1, z: [w]}) }"), 4);
        assert_eq!(fields("query Q($v: Int = 1) @dir { a }"), 1);
        assert_eq!(fields("fragment F on T { a b } query { ...F }"), 2);
        assert_eq!(fields("{ a(s: \"{ b } \\\" c\") # { d }\n }"), 1);
        assert_eq!(fields("{ a(s: \"\"\" { b } \\\"\"\" c \"\"\") }"), 1);
        assert_eq!(fields("{ ... @include(if: true) { a } on }"), 2, "`on` is a field name outside `... on`");
        assert_eq!(scan("{ a { b(x: [[[1]]]) } }").nesting, 6);
        assert_eq!(scan(&"{".repeat(100_000)).nesting, 100_000);
        assert_eq!(scan("{ a(x: -1.5e3, y: \"s\", z: [B]) }").tokens, 7);
    }

    #[tokio::test]
    async fn the_scan_never_counts_more_fields_than_the_measure() {
        let model = model().await;
        let docs = [
            include_str!("../../tests/fixtures/introspection.graphql").to_string(),
            fragment_bomb(6),
            "query($n: Int = 5) { a: orders(first: $n) { edges { node { id campaign { name } } } } ... on Query { brand { name } } }".into(),
            "{ campaigns { edges { node { members { creator { name } } performance(range: {from: \"2026-01-01T00:00:00Z\"}) { totals { sales } } } } } }".into(),
        ];
        for doc in docs {
            assert!(scan(&doc).fields <= measured(&model, &doc).fields, "{doc}");
            assert!(scan(&doc).fields > 0);
        }
    }

    #[tokio::test]
    async fn deep_nesting_through_fragments_is_refused_without_recursing_further() {
        let model = model().await;
        let mut q = String::from("query { ...F0 }\n");
        for i in 0..5000 {
            q.push_str(&format!("fragment F{i} on Query {{ ...F{} }}\n", i + 1));
        }
        q.push_str("fragment F5000 on Query { brand { name } }\n");
        let m = measured(&model, &q);
        assert!(m.nesting > MAX_NESTING);
        assert!(check(&m, &budget()).unwrap_err().contains("nests"));
    }
}
