//! Step 1, DNS: resolve the endpoint the way libpq does (the system resolver:
//! `/etc/hosts`, nsswitch, then DNS), and report every address. An RDS failover changes
//! the address behind the endpoint's CNAME, so the addresses in successive runs show
//! when clients were switched.

use std::net::SocketAddr;
use std::time::Duration;

/// Why the endpoint did not resolve.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The resolver answered with an error (NXDOMAIN, SERVFAIL, no route to a resolver).
    #[error("{host} did not resolve: {source}")]
    Lookup {
        /// The name asked for.
        host: String,
        /// What the system resolver said.
        source: std::io::Error,
    },
    /// The name exists but has no usable address records.
    #[error("{host} resolved to no addresses")]
    NoAddresses {
        /// The name asked for.
        host: String,
    },
    /// The resolver did not answer in time.
    #[error("no answer from the resolver for {host} within {limit:?}")]
    Timeout {
        /// The name asked for.
        host: String,
        /// The step's timeout.
        limit: Duration,
    },
}

/// Resolve `host:port` to socket addresses within `limit`, in resolver order, duplicates
/// removed. IP literals resolve to themselves.
pub async fn resolve(host: &str, port: u16, limit: Duration) -> Result<Vec<SocketAddr>, DnsError> {
    let lookup = tokio::net::lookup_host((host, port));
    let found = match tokio::time::timeout(limit, lookup).await {
        Err(_) => {
            return Err(DnsError::Timeout {
                host: host.to_string(),
                limit,
            });
        }
        Ok(Err(source)) => {
            return Err(DnsError::Lookup {
                host: host.to_string(),
                source,
            });
        }
        Ok(Ok(addrs)) => addrs,
    };
    let mut out: Vec<SocketAddr> = Vec::new();
    for a in found {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    if out.is_empty() {
        return Err(DnsError::NoAddresses {
            host: host.to_string(),
        });
    }
    Ok(out)
}

/// The step detail for resolved addresses: `10.0.3.17, 10.0.4.5`.
pub fn describe(addrs: &[SocketAddr]) -> String {
    let ips: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    ips.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn literals_and_localhost_resolve() {
        let a = resolve("127.0.0.1", 5432, Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(a, vec!["127.0.0.1:5432".parse::<SocketAddr>().unwrap()]);
        let a = resolve("localhost", 1, Duration::from_secs(2))
            .await
            .unwrap();
        assert!(a.iter().all(|a| a.ip().is_loopback()), "{a:?}");
        assert_eq!(describe(&a[..1]), a[0].ip().to_string());
    }

    #[tokio::test]
    async fn reserved_invalid_tld_does_not_resolve() {
        // RFC 6761: .invalid never resolves.
        let err = resolve("burnwatch-probe.invalid", 5432, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(err, DnsError::Lookup { .. } | DnsError::Timeout { .. }),
            "{err}"
        );
    }
}
