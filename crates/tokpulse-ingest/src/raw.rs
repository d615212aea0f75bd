//! One pass from JSON (or a CSV row) to a [`RawRecord`]: each known field's value in its slot,
//! strings borrowed from the body where they have no escapes, unknown and repeated keys noted as
//! the record's problem. Only JSON syntax errors fail here; everything else is a per-record
//! [`Problem`] found now or by [`validate`](crate::validate).

use crate::fields::{self, F, N_FIELDS};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use tokpulse_core::RecordKind;

/// One field's value as sent, not yet checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Raw<'a> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    /// A JSON string.
    Str(Cow<'a, str>),
    /// A CSV cell: text whose type is decided by the field.
    Cell(&'a str),
    /// A JSON array where a scalar was expected (its content skipped).
    Array,
    /// A JSON object where a scalar was expected (its content skipped).
    Object,
    /// A whole JSON value, kept for `attributes`.
    Json(serde_json::Value),
}

/// Why one record is refused: the field (as sent; empty for the record as a whole) and the
/// reason, which never holds a value the privacy guard would block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub field: Cow<'static, str>,
    pub reason: String,
}

impl Problem {
    pub(crate) fn new(field: F, reason: impl Into<String>) -> Self {
        Problem {
            field: Cow::Borrowed(field.name()),
            reason: reason.into(),
        }
    }

    pub(crate) fn whole(reason: impl Into<String>) -> Self {
        Problem {
            field: Cow::Borrowed(""),
            reason: reason.into(),
        }
    }
}

/// Longest piece of a client's value or key quoted back in a reason.
const QUOTE_MAX: usize = 64;

/// `s`, cut to at most [`QUOTE_MAX`] bytes on a character boundary, with `…` if cut.
pub(crate) fn clip(s: &str) -> Cow<'_, str> {
    if s.len() <= QUOTE_MAX {
        return Cow::Borrowed(s);
    }
    let mut end = QUOTE_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &s[..end]))
}

/// A record's fields by slot, plus the first problem found while reading it. One is reused for
/// every record of a body (it is about 1 KiB: filled in place, never moved).
pub(crate) struct RawRecord<'a> {
    slots: [Option<Raw<'a>>; N_FIELDS],
    /// Bit `f` set = slot `f` is filled.
    filled: u32,
    pub problem: Option<Problem>,
}

const _: () = assert!(N_FIELDS <= 32, "`filled` is a u32 bitmap");

impl<'a> RawRecord<'a> {
    pub(crate) fn new() -> Self {
        RawRecord {
            slots: [const { None }; N_FIELDS],
            filled: 0,
            problem: None,
        }
    }

    /// Empties it for the next record.
    pub(crate) fn clear(&mut self) {
        while self.filled != 0 {
            let i = self.filled.trailing_zeros() as usize;
            self.slots[i] = None;
            self.filled &= self.filled - 1;
        }
        self.problem = None;
    }

    /// Notes `p` unless an earlier problem was noted: each record reports its first.
    pub(crate) fn note(&mut self, p: Problem) {
        if self.problem.is_none() {
            self.problem = Some(p);
        }
    }

    /// Puts a value in `f`'s slot; a second value for the same slot is a problem.
    pub(crate) fn set(&mut self, f: F, v: Raw<'a>) {
        let bit = 1u32 << f as usize;
        if self.filled & bit != 0 {
            let aliases = fields::aliases(f);
            let reason = if aliases.is_empty() {
                format!("duplicate field `{}`", f.name())
            } else {
                format!(
                    "duplicate field `{}` (`{}` is the same field)",
                    f.name(),
                    aliases.join("`, `")
                )
            };
            self.note(Problem::new(f, reason));
        } else {
            self.slots[f as usize] = Some(v);
            self.filled |= bit;
        }
    }

    /// Takes `f`'s value; `null` counts as absent.
    pub(crate) fn take(&mut self, f: F) -> Option<Raw<'a>> {
        self.filled &= !(1u32 << f as usize);
        match self.slots[f as usize].take() {
            None | Some(Raw::Null) | Some(Raw::Json(serde_json::Value::Null)) => None,
            v => v,
        }
    }

    /// Takes `f`'s value, or the "missing" problem.
    pub(crate) fn req(&mut self, f: F) -> Result<Raw<'a>, Problem> {
        self.take(f)
            .ok_or_else(|| Problem::new(f, format!("missing required field `{}`", f.name())))
    }
}

/// What one element of a body is: a record (read into the [`RawRecord`] the seed was given), or
/// something that is not a JSON object.
pub(crate) enum Element {
    Record,
    NotObject(&'static str),
}

/// A map key, looked up without allocating (unless unknown).
enum Key {
    Known(F),
    Unknown(String),
}

struct KeySeed(RecordKind);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(match fields::lookup(self.0, v) {
            Some(f) => Key::Known(f),
            None => Key::Unknown(v.to_owned()),
        })
    }
}

/// Reads any JSON value as a [`Raw`] scalar, skipping the content of arrays and objects.
struct ScalarSeed;

