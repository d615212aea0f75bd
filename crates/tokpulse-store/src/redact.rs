//! Keeps database passwords out of error messages and logs.

/// `url` without its password: the `:password` of the user info and any `password=` parameter
/// are removed (`postgres://app:s3cret@db/x?password=y` → `postgres://app@db/x`).
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    // User info: between "://" and the last '@' before the path.
    if let Some(scheme_end) = out.find("://") {
        let auth_start = scheme_end + 3;
        let auth_end = out[auth_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| auth_start + i);
        if let Some(at) = out[auth_start..auth_end].rfind('@') {
            let at = auth_start + at;
            if let Some(colon) = out[auth_start..at].find(':') {
                out.replace_range(auth_start + colon..at, "");
            }
        }
    }
    // `password=` parameters, in a query string or a key=value connection string.
    loop {
        let lower = out.to_ascii_lowercase();
        let Some(start) = find_key(&lower, "password=") else {
            break;
        };
        let value_end = out[start..]
            .find(['&', ' ', '#'])
            .map_or(out.len(), |i| start + i);
        // Remove the pair and one separator next to it.
        let (from, to) = match out.as_bytes().get(value_end) {
            Some(b'&') => (start, value_end + 1),
            _ if start > 0 && matches!(out.as_bytes()[start - 1], b'&' | b' ') => {
                (start - 1, value_end)
            }
            _ => (start, value_end),
        };
        out.replace_range(from..to, "");
    }
    if out.ends_with('?') {
        out.pop();
    }
    out
}

/// Where `key` starts as a parameter name (after `?`, `&`, a space, or at the start).
fn find_key(haystack: &str, key: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = haystack[from..].find(key) {
        let i = from + i;
        if i == 0 || matches!(haystack.as_bytes()[i - 1], b'?' | b'&' | b' ') {
            return Some(i);
        }
        from = i + key.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_removed() {
        for (url, want) in [
            (
                "postgres://app:s3cret@db:5432/tp",
                "postgres://app@db:5432/tp",
            ),
            ("postgres://app@db/tp", "postgres://app@db/tp"),
            ("postgres://db/tp", "postgres://db/tp"),
            (
                "postgresql://app:p%40ss@db/tp?sslmode=require",
                "postgresql://app@db/tp?sslmode=require",
            ),
            ("postgres://app:a:b@c@db/tp", "postgres://app@db/tp"),
            ("postgres://db/tp?password=s3cret", "postgres://db/tp"),
            (
                "postgres://db/tp?sslmode=require&password=s3cret",
                "postgres://db/tp?sslmode=require",
            ),
            (
                "postgres://db/tp?Password=s3cret&sslmode=require",
                "postgres://db/tp?sslmode=require",
            ),
            (
                "host=db user=app password=s3cret dbname=tp",
                "host=db user=app dbname=tp",
            ),
            (
                "postgres://db/tp?mypassword=x",
                "postgres://db/tp?mypassword=x",
            ),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }
}
