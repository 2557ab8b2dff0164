//! Map every step failure to the design's fixed classification vocabulary, in one place,
//! so the runbook a failure links to is decided by a table a reviewer can read.
//!
//! Decisions worth knowing:
//! - A timeout belongs to the step it happened in: a listener that accepts TCP and never
//!   answers is `tls_failed` (no answer to SSLRequest) or, with `sslmode=disable`,
//!   `auth_failed` (no answer to the startup message); the detail says "no answer".
//! - TCP: any address timing out or unreachable → `tcp_timeout` (packets dropped on the
//!   path); all refused → `tcp_refused`.
//! - Auth: by SQLSTATE (table in [`sqlstate`]); failing to *obtain* credentials
//!   (Secrets Manager, IAM signing) is also `auth_failed`.
//! - Query: an error or a read-only server where read-write is expected → `query_failed`;
//!   over the threshold or timed out → `query_slow`.
//! - Saturation: above the threshold → `saturation_high`; failing to count →
//!   `query_failed`.
//! - RDS: a status that does not serve connections, a missing instance, or an API
//!   failure → `rds_not_available` (the detail tells which).

use crate::probe::model::Classification;

use super::auth::AuthError;
use super::dns::DnsError;
use super::query::QueryError;
use super::rds::RdsError;
use super::tcp::TcpError;
use super::tls::TlsError;

/// Classification and a one-line explanation for a SQLSTATE the server sent during
/// startup. `message` disambiguates 28000, which covers both pg_hba.conf rejections and
/// RDS IAM token failures (IAM auth runs through PAM, and PostgreSQL reports PAM
/// failures as 28000, not 28P01).
pub fn sqlstate(code: &str, message: &str) -> (Classification, &'static str) {
    match code {
        "28P01" => (
            Classification::AuthFailed,
            "wrong password for this user (password, md5 or SCRAM)",
        ),
        "28000" if message.contains("PAM authentication failed") => (
            Classification::AuthFailed,
            "RDS IAM authentication failed: token expired (>15 min) or signed for another host/port/user/region, missing rds_iam grant, or missing rds-db:connect permission",
        ),
        "28000" if message.contains("no pg_hba.conf entry") => (
            Classification::AuthFailed,
            "no pg_hba.conf entry allows this host/user/database/encryption (on RDS: rds.force_ssl rejects plaintext)",
        ),
        "28000" => (
            Classification::AuthFailed,
            "login not authorized (role without LOGIN, or rejected by pg_hba.conf)",
        ),
        "3D000" => (Classification::DbMissing, "the database does not exist"),
        "53300" => (
            Classification::TooManyConnections,
            "no connection slot free (max_connections, or a role/database CONNECTION LIMIT)",
        ),
        "57P03" => (
            Classification::DbStartingOrShuttingDown,
            "the server is starting up, shutting down or in crash recovery",
        ),
        "57P01" | "57P02" => (
            Classification::DbStartingOrShuttingDown,
            "the server is shutting down (administrator command or crash)",
        ),
        _ => (Classification::AuthFailed, "the server refused the login"),
    }
}

impl DnsError {
    /// Always `dns_failed`.
    pub fn classification(&self) -> Classification {
        Classification::DnsFailed
    }
}

impl TcpError {
    /// `tcp_timeout` when the path drops packets, `tcp_refused` when nothing listens.
    pub fn classification(&self) -> Classification {
        if self.path_blocked() {
            Classification::TcpTimeout
        } else {
            Classification::TcpRefused
        }
    }
}

impl TlsError {
    /// Always `tls_failed`.
    pub fn classification(&self) -> Classification {
        Classification::TlsFailed
    }
}

impl AuthError {
    /// By SQLSTATE; everything else in this step is `auth_failed`.
    pub fn classification(&self) -> Classification {
        match self {
            AuthError::Server { code, message, .. } => sqlstate(code, message).0,
            _ => Classification::AuthFailed,
        }
    }

    /// The error with the SQLSTATE's explanation appended.
    pub fn detail(&self) -> String {
        match self {
            AuthError::Server { code, message, .. } => {
                format!("{self} — {}", sqlstate(code, message).1)
            }
            _ => self.to_string(),
        }
    }
}

impl QueryError {
    /// A timeout is `query_slow` (slower than the timeout); errors are `query_failed`.
    pub fn classification(&self) -> Classification {
        match self {
            QueryError::Timeout(_) => Classification::QuerySlow,
            _ => Classification::QueryFailed,
        }
    }
}

impl RdsError {
    /// Always `rds_not_available`.
    pub fn classification(&self) -> Classification {
        Classification::RdsNotAvailable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstate_table() {
        let c = |code, msg| sqlstate(code, msg).0;
        assert_eq!(
            c("28P01", "password authentication failed for user \"app\""),
            Classification::AuthFailed
        );
        assert_eq!(
            c("3D000", "database \"x\" does not exist"),
            Classification::DbMissing
        );
        assert_eq!(
            c("53300", "sorry, too many clients already"),
            Classification::TooManyConnections
        );
        assert_eq!(
            c("57P03", "the database system is starting up"),
            Classification::DbStartingOrShuttingDown
        );
        assert_eq!(
            c(
                "57P01",
                "terminating connection due to administrator command"
            ),
            Classification::DbStartingOrShuttingDown
        );
        assert_eq!(c("XX000", "internal error"), Classification::AuthFailed);
    }

    #[test]
    fn iam_token_failures_arrive_as_28000_pam() {
        // What RDS sends for an expired or wrongly signed IAM token (cannot be produced
        // by a local PostgreSQL, so the classifier is tested with the message itself).
        let e = AuthError::Server {
            code: "28000".into(),
            severity: "FATAL".into(),
            message: "PAM authentication failed for user \"burnwatch_probe\"".into(),
        };
        assert_eq!(e.classification(), Classification::AuthFailed);
        let d = e.detail();
        assert!(
            d.starts_with("FATAL 28000: PAM authentication failed"),
            "{d}"
        );
        assert!(d.contains("RDS IAM authentication failed"), "{d}");

        let hba = AuthError::Server {
            code: "28000".into(),
            severity: "FATAL".into(),
            message: "no pg_hba.conf entry for host \"10.0.1.2\", user \"app\", database \"db\", no encryption".into(),
        };
        assert!(hba.detail().contains("rds.force_ssl"), "{}", hba.detail());
    }

    #[test]
    fn query_timeouts_are_slow_not_failed() {
        assert_eq!(
            QueryError::Timeout(std::time::Duration::from_secs(1)).classification(),
            Classification::QuerySlow
        );
        assert_eq!(
            QueryError::Server {
                code: "25006".into(),
                message: "read-only".into()
            }
            .classification(),
            Classification::QueryFailed
        );
    }
}
