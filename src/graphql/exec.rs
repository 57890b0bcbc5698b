//! One door for every GraphQL operation, whichever transport brought it: parse once,
//! measure (`cost`), refuse what exceeds a limit with LIMIT_EXCEEDED, and only then hand
//! the parsed document to the engine.
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{Request, ServerError};

use super::Limits;
use super::cost::{self, Budget, CostModel, Measured};
use crate::error::AppError;

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

/// Parses and measures one operation; the document is parsed once, here.
pub fn prepare(model: &CostModel, limits: &Limits, mut request: Request) -> Result<Prepared, AppError> {
    cost::check_scan(&cost::scan(&request.query), &budget(limits)).map_err(AppError::LimitExceeded)?;
    let document = async_graphql::parser::parse_query(&request.query).map_err(|err| match err {
        async_graphql::parser::Error::RecursionLimitExceeded => AppError::LimitExceeded(format!(
            "the query nests selection sets more than {PARSER_NESTING} deep; the depth limit is {} \
             (--max-depth or TALLY_MAX_DEPTH)",
            limits.depth
        )),
        other => AppError::BadUserInput { message: ServerError::from(other).message, field: None },
    })?;
    let measured = cost::measure(model, &document, request.operation_name.as_deref(), &request.variables);
    cost::check(&measured, &budget(limits)).map_err(AppError::LimitExceeded)?;
    let kind = cost::chosen(&document, request.operation_name.as_deref()).map(|op| op.ty);
    request.set_parsed_query(document.clone());
    Ok(Prepared { request, measured, kind, document })
}

/// Reads the cost model from the schema's own introspection.
pub async fn model(schema: &super::TallySchema) -> anyhow::Result<CostModel> {
    let response = schema.execute(cost::MODEL_QUERY).await;
    if let Some(err) = response.errors.first() {
        anyhow::bail!("introspecting the schema for the cost model: {}", err.message);
    }
    CostModel::from_introspection(response.data.into_json()?)
}
