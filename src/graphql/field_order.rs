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
        apply(document, &[&op.selection_set.node], data, 0);
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

fn apply(document: &ExecutableDocument, sets: &[&SelectionSet], value: &mut Value, depth: usize) {
    if depth > 64 {
        return;
    }
    match value {
        Value::List(items) => {
            for item in items {
                apply(document, sets, item, depth + 1);
            }
        }
        Value::Object(map) => {
            let mut order = Vec::new();
            keys(&document.fragments, sets, &mut order, 0);
            let mut old = std::mem::take(map);
            for (key, subs) in order {
                if let Some((name, mut child)) = old.shift_remove_entry(key) {
                    apply(document, &subs, &mut child, depth + 1);
                    map.insert(name, child);
                }
            }
            map.extend(old);
        }
        _ => {}
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
