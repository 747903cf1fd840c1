//! `/api/kb`: the knowledge base for editors (bearer token, role `editor`).
//!
//! List, read, create, update and delete articles, and preview what a
//! message would retrieve. Edits are validated like files on disk, written
//! into the knowledge directory (which stays the source of truth, so git and
//! text editors keep working) and reloaded at once. Every handler checks the
//! role before it reads the body, so a wrong token changes nothing.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use crate::config::Role;
use crate::knowledge::editor::{ArticleInput, EditError, WriteMode, delete_article, write_article};
use crate::knowledge::{Article, Decision, ScoredHit, decide};

/// Most passages a search preview returns.
const MAX_PREVIEW: usize = 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/kb/articles", get(list).post(create))
        .route(
            "/api/kb/articles/{*id}",
            get(read).put(update).delete(remove),
        )
        .route("/api/kb/search", get(search))
        .route("/api/kb/errors", get(errors))
}

/// An article in list responses.
#[derive(Debug, Serialize)]
struct Summary {
    id: String,
    title: String,
    tags: Vec<String>,
    lang: Option<String>,
    queue: Option<String>,
    escalate: bool,
    questions: usize,
    passages: usize,
}

/// A full article.
#[derive(Debug, Serialize)]
struct ArticleView {
    id: String,
    #[serde(flatten)]
    article: ArticleInput,
    passages: Vec<Option<String>>,
}

impl From<&Article> for ArticleView {
    fn from(article: &Article) -> Self {
        Self {
            id: article.id.clone(),
            article: ArticleInput::from(article),
            passages: article.passages.iter().map(|p| p.heading.clone()).collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct CreateArticle {
    id: String,
    #[serde(flatten)]
    article: ArticleInput,
}

#[derive(Debug, Deserialize)]
struct SearchParams {
    q: String,
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
struct SearchPreview {
    query: String,
    min_confidence: f32,
    decision: Decision,
    hits: Vec<ScoredHit>,
}

async fn list(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<Vec<Summary>>, ApiError> {
    caller.require(Role::Editor)?;
    let list = state
        .knowledge
        .articles()
        .iter()
        .map(|a| Summary {
            id: a.id.clone(),
            title: a.title.clone(),
            tags: a.tags.clone(),
            lang: a.lang.clone(),
            queue: a.queue.clone(),
            escalate: a.escalate,
            questions: a.questions.len(),
            passages: a.passages.len(),
        })
        .collect();
    Ok(Json(list))
}

async fn read(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ArticleView>, ApiError> {
    caller.require(Role::Editor)?;
    let article = state.knowledge.article(&id).ok_or(ApiError::NotFound)?;
    Ok(Json(ArticleView::from(article.as_ref())))
}

async fn create(
    caller: Caller,
    State(state): State<AppState>,
    body: Result<Json<CreateArticle>, JsonRejection>,
) -> Result<(StatusCode, Json<ArticleView>), ApiError> {
    caller.require(Role::Editor)?;
    let Json(body) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let article = save(&state, body.id, body.article, WriteMode::Create).await?;
    tracing::info!(editor = %caller.name, article = %article.id, "article created");
    Ok((StatusCode::CREATED, Json(ArticleView::from(&article))))
}

async fn update(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<ArticleInput>, JsonRejection>,
) -> Result<Json<ArticleView>, ApiError> {
    caller.require(Role::Editor)?;
    let Json(body) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let article = save(&state, id, body, WriteMode::Update).await?;
    tracing::info!(editor = %caller.name, article = %article.id, "article updated");
    Ok(Json(ArticleView::from(&article)))
}

async fn remove(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Editor)?;
    let dir = state.knowledge.knowledge_dir().to_owned();
    let target = id.clone();
    tokio::task::spawn_blocking(move || delete_article(&dir, &target))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(edit_error)?;
    state.knowledge.reload().await?;
    tracing::info!(editor = %caller.name, article = %id, "article deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn search(
    caller: Caller,
    State(state): State<AppState>,
    Query(params): Query<SearchParams>,
) -> Result<Json<SearchPreview>, ApiError> {
    caller.require(Role::Editor)?;
    let limit = params
        .limit
        .unwrap_or(state.knowledge.top_k())
        .clamp(1, MAX_PREVIEW);
    let hits = state.knowledge.search_explained(&params.q, limit).await?;
    let plain: Vec<_> = hits.iter().map(|h| h.hit.clone()).collect();
    let min_confidence = state.knowledge.min_confidence();
    Ok(Json(SearchPreview {
        query: params.q,
        min_confidence,
        decision: decide(&plain, min_confidence),
        hits,
    }))
}

async fn errors(
    caller: Caller,
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Role::Editor)?;
    let errors: Vec<_> = state
        .knowledge
        .load_errors()
        .into_iter()
        .map(|e| serde_json::json!({ "path": e.path, "reason": e.reason }))
        .collect();
    Ok(Json(serde_json::json!({ "errors": errors })))
}

/// Validates and writes off the async workers, then reloads the index.
async fn save(
    state: &AppState,
    id: String,
    input: ArticleInput,
    mode: WriteMode,
) -> Result<Article, ApiError> {
    let dir = state.knowledge.knowledge_dir().to_owned();
    let article = tokio::task::spawn_blocking(move || write_article(&dir, &id, &input, mode))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(edit_error)?;
    state.knowledge.reload().await?;
    Ok(article)
}

fn edit_error(error: EditError) -> ApiError {
    match error {
        EditError::Invalid(reason) => ApiError::Unprocessable(reason),
        EditError::Exists(id) => ApiError::Conflict {
            message: format!("article {id} already exists"),
            details: serde_json::json!({ "id": id }),
        },
        EditError::NotFound(_) => ApiError::NotFound,
        EditError::Io(e) => ApiError::Internal(e.into()),
    }
}
