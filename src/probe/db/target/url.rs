//! libpq connection URIs, as an on-call engineer types them during an incident
//! (`burnwatch probe db --url …`).

use super::*;

impl ProbeTarget {
    /// Parse a libpq connection URI, as an on-call engineer types it:
    /// `postgresql://USER[:PASSWORD]@HOST[:PORT][/DB][?sslmode=…&sslrootcert=FILE&…]`.
    ///
    /// libpq's conventions: the password comes from `PGPASSWORD` unless the URL has one;
    /// `sslmode` defaults to `verify-full` here (libpq's default `prefer` would hide
    /// exactly the TLS problems the probe looks for); `sslrootcert` defaults to
    /// `~/.postgresql/root.crt` when that file exists. Query parameters also accepted:
    /// `connect_timeout` (seconds, the TCP step), `application_name`,
    /// `target_session_attrs`. Unknown parameters are errors, as in libpq.
    pub fn from_url(url: &str) -> Result<ProbeTarget, String> {
        let rest = url
            .strip_prefix("postgresql://")
            .or_else(|| url.strip_prefix("postgres://"))
            .ok_or("the URL must start with postgresql:// (libpq connection URI)")?;
        let (main, query) = match rest.split_once('?') {
            Some((m, q)) => (m, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match main.split_once('/') {
            Some((a, p)) => (a, p),
            None => (main, ""),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, inline_password) = match userinfo {
            Some(u) => match u.split_once(':') {
                Some((user, pw)) => (percent_decode(user)?, Some(percent_decode(pw)?)),
                None => (percent_decode(u)?, None),
            },
            None => (String::new(), None),
        };
        if user.is_empty() {
            return Err("the URL needs a user: postgresql://USER@HOST:PORT/DB".into());
        }
        if hostport.contains(',') {
            return Err("probe one host at a time; the URL lists several".into());
        }
        let (host, port) = split_host_port(hostport)?;
        if host.is_empty() {
            return Err("the URL needs a host: postgresql://USER@HOST:PORT/DB".into());
        }
        let dbname = if path.is_empty() {
            user.clone()
        } else {
            percent_decode(path)?
        };
        let mut t = ProbeTarget::new(
            &format!("{user}@{hostport}/{dbname}"),
            &host,
            port,
            &dbname,
            &user,
        );
        t.password = match inline_password {
            Some(pw) => PasswordSource::Inline(Secret::new(pw)),
            None => PasswordSource::Env("PGPASSWORD".into()),
        };
        let mut rootcert = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("URL parameter `{pair}` needs a value (key=value)"))?;
            let v = percent_decode(v)?;
            match k {
                "sslmode" => {
                    t.sslmode = SslMode::parse(&v).ok_or_else(|| {
                        format!("sslmode={v} is not supported; use disable, prefer, require, verify-ca or verify-full")
                    })?;
                }
                "sslrootcert" => rootcert = Some(PathBuf::from(v)),
                "connect_timeout" => {
                    let secs: u64 = v.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        format!("connect_timeout={v} must be a positive number of seconds")
                    })?;
                    t.timeouts.tcp = Duration::from_secs(secs);
                }
                "application_name" => t.application_name = v,
                "target_session_attrs" => {
                    t.target_session_attrs = SessionAttrs::parse(&v).ok_or_else(|| {
                        format!("target_session_attrs={v} is not supported; use read-write, read-only or any")
                    })?;
                }
                "dbname" => t.dbname = v,
                "user" => t.user = v,
                other => {
                    return Err(format!(
                        "unknown URL parameter `{other}` (supported: sslmode, sslrootcert, \
                         connect_timeout, application_name, target_session_attrs)"
                    ));
                }
            }
        }
        if rootcert.is_none() && t.sslmode.verifies() {
            // libpq's default root certificate file.
            if let Some(home) = std::env::var_os("HOME") {
                let default = Path::new(&home).join(".postgresql/root.crt");
                if default.is_file() {
                    rootcert = Some(default);
                }
            }
        }
        t.ca_bundle = rootcert;
        let problems = t.problems();
        if let Some(p) = problems.first() {
            return Err(if t.sslmode.verifies() && t.ca_bundle.is_none() {
                format!(
                    "sslmode {} (the default) needs a CA bundle: add &sslrootcert=FILE \
                     (for RDS the global bundle, global-bundle.pem), or sslmode=require to skip \
                     verification",
                    t.sslmode.as_str()
                )
            } else {
                p.clone()
            });
        }
        Ok(t)
    }
}

fn split_host_port(hostport: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or("unclosed [ in an IPv6 host of the URL")?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    let port = match port {
        None | Some("") => 5432,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("port `{p}` in the URL must be a number 1-65535"))?,
    };
    Ok((percent_decode(&host)?, port))
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("bad percent-encoding in the URL (expected %XX)")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL decodes to invalid UTF-8".to_string())
}
