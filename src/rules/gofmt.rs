//! Go's number and string formatting, as Sloth's rule text depends on it.
//!
//! Sloth prints floats with Go's `%g`/`%v` (shortest round-trip digits, exponent form when
//! the decimal exponent is below -4 or at least 6), the `sloth_objective` label with
//! `strconv.FormatFloat(x, 'f', -1, 64)`, and label filters with Go-quoted values. Rust's
//! `{}` and `{:e}` give the same shortest digits but lay them out differently, so these
//! functions re-lay them out Go's way; byte-identical rule text follows.

/// `fmt.Sprintf("%g", x)` (equivalently `%v`) for an `f64`: `14.4`, `6`, `0.0009999999999999432`,
/// `1.0000000000047748e-05`, `1e+06`.
pub fn g(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-9.990000000000001e-1".
    let e = format!("{x:e}");
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        // %e layout: d.ddde±XX, at least two exponent digits.
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
        return out;
    }
    // %f layout with exactly the digits needed.
    if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

/// `strconv.FormatFloat(x, 'f', -1, 64)`: shortest round-trip digits, never an exponent
/// (`99.9`, `95`, `99.999`). Used for the `sloth_objective` label.
pub fn f(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    // Rust's Display for f64 is shortest round-trip without exponent, like Go's 'f', -1.
    format!("{x}")
}

/// Go's `strconv.Quote`, as Prometheus' `LabelSet.String()` and PromQL string literals use
/// it: `"` and `\` escaped, control characters as `\n`, `\t`, `\x1b`, `\u0085`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_matches_go_for_slo_numbers() {
        // Values and Go output from sloth-compat.md §6.4-6.6 and §7.
        let cases: [(f64, &str); 16] = [
            (99.9 / 100.0, "0.9990000000000001"),
            ((100.0 - 99.9) / 100.0, "0.0009999999999999432"),
            ((100.0 - 99.99) / 100.0, "0.00010000000000005117"),
            ((100.0 - 95.0) / 100.0, "0.05"),
            ((100.0 - 99.999) / 100.0, "1.0000000000047748e-05"),
            (14.4, "14.4"),
            (6.0, "6"),
            (30.0, "30"),
            (1.0, "1"),
            (13.44, "13.44"),
            (5.6000000000000005, "5.6000000000000005"),
            (0.9333333333333333, "0.9333333333333333"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (0.0001, "0.0001"),
            (0.0, "0"),
        ];
        for (x, want) in cases {
            assert_eq!(g(x), want, "{x:?}");
        }
        assert_eq!(g(-2.5e-7), "-2.5e-07");
        assert_eq!(g(1.5e300), "1.5e+300");
        assert_eq!(g(f64::INFINITY), "+Inf");
    }

    #[test]
    fn f_never_uses_exponents() {
        assert_eq!(f(99.9), "99.9");
        assert_eq!(f(95.0), "95");
        assert_eq!(f(99.999), "99.999");
        assert_eq!(f(100.0), "100");
        assert_eq!(f(0.00001), "0.00001");
    }

    #[test]
    fn quote_escapes_like_go() {
        assert_eq!(quote("svc01-slo1"), "\"svc01-slo1\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("x\ny\t\u{1b}"), "\"x\\ny\\t\\x1b\"");
        assert_eq!(quote("café"), "\"café\"");
    }
}
