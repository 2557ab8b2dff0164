//! Step 4, auth: obtain the password (environment, Secrets Manager or an RDS IAM token)
//! and run PostgreSQL's startup and authentication over the stream of the TLS step
//! (`tokio_postgres::Config::connect_raw`), so each layer's failure stays separate.
//!
//! Server refusals carry a SQLSTATE that names the cause (see [`super::classify`]):
//! 28P01 bad password, 28000 no pg_hba.conf entry or an IAM token failure, 3D000 database
//! missing, 53300 too many connections, 57P03 starting up or shutting down.
//!
//! The password and the IAM token never leave this module except to the server.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

use super::aws;
use super::target::{PasswordSource, ProbeTarget, Secret};
use super::tls::PgStream;

/// Why the password could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// `GetSecretValue` failed (missing secret, no permission, endpoint unreachable).
    #[error("cannot read Secrets Manager secret {secret_id}: {message}")]
    SecretsManager {
        /// The configured secret.
        secret_id: String,
        /// What AWS said.
        message: String,
    },
    /// The secret has no string value (binary secret).
    #[error("Secrets Manager secret {0} has no SecretString")]
    NotAString(String),
    /// The secret is JSON but lacks the configured key.
    #[error("Secrets Manager secret {secret_id} is JSON without a string field `{key}`")]
    MissingKey {
        /// The configured secret.
        secret_id: String,
        /// The expected field.
        key: String,
    },
    /// The IAM token could not be signed (no credentials).
    #[error("cannot sign an RDS IAM token: {0}")]
    IamToken(String),
}

/// Why login failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The password could not be obtained.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// The server refused the login with a SQLSTATE.
    #[error("{severity} {code}: {message}")]
    Server {
        /// SQLSTATE, e.g. `28P01`.
        code: String,
        /// Severity (FATAL, ERROR).
        severity: String,
        /// The server's message (with detail and hint when given).
        message: String,
    },
    /// The server asked for a password and none was configured.
    #[error("the server asked for a password but none is configured{0}")]
    PasswordMissing(String),
    /// The server hung up without an error message.
    #[error("server closed the connection during startup")]
    Closed,
    /// Any other protocol or I/O failure.
    #[error("startup failed: {0}")]
    Other(String),
    /// Credentials plus startup did not finish in time.
    #[error(
        "no answer within {0:?} (credentials, startup and authentication): the server is hung or overloaded, or something that is not PostgreSQL accepted the connection"
    )]
    Timeout(Duration),
}

/// A logged-in session. Dropping it closes the connection.
pub struct Session {
    /// The client for the query and saturation steps.
    pub client: Client,
    task: JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Fetch the password and log in over `stream` within `limit`.
pub async fn login(
    stream: Box<dyn PgStream>,
    target: &ProbeTarget,
    limit: Duration,
) -> Result<Session, AuthError> {
    match tokio::time::timeout(limit, login_inner(stream, target)).await {
        Ok(r) => r,
        Err(_) => Err(AuthError::Timeout(limit)),
    }
}

async fn login_inner(
    stream: Box<dyn PgStream>,
    target: &ProbeTarget,
) -> Result<Session, AuthError> {
    let password = password(target).await?;
    let mut config = tokio_postgres::Config::new();
    config
        .user(&target.user)
        .dbname(&target.dbname)
        .application_name(&target.application_name)
        .ssl_mode(tokio_postgres::config::SslMode::Disable);
    if let Some(pw) = &password {
        config.password(pw.expose());
    }
    let (client, connection) = config
        .connect_raw(stream, NoTls)
        .await
        .map_err(|e| auth_error(&e, target))?;
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "probe connection ended");
        }
    });
    Ok(Session { client, task })
}

fn auth_error(e: &tokio_postgres::Error, target: &ProbeTarget) -> AuthError {
    if let Some(db) = e.as_db_error() {
        let mut message = db.message().to_string();
        if let Some(d) = db.detail() {
            message.push_str(&format!(" (detail: {d})"));
        }
        if let Some(h) = db.hint() {
            message.push_str(&format!(" (hint: {h})"));
        }
        return AuthError::Server {
            code: db.code().code().to_string(),
            severity: db.severity().to_string(),
            message,
        };
    }
    if e.is_closed() {
        return AuthError::Closed;
    }
    let text = with_causes(e);
    if text.contains("password missing") {
        let hint = match &target.password {
            PasswordSource::Env(var) => format!(" (environment variable {var} is not set)"),
            PasswordSource::None => " (set `password` in the target)".to_string(),
            _ => String::new(),
        };
        return AuthError::PasswordMissing(hint);
    }
    AuthError::Other(text)
}

