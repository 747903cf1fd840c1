//! Bearer-token authentication for the agent and knowledge APIs.
//!
//! Tokens are configured as SHA-256 hashes (`[[auth.tokens]]`); a request's
//! token is hashed and compared in constant time. Handlers take a [`Caller`]
//! and call [`Caller::require`] with the role they need.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use crate::config::{ApiToken, Role};

/// The authenticated holder of a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

impl Caller {
    /// `admin` may do everything; other roles only their own work.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role == role || self.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// Passes when the caller has any of the roles (or is admin).
    pub fn require_any(&self, roles: &[Role]) -> Result<(), ApiError> {
        if self.role == Role::Admin || roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// Hex SHA-256 of a token, as written in the configuration.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Finds the configured token matching `presented`, in constant time per entry.
pub fn authenticate(tokens: &[ApiToken], presented: &str) -> Option<Caller> {
    let digest = Sha256::digest(presented.as_bytes());
    let mut found = None;
    for token in tokens {
        let Ok(expected) = hex::decode(&token.sha256) else {
            continue;
        };
        if bool::from(expected.as_slice().ct_eq(digest.as_slice())) {
            found = Some(Caller {
                name: token.name.clone(),
                role: token.role,
            });
        }
    }
    found
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        caller_from_headers(&parts.headers, &state.config.auth.tokens).ok_or(ApiError::Unauthorized)
    }
}

/// The caller whose bearer token is in `headers`, if any token matches.
pub fn caller_from_headers(headers: &axum::http::HeaderMap, tokens: &[ApiToken]) -> Option<Caller> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))?
        .trim();
    authenticate(tokens, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Vec<ApiToken> {
        vec![
            ApiToken {
                name: "ana".into(),
                role: Role::Agent,
                sha256: hash_token("tok-ana"),
            },
            ApiToken {
                name: "eva".into(),
                role: Role::Editor,
                sha256: hash_token("tok-eva"),
            },
        ]
    }

    #[test]
    fn finds_the_matching_token_only() {
        assert_eq!(authenticate(&tokens(), "tok-ana").unwrap().name, "ana");
        assert_eq!(
            authenticate(&tokens(), "tok-eva").unwrap().role,
            Role::Editor
        );
        assert!(authenticate(&tokens(), "tok-nobody").is_none());
    }

    #[test]
    fn roles_are_checked() {
        let agent = Caller {
            name: "ana".into(),
            role: Role::Agent,
        };
        assert!(agent.require(Role::Agent).is_ok());
        assert!(agent.require(Role::Editor).is_err());
        let admin = Caller {
            name: "root".into(),
            role: Role::Admin,
        };
        assert!(admin.require(Role::Editor).is_ok());
    }
}
