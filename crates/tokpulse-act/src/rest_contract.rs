//! GitHub's own description of the REST calls TokPulse makes
//! (`../shared/datasets/github/rest-subset.json`, an OpenAPI 3.0 subset) as checks: which
//! method and path exist, which query parameters they take, and what their JSON bodies must
//! hold (types, `required`, `enum`, `oneOf`/`anyOf`/`allOf`, `nullable`, `minItems`). The
//! GitHub stand-in answers a request the description does not admit the way GitHub would
//! (404 for an unknown route, 422 for a bad body), so passing the stand-in means passing the
//! contract.

use serde_json::Value;

/// The description, loaded.
#[derive(Debug, Clone)]
pub struct RestContract {
    doc: Value,
}

/// Where the workspace keeps the description: `shared/` beside the checkout.
pub const DEFAULT_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/datasets/github/rest-subset.json"
);

/// Why a request is not one the description admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// No operation for this method and path.
    NoSuchOperation(String),
    /// The query or body breaks the operation's schema.
    Invalid(String),
}

impl RestContract {
    /// Reads the description at `path`.
    pub fn load(path: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        if !doc["paths"].is_object() {
            return Err(format!("{path}: no `paths`"));
        }
        Ok(RestContract { doc })
    }

    /// The description at [`DEFAULT_PATH`], if it is there.
    pub fn bundled() -> Option<Self> {
        Self::load(DEFAULT_PATH).ok()
    }

    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let mut at = &self.doc;
                for part in r.trim_start_matches("#/").split('/') {
                    at = &at[part];
                }
                self.resolve(at)
            }
            None => v,
        }
    }

    /// The operation for `method` on `path`: its template and object.
    fn operation(&self, method: &str, path: &str) -> Option<(&str, &Value)> {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let paths = self.doc["paths"].as_object()?;
        paths.iter().find_map(|(template, item)| {
            let t: Vec<&str> = template.trim_matches('/').split('/').collect();
            let fits = t.len() == segs.len()
                && t.iter()
                    .zip(&segs)
                    .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s);
            let op = item.get(method.to_ascii_lowercase())?;
            fits.then_some((template.as_str(), op))
        })
    }

    /// The `operationId` of a request the description admits, or why it does not.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<String, Violation> {
        let (template, op) = self.operation(method, path).ok_or_else(|| {
            Violation::NoSuchOperation(format!("{method} {path}: no such operation"))
        })?;
        let id = op["operationId"].as_str().unwrap_or(template).to_string();
        let params: Vec<&Value> = op["parameters"]
            .as_array()
            .map(|ps| ps.iter().map(|p| self.resolve(p)).collect())
            .unwrap_or_default();
        for (k, v) in query {
            let Some(p) = params
                .iter()
                .find(|p| p["in"] == "query" && p["name"] == *k)
            else {
                return Err(Violation::Invalid(format!(
                    "{id}: unknown query parameter {k:?}"
                )));
            };
            let value = match p["schema"]["type"].as_str() {
                Some("integer") => v.parse::<i64>().map(Value::from).map_err(|_| {
                    Violation::Invalid(format!("{id}: {k}={v:?} is not an integer"))
                })?,
                Some("boolean") => Value::Bool(v == "true"),
                _ => Value::String(v.clone()),
            };
            self.validate(&p["schema"], &value, k)
                .map_err(|e| Violation::Invalid(format!("{id}: {e}")))?;
        }
        let schema = &self.resolve(&op["requestBody"])["content"]["application/json"]["schema"];
        match body {
            Some(b) if !schema.is_null() => self
                .validate(schema, b, "body")
                .map_err(|e| Violation::Invalid(format!("{id}: {e}")))?,
            None if self.resolve(&op["requestBody"])["required"] == true => {
                return Err(Violation::Invalid(format!("{id}: a body is required")));
            }
            _ => {}
        }
        Ok(id)
    }

    /// Checks `v` against `schema` (the JSON Schema subset OpenAPI 3.0 uses here).
    pub fn validate(&self, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
        let s = self.resolve(schema);
        if v.is_null() && s["nullable"] == true {
            return Ok(());
        }
        if let Some(all) = s["allOf"].as_array() {
            for sub in all {
                self.validate(sub, v, at)?;
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(alts) = s[key].as_array()
                && !alts.iter().any(|sub| self.validate(sub, v, at).is_ok())
            {
                return Err(format!("{at}: matches none of {key}"));
            }
        }
        if let Some(t) = s["type"].as_str() {
            let ok = match t {
                "string" => v.is_string(),
                "integer" => v.is_i64() || v.is_u64(),
                "number" => v.is_number(),
                "boolean" => v.is_boolean(),
                "array" => v.is_array(),
                "object" => v.is_object(),
                _ => true,
            };
            if !ok {
                return Err(format!("{at}: expected {t}, got {v}"));
            }
        }
        if let Some(allowed) = s["enum"].as_array()
            && !allowed.contains(v)
            && !(v.is_null() && allowed.iter().any(Value::is_null))
        {
            return Err(format!(
                "{at}: {v} is not one of {}",
                Value::from(allowed.clone())
            ));
        }
        if let Some(obj) = v.as_object() {
            for r in s["required"].as_array().into_iter().flatten() {
                if let Some(name) = r.as_str()
                    && !obj.contains_key(name)
                {
                    return Err(format!("{at}: `{name}` is required"));
                }
            }
            if let Some(props) = s["properties"].as_object() {
                for (k, val) in obj {
                    if let Some(p) = props.get(k) {
                        self.validate(p, val, &format!("{at}.{k}"))?;
                    }
                }
            }
        }
        if let Some(items) = v.as_array() {
            if let Some(min) = s["minItems"].as_u64()
                && (items.len() as u64) < min
            {
                return Err(format!("{at}: at least {min} items"));
            }
            if !s["items"].is_null() {
                for (i, item) in items.iter().enumerate() {
                    self.validate(&s["items"], item, &format!("{at}[{i}]"))?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_description_admits_what_github_admits() {
        let Some(c) = RestContract::bundled() else {
            panic!("{DEFAULT_PATH} is missing: the shared datasets sit beside the checkout");
        };
        let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            c.check(
                "POST",
                "/repos/a/b/issues",
                &[],
                Some(&json!({"title": "x", "labels": ["a", {"name": "b"}]}))
            ),
            Ok("issues/create".into())
        );
        assert!(matches!(
            c.check("POST", "/repos/a/b/issues", &[], Some(&json!({"body": "no title"}))),
            Err(Violation::Invalid(e)) if e.contains("`title` is required")
        ));
        assert!(matches!(
            c.check(
                "PATCH",
                "/repos/a/b/issues/3",
                &[],
                Some(&json!({"state": "shut"}))
            ),
            Err(Violation::Invalid(_))
        ));
        assert_eq!(
            c.check(
                "GET",
                "/repos/a/b/issues",
                &q(&[("state", "all"), ("per_page", "100")]),
                None
            ),
            Ok("issues/list-for-repo".into())
        );
        assert!(
            c.check("GET", "/repos/a/b/issues", &q(&[("colour", "red")]), None)
                .is_err()
        );
        assert!(matches!(
            c.check("DELETE", "/repos/a/b/issues/3", &[], None),
            Err(Violation::NoSuchOperation(_))
        ));
        assert_eq!(
            c.check(
                "PATCH",
                "/repos/a/b/issues/comments/9",
                &[],
                Some(&json!({"body": "x"}))
            ),
            Ok("issues/update-comment".into())
        );
    }
}