impl<'de> DeserializeSeed<'de> for ScalarSeed {
    type Value = Raw<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Raw<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScalarSeed {
    type Value = Raw<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw<'de>, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw<'de>, E> {
        Ok(Raw::I64(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw<'de>, E> {
        Ok(Raw::U64(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw<'de>, E> {
        Ok(Raw::F64(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Raw<'de>, E> {
        Ok(Raw::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw<'de>, E> {
        Ok(Raw::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw<'de>, E> {
        Ok(Raw::Str(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Raw<'de>, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw<'de>, E> {
        Ok(Raw::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Raw::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Raw::Object)
    }
}

/// Reads one JSON object as a record of `kind` into `rec`, which must be empty.
pub(crate) fn read_map<'de, A: MapAccess<'de>>(
    kind: RecordKind,
    mut map: A,
    rec: &mut RawRecord<'de>,
) -> Result<(), A::Error> {
    while let Some(key) = map.next_key_seed(KeySeed(kind))? {
        match key {
            Key::Known(F::Attributes) => {
                let v: serde_json::Value = map.next_value()?;
                rec.set(F::Attributes, Raw::Json(v));
            }
            Key::Known(f) => {
                let v = map.next_value_seed(ScalarSeed)?;
                rec.set(f, v);
            }
            Key::Unknown(name) => {
                map.next_value::<IgnoredAny>()?;
                if rec.problem.is_none() {
                    rec.note(unknown_field(kind, &name));
                }
            }
        }
    }
    Ok(())
}

/// The problem for a key that `kind` does not have.
pub(crate) fn unknown_field(kind: RecordKind, name: &str) -> Problem {
    let hint = match fields::closest(kind, name) {
        Some(near) => format!(" (did you mean `{near}`?)"),
        None => String::new(),
    };
    Problem {
        field: Cow::Owned(clip(name).into_owned()),
        reason: format!(
            "unknown field `{}`{hint}; expected one of {}",
            clip(name),
            fields::expected_list(kind)
        ),
    }
}

/// Reads one element of a body (an NDJSON line, an item of a JSON array) into `raw`, which
/// must be empty.
pub(crate) struct ElementSeed<'r, 'a> {
    pub kind: RecordKind,
    pub raw: &'r mut RawRecord<'a>,
}

impl<'de> DeserializeSeed<'de> for ElementSeed<'_, 'de> {
    type Value = Element;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Element, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ElementSeed<'_, 'de> {
    type Value = Element;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Element, A::Error> {
        read_map(self.kind, map, self.raw).map(|()| Element::Record)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Element, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Element::NotObject("an array"))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Element, E> {
        Ok(Element::NotObject("a boolean"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Element, E> {
        Ok(Element::NotObject("a number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Element, E> {
        Ok(Element::NotObject("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Element, E> {
        Ok(Element::NotObject("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Element, E> {
        Ok(Element::NotObject("a string"))
    }
    fn visit_unit<E>(self) -> Result<Element, E> {
        Ok(Element::NotObject("null"))
    }
    fn visit_none<E>(self) -> Result<Element, E> {
        Ok(Element::NotObject("null"))
    }
}

/// Reads one JSON object (tests).
#[cfg(test)]
pub(crate) fn read_one(kind: RecordKind, s: &str) -> RawRecord<'_> {
    let mut raw = RawRecord::new();
    let mut de = serde_json::Deserializer::from_str(s);
    let el = ElementSeed {
        kind,
        raw: &mut raw,
    }
    .deserialize(&mut de)
    .unwrap();
    assert!(matches!(el, Element::Record), "not an object: {s}");
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(kind: RecordKind, s: &str) -> RawRecord<'_> {
        read_one(kind, s)
    }

    #[test]
    fn clearing_empties_every_slot() {
        let mut r = read(RecordKind::Logs, r#"{"id":"a","message":"m","zzz":1}"#);
        assert!(r.problem.is_some());
        assert!(r.take(F::Id).is_some());
        r.clear();
        assert!(r.problem.is_none());
        assert_eq!(r.filled, 0);
        assert!(r.slots.iter().all(Option::is_none));
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let mut r = read(
            RecordKind::Performance,
            r#"{"route":"/a","service":"x\"y"}"#,
        );
        assert!(matches!(
            r.take(F::Route),
            Some(Raw::Str(Cow::Borrowed("/a")))
        ));
        assert!(matches!(r.take(F::Service), Some(Raw::Str(Cow::Owned(s))) if s == "x\"y"));
        assert!(r.problem.is_none());
    }

    #[test]
    fn first_problem_wins() {
        let r = read(
            RecordKind::Performance,
            r#"{"duraton_ms":1,"status":200,"status_code":201,"zzz":1}"#,
        );
        let p = r.problem.unwrap();
        assert_eq!(p.field, "duraton_ms");
        assert!(p.reason.starts_with("unknown field `duraton_ms` (did you mean `duration_ms`?); expected one of `id`, `timestamp`"), "{}", p.reason);
        let r = read(
            RecordKind::Performance,
            r#"{"status":200,"status_code":201}"#,
        );
        assert_eq!(
            r.problem.unwrap().reason,
            "duplicate field `status_code` (`status` is the same field)"
        );
    }

    #[test]
    fn containers_where_scalars_belong_are_skipped() {
        let mut r = read(
            RecordKind::Logs,
            r#"{"message":{"a":[1,{"b":2}]},"level":[1]}"#,
        );
        assert_eq!(r.take(F::Message), Some(Raw::Object));
        assert_eq!(r.take(F::Level), Some(Raw::Array));
        assert_eq!(r.take(F::Id), None);
    }

    #[test]
    fn long_keys_are_clipped_in_messages() {
        let key = "k".repeat(500);
        let p = unknown_field(RecordKind::Logs, &key);
        assert!(p.field.len() < 80);
        assert!(p.reason.len() < 400, "{}", p.reason);
    }
}
