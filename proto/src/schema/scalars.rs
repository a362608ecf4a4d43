//! How a value of the wrong JSON type is read while an entity is parsed (`from_value`), and
//! serde's type errors in Kong's words. Two sources, two rules:
//! - decK files (`apply`, `validate`, `POST /config`): decK's YAML reader turns a number or
//!   boolean into its text where the schema wants a string, so `key: 12345` is the key "12345".
//! - Admin API JSON bodies: taken as typed, as Kong does — a number where a string is expected
//!   is "expected a string", a string where an integer is expected "expected an integer".
//! - Admin API form bodies: values are text, read by the schema's type as Kong's `infer_value`
//!   (kong/api/arguments.lua) reads them: "8080" where an integer is expected is 8080, "true" a
//!   boolean, one value where an array is expected an array of one.

use std::cell::Cell;

use serde_json::Value;

/// The rule `from_value` follows on this thread (see the module comment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scalars {
    /// decK files: numbers and booleans become text where a string is expected.
    #[default]
    AsText,
    /// Admin API form bodies: text becomes a number, boolean or array where one is expected; a
    /// number or boolean is never taken as text.
    Inferred,
    /// Admin API JSON bodies: every value as typed.
    Strict,
}

thread_local! {
    static MODE: Cell<Scalars> = const { Cell::new(Scalars::AsText) };
}

/// Runs `f` (synchronous: the entity's whole parse) with `mode`, then restores the previous one.
pub fn with_scalars<R>(mode: Scalars, f: impl FnOnce() -> R) -> R {
    struct Restore(Scalars);
    impl Drop for Restore {
        fn drop(&mut self) {
            MODE.with(|m| m.set(self.0));
        }
    }
    let _restore = Restore(MODE.with(|m| m.replace(mode)));
    f()
}

pub(super) fn mode() -> Scalars {
    MODE.with(Cell::get)
}

/// The type serde expected, from the end of its message (`…, expected u16`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    String,
    Integer,
    Number,
    Boolean,
    Array,
    Map,
    Record,
    Other,
}

fn expected(msg: &str) -> Expected {
    let Some((_, what)) = msg.rsplit_once(", expected ") else {
        return Expected::Other;
    };
    match what {
        "a string" | "a borrowed string" | "a UUID string" => Expected::String,
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128"
        | "isize" => Expected::Integer,
        "f32" | "f64" => Expected::Number,
        "a boolean" => Expected::Boolean,
        "a sequence" => Expected::Array,
        "a map" => Expected::Map,
        w if w.starts_with("struct ") => Expected::Record,
        _ => Expected::Other,
    }
}

/// The replacement for `value`, the value serde refused with `msg`, under `mode`; None when the
/// refusal stands.
pub(super) fn repair(mode: Scalars, msg: &str, value: &Value) -> Option<Value> {
    if !msg.starts_with("invalid type: ") {
        return None;
    }
    match (mode, expected(msg), value) {
        // Kong's integer check is `value == floor(value)`: 80.0 is the integer 80, whatever
        // the source.
        (_, Expected::Integer, Value::Number(n)) => n
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| Value::from(f as i64)),
        (Scalars::AsText, Expected::String, Value::Number(n)) => Some(Value::String(n.to_string())),
        (Scalars::AsText, Expected::String, Value::Bool(b)) => Some(Value::String(b.to_string())),
        (Scalars::Inferred, Expected::Integer | Expected::Number, Value::String(s)) => {
            let s = s.trim();
            s.parse::<i64>()
                .map(Value::from)
                .or_else(|_| s.parse::<u64>().map(Value::from))
                .ok()
                .or_else(|| {
                    s.parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map(Value::Number)
                })
        }
        (Scalars::Inferred, Expected::Boolean, Value::String(s)) => match s.as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        (Scalars::Inferred, Expected::Array, Value::String(_)) => {
            Some(Value::Array(vec![value.clone()]))
        }
        _ => None,
    }
}

