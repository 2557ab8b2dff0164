//! Value readers the configuration needs beyond [`MapReader`](crate::spec::reader::MapReader):
//! lists of paths or URLs, socket addresses, URLs and environment variable names, each
//! reporting problems at the offending value.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::spec::diag::Diagnostics;
use crate::spec::yaml::{Node, Value};

/// A string or a list of strings (`specs: slo-specs` and `specs: [a, b]` both work).
pub fn strings(node: &Node, key: &str, diags: &mut Diagnostics) -> Vec<(String, Node)> {
    match &node.value {
        Value::Str(s) => vec![(s.clone(), node.clone())],
        Value::Seq(items) => {
            let mut out = Vec::new();
            for item in items {
                match &item.value {
                    Value::Str(s) => out.push((s.clone(), item.clone())),
                    _ => diags.error(
                        item.pos,
                        format!(
                            "`{key}` items must be strings, found a {}",
                            item.type_name()
                        ),
                    ),
                }
            }
            out
        }
        _ => {
            diags.error(
                node.pos,
                format!(
                    "`{key}` must be a string or a list of strings, found a {}",
                    node.type_name()
                ),
            );
            Vec::new()
        }
    }
}

/// Paths relative to `base`; an empty list is an error.
pub fn paths(node: &Node, key: &str, base: &Path, diags: &mut Diagnostics) -> Vec<PathBuf> {
    let items = strings(node, key, diags);
    if items.is_empty() && matches!(node.value, Value::Seq(_)) {
        diags.error(node.pos, format!("`{key}` must name at least one path"));
    }
    items.into_iter().map(|(s, _)| base.join(s)).collect()
}

/// `host:port` with a literal IP address (a name would resolve differently per host).
pub fn socket_addr(node: &Node, key: &str, diags: &mut Diagnostics) -> Option<SocketAddr> {
    let Some(s) = node.as_str() else {
        diags.error(
            node.pos,
            format!(
                "`{key}` must be an address such as 127.0.0.1:9464, found a {}",
                node.type_name()
            ),
        );
        return None;
    };
    match s.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            diags.error(
                node.pos,
                format!(
                    "`{key}`: {s:?} is not an IP address and port such as 127.0.0.1:9464 or [::1]:9464"
                ),
            );
            None
        }
    }
}

/// An absolute `http://` or `https://` URL.
pub fn http_url(node: &Node, key: &str, diags: &mut Diagnostics) -> Option<String> {
    let Some(s) = node.as_str() else {
        diags.error(
            node.pos,
            format!("`{key}` must be a URL string, found a {}", node.type_name()),
        );
        return None;
    };
    match reqwest::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Some(s.to_string())
        }
        Ok(u) => {
            diags.error(
                node.pos,
                format!(
                    "`{key}`: {s:?} must be an http:// or https:// URL (found scheme {:?})",
                    u.scheme()
                ),
            );
            None
        }
        Err(e) => {
            diags.error(node.pos, format!("`{key}`: {s:?} is not a URL: {e}"));
            None
        }
    }
}

/// The name of an environment variable (letters, digits, `_`, not starting with a digit).
pub fn env_name(node: &Node, key: &str, diags: &mut Diagnostics) -> Option<String> {
    let Some(s) = node.as_str() else {
        diags.error(
            node.pos,
            format!(
                "`{key}` must name an environment variable, found a {}",
                node.type_name()
            ),
        );
        return None;
    };
    let valid = !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        diags.error(
            node.pos,
            format!(
                "`{key}`: {s:?} is not an environment variable name; put the secret in the \
                 environment and name the variable here (e.g. ALERTMANAGER_TOKEN)"
            ),
        );
        return None;
    }
    Some(s.to_string())
}
