//! Retries and pacing for every remote call a source makes.
//!
//! AWS and Prometheus calls are retried only when retrying can help: throttling
//! (`Throttling`, `ThrottlingException`, `LimitExceeded`, `TooManyRequestsException`,
//! `RequestLimitExceeded`, HTTP 429), server errors (5xx), timeouts and dropped connections.
//! Waits grow exponentially with full jitter (`rand(0, min(cap, base × 2^attempt))`), so two
//! replicas that were throttled together do not retry together. Every attempt runs under a
//! per-call timeout. The SDK's own retry layer is switched off for clients burnwatch builds
//! (see [`super::aws`]), so these are the only retries and each one is counted.
//!
//! [`TokenBucket`] keeps calls under the API quotas (GetMetricData: 50 TPS and a datapoint
//! rate; ListExecutions: a token bucket of 200 refilled at 5/s) so that a backfill does
//! not throttle the steady-state ticks of other tools in the same account.

use std::future::Future;
use std::time::Duration;

use aws_sdk_cloudwatch::error::{ProvideErrorMetadata, SdkError};
use rand::Rng;
use tokio::time::Instant;

/// How often and how patiently to retry one call.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total (1 = no retry).
    pub max_attempts: u32,
    /// First backoff ceiling.
    pub base: Duration,
    /// Largest backoff ceiling.
    pub cap: Duration,
    /// Timeout of one attempt.
    pub call_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(20),
            call_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The jittered wait before attempt `attempt + 1` (attempt counts from 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let ceiling = exp.min(self.cap);
        let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=ms))
    }
}

/// Is an error worth retrying?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The service asked us to slow down.
    Throttled,
    /// A transient failure (5xx, timeout, connection).
    Transient,
    /// Retrying will not help (bad request, access denied, validation).
    Permanent,
}

/// The outcome of a retried call.
#[derive(Debug)]
pub struct Attempted<T> {
    /// The result of the last attempt.
    pub result: Result<T, String>,
    /// Attempts made.
    pub attempts: u32,
    /// Of the failed attempts, how many were throttled.
    pub throttled: u32,
}

/// Error codes AWS services use for throttling.
pub const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "LimitExceeded",
    "LimitExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
];

/// Classify an AWS SDK error (any service: they share the error type).
pub fn classify_sdk<E: ProvideErrorMetadata>(err: &SdkError<E>) -> ErrorClass {
    match err {
        SdkError::ConstructionFailure(_) => ErrorClass::Permanent,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ErrorClass::Transient
        }
        SdkError::ServiceError(se) => {
            let code = err.code().unwrap_or_default();
            let status = se.raw().status().as_u16();
            if THROTTLING_CODES.contains(&code) || status == 429 {
                ErrorClass::Throttled
            } else if status >= 500 || code == "InternalFailure" || code == "ServiceUnavailable" {
                ErrorClass::Transient
            } else {
                ErrorClass::Permanent
            }
        }
        _ => ErrorClass::Transient,
    }
}

/// A short, secret-free description of an SDK error: code and message.
pub fn describe_sdk<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: &SdkError<E>,
) -> String {
    match err {
        SdkError::ServiceError(se) => {
            let code = err.code().unwrap_or("Unknown");
            let msg = err.message().unwrap_or_default();
            format!("{code} (HTTP {}): {msg}", se.raw().status().as_u16())
        }
        SdkError::TimeoutError(_) => "timeout".to_string(),
        SdkError::DispatchFailure(d) => format!("dispatch failure: {:?}", d.as_connector_error()),
        other => format!("{}", aws_sdk_cloudwatch::error::DisplayErrorContext(other)),
    }
}

