//! What the engine lets through and GraphQL does not: a quoted string written where an
//! enum value goes (`status: "PAID"` for `status: PAID`). graphql-js refuses it, and so do
//! the clients and code generators built on it, so a document Tally accepted would break
//! as soon as a client checked it. In variables an enum value is a JSON string, as the
//! spec says; only literals in the document are checked here, once per document.
//!
//! Unknown arguments and input fields are named with the closest names the schema has
//! ("Did you mean"), as the engine already does for fields.
//!
//! Also here: a required variable the request did not send gets the message graphql-js
//! gives, instead of the engine's "Variable id is not defined".
use async_graphql::Variables;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql_value::Value;

use super::cost::CostModel;

/// The first enum written as a string in the document, as an error message.
pub fn check_enum_literals(model: &CostModel, document: &ExecutableDocument) -> Result<(), String> {
    let operations: Vec<&OperationDefinition> = match &document.operations {
        DocumentOperations::Single(op) => vec![&op.node],
        DocumentOperations::Multiple(ops) => ops.values().map(|op| &op.node).collect(),
    };
    for op in operations {
        if let Some(root) = model.root(op.ty) {
            selections(model, &op.selection_set.node, root)?;
        }
    }
    for fragment in document.fragments.values() {
        selections(model, &fragment.node.selection_set.node, fragment.node.type_condition.node.on.node.as_str())?;
    }
    Ok(())
}

/// Checks the arguments of every field under `set`, a selection on type `parent`.
/// Fragment spreads are left to the walk of their definition.
fn selections(model: &CostModel, set: &SelectionSet, parent: &str) -> Result<(), String> {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                let name = field.name.node.as_str();
                for (argument, value) in &field.arguments {
                    let argument = argument.node.as_str();
                    match model.argument_type(parent, name, argument) {
                        Some(ty) => value_of(model, ty, &value.node)?,
                        None => {
                            if let Some(known) = model.argument_names(parent, name) {
                                return Err(format!(
                                    "Unknown argument \"{argument}\" on field \"{parent}.{name}\".{}",
                                    did_you_mean(argument, &known)
                                ));
                            }
                        }
                    }
                }
                // An unknown field is the engine's to refuse, with its own message.
                if let Some(named) = model.field_type(parent, name) {
                    selections(model, &field.selection_set.node, named)?;
                }
            }
            Selection::InlineFragment(fragment) => {
                let on = fragment.node.type_condition.as_ref().map_or(parent, |t| t.node.on.node.as_str());
                selections(model, &fragment.node.selection_set.node, on)?;
            }
            Selection::FragmentSpread(_) => {}
        }
    }
    Ok(())
}

/// Checks a literal against the named input type it is written for.
fn value_of(model: &CostModel, ty: &str, value: &Value) -> Result<(), String> {
    match value {
        Value::String(text) => match model.enum_values(ty) {
            Some(values) => {
                let hint = if values.iter().any(|v| v == text) {
                    format!(" Did you mean the enum value {text}?")
                } else {
                    format!(" Its values are {}.", values.join(", "))
                };
                Err(format!("Enum \"{ty}\" cannot represent non-enum value: \"{text}\".{hint}"))
            }
            None => Ok(()),
        },
        Value::List(items) => items.iter().try_for_each(|item| value_of(model, ty, item)),
        Value::Object(fields) => fields.iter().try_for_each(|(name, value)| {
            let name = name.as_str();
            match (model.input_field_type(ty, name), model.input_field_names(ty)) {
                (Some(field), _) => value_of(model, field, value),
                (None, Some(known)) => {
                    Err(format!("Field \"{name}\" is not defined by type \"{ty}\".{}", did_you_mean(name, &known)))
                }
                (None, None) => Ok(()),
            }
        }),
        _ => Ok(()),
    }
}

/// The first variable the operation requires (non-null, no default) that the request
/// did not send, or sent as null, as an error message.
pub fn check_required_variables(op: &OperationDefinition, variables: &Variables) -> Result<(), String> {
    for definition in &op.variable_definitions {
        let definition = &definition.node;
        let ty = &definition.var_type.node;
        let name = definition.name.node.as_str();
        if ty.nullable || definition.default_value.is_some() {
            continue;
        }
        match variables.get(name) {
            None => return Err(format!("Variable \"${name}\" of required type \"{ty}\" was not provided.")),
            Some(async_graphql::Value::Null) => {
                return Err(format!("Variable \"${name}\" of non-null type \"{ty}\" must not be null."));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// " Did you mean "a" or "b"?" with the known names closest to `typed` (at most three,
/// each within about 40% of its length in edits, or equal but for case); empty when none is.
fn did_you_mean(typed: &str, known: &[&str]) -> String {
    let threshold = typed.len() * 2 / 5 + 1;
    let mut close: Vec<(usize, &str)> = (known.iter())
        .map(|name| {
            let same = name.eq_ignore_ascii_case(typed);
            (if same { 0 } else { edits(&typed.to_lowercase(), &name.to_lowercase()) }, *name)
        })
        .filter(|(distance, _)| *distance <= threshold)
        .collect();
    close.sort();
    let names: Vec<String> = close.iter().take(3).map(|(_, name)| format!("\"{name}\"")).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => format!(" Did you mean {one}?"),
        [init @ .., last] => format!(" Did you mean {} or {last}?", init.join(", ")),
    }
}

/// Edits (insertions, deletions, substitutions, swaps of neighbours) from `a` to `b`.
fn edits(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_the_closest_names() {
        assert_eq!(edits("frist", "first"), 1);
        assert_eq!(edits("stauts", "status"), 1);
        assert_eq!(edits("abc", ""), 3);
        assert_eq!(did_you_mean("frist", &["after", "first", "filter"]), " Did you mean \"first\"?");
        assert_eq!(did_you_mean("FIRST", &["first"]), " Did you mean \"first\"?");
        assert_eq!(did_you_mean("zzzzzz", &["first", "after"]), "");
        assert_eq!(did_you_mean("ab", &["abc", "abd", "xy"]), " Did you mean \"abc\" or \"abd\"?");
    }
}
