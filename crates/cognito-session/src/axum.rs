//! The axum extractors (feature `axum`): `Session` and `Option<Session>` from [`SessionLayer`].
//!
//! `Session` refuses with 401 when the request has no session (a public route without one);
//! `Option<Session>` never refuses. Both answer 500 when the router lacks [`SessionLayer`], so a
//! forgotten layer cannot look like an anonymous user.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use cognito_session::{Session, SessionLayer, Sessions};
//!
//! async fn me(session: Session) -> String {
//!     format!("hello {}", session.username())
//! }
//!
//! async fn home(session: Option<Session>) -> String {
//!     session.map_or("welcome".into(), |s| format!("welcome back {}", s.username()))
//! }
//!
//! # async fn f() -> Result<(), cognito_session::Error> {
//! let sessions = Sessions::from_env().await?;
//! let app: Router = Router::new()
//!     .route("/me", get(me))
//!     .route("/", get(home))
//!     .layer(SessionLayer::new(sessions).public("/"));
//! # let _ = app;
//! # Ok(()) }
//! ```
//!
//! [`SessionLayer`]: crate::SessionLayer

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::StatusCode;

use crate::http::layer::Checked;
use crate::Session;

/// Why the `Session` extractor refused a request.
///
/// ```
/// use axum_core::response::IntoResponse;
/// use cognito_session::axum::SessionRejection;
/// assert_eq!(SessionRejection::NoSession.into_response().status(), 401);
/// assert_eq!(SessionRejection::NoLayer.into_response().status(), 500);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// The request went through [`SessionLayer`](crate::SessionLayer) on a public route and
    /// has no session: 401.
    #[error("the request has no session")]
    NoSession,
    /// The router has no [`SessionLayer`](crate::SessionLayer): 500.
    #[error("the route is not behind SessionLayer")]
    NoLayer,
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            SessionRejection::NoSession => (StatusCode::UNAUTHORIZED, "Unauthorized"),
            SessionRejection::NoLayer => {
                tracing::error!("a Session extractor is used on a route without SessionLayer");
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        };
        let body = serde_json::json!({ "error": message }).to_string();
        (status, [(CONTENT_TYPE, "application/json")], body).into_response()
    }
}

fn from_parts(parts: &Parts) -> Result<Option<Session>, SessionRejection> {
    if parts.extensions.get::<Checked>().is_none() {
        return Err(SessionRejection::NoLayer);
    }
    Ok(parts.extensions.get::<Session>().cloned())
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        from_parts(parts)?.ok_or(SessionRejection::NoSession)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        from_parts(parts)
    }
}