/// Run `call` under `policy`: per-attempt timeout, retries for throttling and transient
/// errors with jittered exponential backoff. `classify` maps an error to its class and a
/// description.
pub async fn retry<T, E, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    classify: impl Fn(&E) -> (ErrorClass, String),
    mut call: F,
) -> Attempted<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempts = 0;
    let mut throttled = 0;
    loop {
        attempts += 1;
        let (class, message) = match tokio::time::timeout(policy.call_timeout, call()).await {
            Ok(Ok(v)) => {
                return Attempted {
                    result: Ok(v),
                    attempts,
                    throttled,
                };
            }
            Ok(Err(e)) => classify(&e),
            Err(_) => (
                ErrorClass::Transient,
                format!("timed out after {:?}", policy.call_timeout),
            ),
        };
        if class == ErrorClass::Throttled {
            throttled += 1;
        }
        if class == ErrorClass::Permanent || attempts >= policy.max_attempts.max(1) {
            tracing::warn!(call = what, attempts, error = %message, "call failed");
            return Attempted {
                result: Err(message),
                attempts,
                throttled,
            };
        }
        let wait = policy.backoff(attempts);
        tracing::debug!(call = what, attempts, error = %message, ?wait, "retrying");
        tokio::time::sleep(wait).await;
    }
}

/// A token bucket: `rate` tokens per second, at most `burst` saved up. Used to pace calls
/// (tokens = calls) and datapoints (tokens = estimated datapoints of a call).
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket refilled at `rate` tokens per second, holding at most `burst`.
    pub fn new(rate: f64, burst: f64) -> Self {
        let burst = burst.max(1.0);
        TokenBucket {
            rate: rate.max(f64::MIN_POSITIVE),
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }
    /// Take `n` tokens, waiting until the bucket has refilled enough. Taking more than
    /// `burst` at once is allowed: the bucket goes into debt and later callers wait.
    pub async fn acquire(&mut self, n: f64) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= n;
        if self.tokens < 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(-self.tokens / self.rate)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn classify(e: &&'static str) -> (ErrorClass, String) {
        match *e {
            "throttle" => (ErrorClass::Throttled, "throttled".into()),
            "5xx" => (ErrorClass::Transient, "server".into()),
            _ => (ErrorClass::Permanent, "bad".into()),
        }
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
            call_timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn retries_throttling_then_succeeds() {
        let n = AtomicU32::new(0);
        let out = retry(&fast(), "t", classify, || async {
            match n.fetch_add(1, Ordering::SeqCst) {
                0 => Err("throttle"),
                1 => Err("5xx"),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(out.result, Ok(7));
        assert_eq!((out.attempts, out.throttled), (3, 1));
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let n = AtomicU32::new(0);
        let out: Attempted<()> = retry(&fast(), "t", classify, || async {
            n.fetch_add(1, Ordering::SeqCst);
            Err("denied")
        })
        .await;
        assert_eq!(out.attempts, 1);
        assert_eq!(n.load(Ordering::SeqCst), 1);
        assert!(out.result.is_err());
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_and_times_out_slow_calls() {
        let policy = RetryPolicy {
            max_attempts: 3,
            call_timeout: Duration::from_millis(20),
            ..fast()
        };
        let n = AtomicU32::new(0);
        let out: Attempted<()> = retry(&policy, "t", classify, || async {
            n.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(())
        })
        .await;
        assert_eq!(out.attempts, 3);
        assert_eq!(n.load(Ordering::SeqCst), 3);
        assert!(out.result.unwrap_err().contains("timed out"));
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let p = RetryPolicy::default();
        for attempt in 1..30 {
            assert!(p.backoff(attempt) <= p.cap);
        }
        assert!(p.backoff(1) <= p.base);
        let samples: std::collections::BTreeSet<_> = (0..50).map(|_| p.backoff(4)).collect();
        assert!(samples.len() > 1, "backoff must be jittered");
    }

    #[tokio::test]
    async fn token_bucket_makes_callers_wait_for_refill() {
        // 1,000 tokens/s, burst 100: the first take is free, each further 100 waits ~0.1 s.
        let mut points = TokenBucket::new(1000.0, 100.0);
        let start = Instant::now();
        for _ in 0..4 {
            points.acquire(100.0).await;
        }
        assert!(start.elapsed() >= Duration::from_millis(290));
    }
}