/// An error and its causes on one line (tokio-postgres puts the useful part in `source`).
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

/// The password for this run, fetched fresh each time (rotation, token expiry).
pub async fn password(target: &ProbeTarget) -> Result<Option<Secret>, CredentialError> {
    match &target.password {
        PasswordSource::None => Ok(None),
        PasswordSource::Inline(s) => Ok(Some(s.clone())),
        PasswordSource::Env(var) => Ok(std::env::var(var).ok().map(Secret::new)),
        PasswordSource::SecretsManager {
            secret_id,
            json_key,
        } => {
            let sdk = aws::sdk_config(&target.aws).await;
            let client = aws_sdk_secretsmanager::Client::new(&sdk);
            let out = client
                .get_secret_value()
                .secret_id(secret_id)
                .send()
                .await
                .map_err(|e| CredentialError::SecretsManager {
                    secret_id: secret_id.clone(),
                    message: aws::error_text(&e),
                })?;
            let text = out
                .secret_string()
                .ok_or_else(|| CredentialError::NotAString(secret_id.clone()))?;
            secret_password(text, secret_id, json_key).map(Some)
        }
        PasswordSource::RdsIam => {
            let sdk = aws::sdk_config(&target.aws).await;
            iam_token(target, &sdk).await.map(Some)
        }
    }
}

/// A fresh RDS IAM token for the target's host, port and user: a SigV4 presigned URL
/// (service `rds-db`, 15 minutes) signed locally; no network call. Bad credentials or a
/// missing `rds_iam` grant only show at login, as SQLSTATE 28000 (PAM).
async fn iam_token(
    target: &ProbeTarget,
    sdk: &aws_config::SdkConfig,
) -> Result<Secret, CredentialError> {
    let mut cfg = aws_sdk_rds::auth_token::Config::builder()
        .hostname(&target.host)
        .port(u64::from(target.port))
        .username(&target.user);
    if let Some(region) = sdk.region() {
        cfg = cfg.region(region.clone());
    }
    let cfg = cfg
        .build()
        .map_err(|e| CredentialError::IamToken(e.to_string()))?;
    let token = aws_sdk_rds::auth_token::AuthTokenGenerator::new(cfg)
        .auth_token(sdk)
        .await
        .map_err(|e| CredentialError::IamToken(e.to_string()))?;
    Ok(Secret::new(token.as_str()))
}

/// The password inside a secret's string: a JSON object's `json_key` field (the shape of
/// RDS-managed secrets), or the whole string when it is not a JSON object.
fn secret_password(text: &str, secret_id: &str, json_key: &str) -> Result<Secret, CredentialError> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => map
            .get(json_key)
            .and_then(|v| v.as_str())
            .map(Secret::new)
            .ok_or_else(|| CredentialError::MissingKey {
                secret_id: secret_id.to_string(),
                key: json_key.to_string(),
            }),
        _ => Ok(Secret::new(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_shapes() {
        let pw =
            secret_password(r#"{"username":"app","password":"pw1"}"#, "s", "password").unwrap();
        assert_eq!(pw.expose(), "pw1");
        assert_eq!(
            secret_password("plain", "s", "password").unwrap().expose(),
            "plain"
        );
        let err = secret_password(r#"{"user":"x"}"#, "s", "password").unwrap_err();
        assert!(err.to_string().contains("`password`"), "{err}");
        assert!(!err.to_string().contains("\"x\""), "{err}");
    }

    #[tokio::test]
    async fn env_and_inline_passwords() {
        let mut t = ProbeTarget::new("t", "h", 5432, "d", "u");
        t.password = PasswordSource::Env("BURNWATCH_TEST_SURELY_UNSET_VAR".into());
        assert!(password(&t).await.unwrap().is_none());
        t.password = PasswordSource::Inline(Secret::new("x"));
        assert_eq!(password(&t).await.unwrap().unwrap().expose(), "x");
    }

    #[tokio::test]
    async fn iam_token_is_signed_locally_for_the_target() {
        let t = ProbeTarget::new("t", "db.example", 6432, "d", "probe");
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::v2026_01_12())
            .region(aws_config::Region::new("eu-central-1"))
            .test_credentials()
            .load()
            .await;
        let token = iam_token(&t, &sdk).await.unwrap();
        let text = token.expose();
        assert!(
            text.starts_with("db.example:6432/?Action=connect&DBUser=probe"),
            "{text}"
        );
        assert!(
            text.contains("eu-central-1%2Frds-db%2Faws4_request"),
            "{text}"
        );
        assert!(!format!("{token:?}").contains("X-Amz"));
    }
}
