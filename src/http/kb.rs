//! `/api/kb`: the knowledge base for editors (bearer token, role `editor`).
//!
//! List, read, create, update and delete articles, preview what a message
//! would retrieve, and list the questions customers asked that no article
//! answered (grouped, each with a draft article). An article comes with its
//! handoff passages (sections that say a person handles an operation), so
//! editors see what the bot hands to a person. Edits are validated like
//! files on disk, written into the knowledge directory (which stays the
//! source of truth, so git and text editors keep working) and reloaded at
//! once. Every handler checks the role before it reads the body, so a wrong
//! token changes nothing.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use crate::config::Role;
use crate::knowledge::editor::{ArticleInput, EditError, WriteMode, delete_article, write_article};
use crate::knowledge::handoff::{HandoffPassage, handoff_passages};
use crate::knowledge::unanswered::{Corpus, QuestionGroup, group_questions, note_answered};
use crate::knowledge::{Article, Coverage, ScoredHit, decide};

/// Most passages a search preview returns.
const MAX_PREVIEW: usize = 20;
/// Unanswered questions look this far back unless `since` says otherwise.
const UNANSWERED_DEFAULT_DAYS: i64 = 30;
/// Groups of unanswered questions returned unless `limit` says otherwise.
const UNANSWERED_DEFAULT_GROUPS: usize = 20;
const UNANSWERED_MAX_GROUPS: usize = 100;
/// The most recent unanswered turns grouped per request: grouping compares
/// every pair, and a few hundred messages show the recurring topics.
const UNANSWERED_MAX_TURNS: i64 = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/kb/articles", get(list).post(create))
        .route(
            "/api/kb/articles/{*id}",
            get(read).put(update).delete(remove),
        )
        .route("/api/kb/search", get(search))
        .route("/api/kb/errors", get(errors))
        .route(UNANSWERED, get(unanswered))
}

/// The routes described in `api/openapi.json` besides the agent API's.
pub const DOCUMENTED_ROUTES: &[(&str, &str)] = &[("get", UNANSWERED), ("get", ARTICLE_DOC)];

const UNANSWERED: &str = "/api/kb/unanswered";
/// `GET /api/kb/articles/{*id}` as the OpenAPI document names it.
const ARTICLE_DOC: &str = "/api/kb/articles/{id}";

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
    /// The passages handed to a person (detected or marked).
    handoff: Vec<HandoffPassage>,
}

impl From<&Article> for ArticleView {
    fn from(article: &Article) -> Self {
        Self {
            id: article.id.clone(),
            article: ArticleInput::from(article),
            passages: article.passages.iter().map(|p| p.heading.clone()).collect(),
            handoff: handoff_passages(article),
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

#[derive(Debug, Deserialize)]
struct UnansweredParams {
    /// RFC 3339; default [`UNANSWERED_DEFAULT_DAYS`] ago.
    since: Option<DateTime<Utc>>,
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
struct UnansweredList {
    since: DateTime<Utc>,
    /// Unanswered turns read (before grouping).
    questions: usize,
    groups: Vec<QuestionGroup>,
}

#[derive(Debug, Serialize)]
struct SearchPreview {
    query: String,
    min_confidence: f32,
    decision: Coverage,
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

async fn unanswered(
    caller: Caller,
    State(state): State<AppState>,
    params: Result<Query<UnansweredParams>, QueryRejection>,
) -> Result<Json<UnansweredList>, ApiError> {
    caller.require(Role::Editor)?;
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let since = params
        .since
        .unwrap_or_else(|| state.clock.now() - chrono::Duration::days(UNANSWERED_DEFAULT_DAYS));
    let limit = params
        .limit
        .unwrap_or(UNANSWERED_DEFAULT_GROUPS)
        .clamp(1, UNANSWERED_MAX_GROUPS);
    let asked = state
        .store
        .unanswered_questions(since, UNANSWERED_MAX_TURNS)
        .await?;
    let questions = asked.len();
    let articles = state.knowledge.articles();
    // Weighing the knowledge base's words and comparing every pair is CPU
    // work: off the async workers.
    let mut groups = tokio::task::spawn_blocking(move || {
        group_questions(&asked, &Corpus::from_articles(&articles))
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    groups.truncate(limit);
    note_answered(&mut groups, &state.knowledge).await?;
    Ok(Json(UnansweredList {
        since,
        questions,
        groups,
    }))
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
