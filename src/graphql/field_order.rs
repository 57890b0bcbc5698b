//! Puts each object's fields back in the order the query asked for them (GraphQL spec
//! §7.2.2). async-graphql 7.2 resolves sibling fields concurrently and keeps them in the
//! order they finish, so `{ campaign { name } sales }` could come back as
//! `{"sales", "campaign"}`; this walks the query and reorders the response to match.
use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, FragmentDefinition, Selection, SelectionSet};
use async_graphql::{Name, Positioned, Value};

/// Reorders `data` to follow the operation `operation_name` of `document`. Anything it
/// cannot match is left where it is.
pub fn reorder(document: &ExecutableDocument, operation_name: Option<&str>, data: &mut Value) {
    if let Some(op) = super::cost::chosen(document, operation_name) {
        let plan = Plan::of(&document.fragments, &[&op.selection_set.node], 0);
        plan.arrange(data);
    }
}

/// The response keys of one level in query order, each with the plan of the level below:
/// worked out once per operation, then laid over every object of a list.
#[derive(Default)]
struct Plan<'a> {
    fields: Vec<(&'a str, Plan<'a>)>,
}

impl<'a> Plan<'a> {
    fn of(
        fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
        sets: &[&'a SelectionSet],
        depth: usize,
    ) -> Plan<'a> {
        let mut level = Vec::new();
        keys(fragments, sets, &mut level, 0);
        let fields = level
            .into_iter()
            .map(|(key, subs)| {
                let below = if depth < 64 { Plan::of(fragments, &subs, depth + 1) } else { Plan::default() };
                (key, below)
            })
            .collect();
        Plan { fields }
    }

    fn arrange(&self, value: &mut Value) {
        match value {
            Value::List(items) => items.iter_mut().for_each(|item| self.arrange(item)),
            Value::Object(map) => {
                // Most objects come back in order already: then nothing is moved.
                if !self.in_order(map.keys().map(|k| k.as_str())) {
                    let mut old = std::mem::take(map);
                    for (key, _) in &self.fields {
                        if let Some((name, child)) = old.shift_remove_entry(*key) {
                            map.insert(name, child);
                        }
                    }
                    map.extend(old);
                }
                for (key, below) in &self.fields {
                    if let Some(child) = map.get_mut(*key).filter(|_| !below.fields.is_empty()) {
                        below.arrange(child);
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether these keys appear in the plan's order (each one planned).
    fn in_order<'k>(&self, keys: impl Iterator<Item = &'k str>) -> bool {
        let mut planned = self.fields.iter();
        keys.into_iter().all(|key| planned.any(|(k, _)| *k == key))
    }
}

/// The response keys of these selection sets in query order, each with the selection
/// sets of its sub-fields (a key may be selected several times, e.g. through fragments).
fn keys<'a>(
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    sets: &[&'a SelectionSet],
    out: &mut Vec<(&'a str, Vec<&'a SelectionSet>)>,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    for set in sets {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let key = field.alias.as_ref().map(|a| a.node.as_str()).unwrap_or(field.name.node.as_str());
                    let sub = &field.selection_set.node;
                    match out.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, subs)) => subs.push(sub),
                        None => out.push((key, vec![sub])),
                    }
                }
                Selection::InlineFragment(inline) => {
                    keys(fragments, &[&inline.node.selection_set.node], out, depth + 1)
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = fragments.get(&spread.node.fragment_name.node) {
                        keys(fragments, &[&fragment.node.selection_set.node], out, depth + 1);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_follow_the_query_through_aliases_lists_and_fragments() {
        let query = "query Q { b: brand { name id } list { ...F ... on T { z } } } fragment F on T { y x }";
        let mut data = async_graphql::value!({
            "list": [{ "x": 1, "z": 3, "y": 2 }, { "z": 6, "x": 4, "y": 5 }],
            "b": { "id": "1", "name": "n" },
        });
        let document = async_graphql::parser::parse_query(query).unwrap();
        reorder(&document, Some("Q"), &mut data);
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"b":{"name":"n","id":"1"},"list":[{"y":2,"x":1,"z":3},{"y":5,"x":4,"z":6}]}"#
        );
    }
}