/// Kong's message for a serde error: `invalid type: integer `1`, expected a string` is "expected
/// a string" (kong/db/schema/init.lua `validation_errors`); others are kept as they are.
pub fn kong_message(msg: &str) -> String {
    if msg.starts_with("invalid type: ") {
        let kong = match expected(msg) {
            Expected::String => "expected a string",
            Expected::Integer => "expected an integer",
            Expected::Number => "expected a number",
            Expected::Boolean => "expected a boolean",
            Expected::Array => "expected an array",
            Expected::Map => "expected a map",
            Expected::Record => "expected a record",
            Expected::Other => return msg.to_string(),
        };
        return kong.to_string();
    }
    // A port (Kong's `typedefs.port`) or any other 16-bit field out of range.
    if msg.starts_with("invalid value: integer ") && msg.ends_with(", expected u16") {
        return "value should be between 0 and 65535".to_string();
    }
    msg.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serde_type_errors_read_as_kong_words() {
        for (serde, kong) in [
            (
                "invalid type: integer `123`, expected a string",
                "expected a string",
            ),
            (
                "invalid type: string \"x\", expected u16",
                "expected an integer",
            ),
            (
                "invalid type: string \"x\", expected f64",
                "expected a number",
            ),
            (
                "invalid type: integer `1`, expected a boolean",
                "expected a boolean",
            ),
            (
                "invalid type: string \"/a\", expected a sequence",
                "expected an array",
            ),
            (
                "invalid type: string \"x\", expected a map",
                "expected a map",
            ),
            (
                "invalid type: string \"x\", expected struct Auth",
                "expected a record",
            ),
            (
                "invalid value: integer `70000`, expected u16",
                "value should be between 0 and 65535",
            ),
            (
                "unknown field `x`, expected one of `a`",
                "unknown field `x`, expected one of `a`",
            ),
        ] {
            assert_eq!(kong_message(serde), kong, "{serde}");
        }
    }

    #[test]
    fn text_is_inferred_only_for_admin_bodies() {
        let int = "invalid type: string \"8080\", expected u16";
        assert_eq!(
            repair(Scalars::Inferred, int, &json!("8080")),
            Some(json!(8080))
        );
        assert_eq!(repair(Scalars::AsText, int, &json!("8080")), None);
        assert_eq!(repair(Scalars::Inferred, int, &json!("80a")), None);
        assert_eq!(repair(Scalars::Strict, int, &json!("8080")), None);
        let b = "invalid type: string \"true\", expected a boolean";
        assert_eq!(
            repair(Scalars::Inferred, b, &json!("true")),
            Some(json!(true))
        );
        assert_eq!(repair(Scalars::Inferred, b, &json!("yes")), None);
        let seq = "invalid type: string \"/a\", expected a sequence";
        assert_eq!(
            repair(Scalars::Inferred, seq, &json!("/a")),
            Some(json!(["/a"]))
        );
    }

    #[test]
    fn whole_floats_are_integers_as_in_kong() {
        let msg = "invalid type: floating point `80.0`, expected u16";
        for mode in [Scalars::AsText, Scalars::Inferred, Scalars::Strict] {
            assert_eq!(repair(mode, msg, &json!(80.0)), Some(json!(80)));
            assert_eq!(repair(mode, msg, &json!(80.5)), None);
        }
    }

    #[test]
    fn numbers_become_text_only_for_deck_files() {
        let s = "invalid type: integer `123`, expected a string";
        assert_eq!(repair(Scalars::AsText, s, &json!(123)), Some(json!("123")));
        assert_eq!(repair(Scalars::Inferred, s, &json!(123)), None);
        let b = "invalid type: boolean `true`, expected a string";
        assert_eq!(
            repair(Scalars::AsText, b, &json!(true)),
            Some(json!("true"))
        );
        assert_eq!(repair(Scalars::Inferred, b, &json!(true)), None);
        assert_eq!(repair(Scalars::Strict, b, &json!(true)), None);
    }

    #[test]
    fn the_mode_is_restored_after_the_scope() {
        assert_eq!(mode(), Scalars::AsText);
        let inner = with_scalars(Scalars::Inferred, mode);
        assert_eq!(inner, Scalars::Inferred);
        assert_eq!(mode(), Scalars::AsText);
    }
}
