//! LightGBM's model text (`Booster.save_model`, `model.txt`), read into a [`Model`].
//!
//! What is read: the header (`num_class`, `num_tree_per_iteration`, `max_feature_idx`,
//! `objective`, `average_output`, `feature_names`, and tradecore's own
//! `tradecore_features` / `tradecore_features_sha256`: the feature set's definition, see
//! [`embed`]) and each `Tree=` section (`num_leaves`,
//! `num_cat`, `split_feature`, `threshold`, `decision_type`, `left_child`, `right_child`,
//! `leaf_value`, `cat_boundaries`, `cat_threshold`, `is_linear`, and `internal_count` when
//! present: the training rows through each split, which balance the walk's lanes), up to
//! `end of trees`. What
//! the evaluation cannot reproduce exactly is refused with the line that says so: linear
//! trees, an unknown objective, a decision type or child index out of range.

use std::collections::HashMap;

use crate::error::{Error, Location, Result};
use crate::model::{Inputs, Model, Node, Objective, MISSING_NAN, MISSING_NONE, MISSING_ZERO};
use crate::signals::definition::Definition;

/// The header line holding the feature set's definition (its canonical JSON), and the one
/// holding its SHA-256. LightGBM reads a header line as `key=value` and keeps the keys it
/// does not know to itself, so the file stays a LightGBM model (`lightgbm.Booster` loads it).
pub const DEFINITION_KEY: &str = "tradecore_features";
/// See [`DEFINITION_KEY`].
pub const SHA256_KEY: &str = "tradecore_features_sha256";

/// The feature definition of a model text's header, checked against its hash and its
/// `feature_names=`; [`Inputs::Undeclared`] without one.
fn definition(header: &Section<'_>, source: &str, names: &[String]) -> Result<Inputs> {
    let Some((line, json)) = header.get(DEFINITION_KEY) else {
        return Ok(Inputs::Undeclared);
    };
    let d = Definition::from_json(json, source, line as u64)?;
    let (hash_line, hash) = header.get(SHA256_KEY).ok_or_else(|| {
        data_err(
            source,
            line,
            format!("{DEFINITION_KEY}= without a {SHA256_KEY}= line"),
        )
    })?;
    if hash.trim() != d.sha256() {
        return Err(data_err(
            source,
            hash_line,
            format!(
                "{SHA256_KEY} is {}, the definition's is {}: the definition was changed",
                hash.trim(),
                d.sha256()
            ),
        ));
    }
    let own: Vec<&str> = names.iter().map(String::as_str).collect();
    if d.names() != own {
        return Err(data_err(
            source,
            line,
            format!(
                "the definition's features ({}) are not the model's feature_names ({})",
                d.names().join(", "),
                own.join(", ")
            ),
        ));
    }
    Ok(Inputs::Definition(d))
}

/// LightGBM's model `text` with `definition` (and its hash) in the header, before the first
/// tree, replacing any there; its feature names must be the model's (`source` names it).
pub fn embed(text: &str, definition: &Definition, source: &str) -> Result<String> {
    let mut model = parse(text, source)?;
    model.declare_definition(definition)?;
    let mut out = String::with_capacity(text.len() + 256);
    let mut done = false;
    let mut after_ours = false;
    for line in text.split_inclusive('\n') {
        let key = line.split_once('=').map_or("", |(k, _)| k);
        if key == DEFINITION_KEY || key == SHA256_KEY {
            after_ours = true;
            continue;
        }
        if std::mem::take(&mut after_ours) && line.trim().is_empty() {
            continue; // the blank line written after ours
        }
        if !done && line.starts_with("Tree=") {
            out.push_str(DEFINITION_KEY);
            out.push('=');
            out.push_str(&definition.to_json());
            out.push('\n');
            out.push_str(SHA256_KEY);
            out.push('=');
            out.push_str(&definition.sha256());
            out.push_str("\n\n");
            done = true;
        }
        out.push_str(line);
    }
    Ok(out)
}

fn data_err(source: &str, line: usize, message: impl Into<String>) -> Error {
    Error::Data {
        location: Location {
            source: source.to_owned(),
            line: line as u64,
        },
        message: message.into(),
    }
}

/// `key=value` lines of one section, with their line numbers.
struct Section<'a> {
    source: &'a str,
    start: usize,
    kv: HashMap<&'a str, (usize, &'a str)>,
}

impl<'a> Section<'a> {
    fn get(&self, key: &str) -> Option<(usize, &'a str)> {
        self.kv.get(key).copied()
    }

    fn need(&self, key: &str) -> Result<(usize, &'a str)> {
        self.get(key).ok_or_else(|| {
            data_err(
                self.source,
                self.start,
                format!("missing '{key}=' in this section"),
            )
        })
    }

    fn int(&self, key: &str) -> Result<i64> {
        let (line, v) = self.need(key)?;
        v.trim().parse().map_err(|_| {
            data_err(
                self.source,
                line,
                format!("invalid {key}: {v:?} (an integer)"),
            )
        })
    }

    fn list<T: std::str::FromStr>(&self, key: &str, len: usize) -> Result<Vec<T>> {
        let (line, v) = self.need(key)?;
        let out = v
            .split_ascii_whitespace()
            .map(|x| {
                x.parse::<T>()
                    .map_err(|_| data_err(self.source, line, format!("invalid {key} value: {x:?}")))
            })
            .collect::<Result<Vec<T>>>()?;
        if out.len() != len {
            return Err(data_err(
                self.source,
                line,
                format!("{key} has {} values, expected {len}", out.len()),
            ));
        }
        Ok(out)
    }
}

/// The L2 and L1 regression objectives (and their aliases): their output is the raw score,
/// squared back with its sign when trained on the label's square root (`reg_sqrt`).
const REGRESSION: [&str; 11] = [
    "regression",
    "regression_l2",
    "l2",
    "mean_squared_error",
    "mse",
    "rmse",
    "root_mean_squared_error",
    "regression_l1",
    "l1",
    "mean_absolute_error",
    "mae",
];

fn objective(source: &str, line: usize, text: &str) -> Result<Objective> {
    let mut words = text.split_ascii_whitespace();
    let name = words.next().unwrap_or("");
    let mut sigmoid = 1.0;
    let mut sqrt = false;
    for w in words {
        if let Some(v) = w.strip_prefix("sigmoid:") {
            sigmoid = v
                .parse()
                .map_err(|_| data_err(source, line, format!("invalid sigmoid: {v:?}")))?;
        } else if w == "sqrt" {
            sqrt = true;
        }
    }
    Ok(match name {
        "binary" => Objective::Sigmoid(sigmoid),
        "multiclass" | "softmax" => Objective::Softmax,
        "multiclassova" | "multiclass_ova" | "ova" | "ovr" => Objective::SigmoidEach(sigmoid),
        "cross_entropy" | "xentropy" => Objective::Sigmoid(1.0),
        "cross_entropy_lambda" | "xentlambda" => Objective::Log1pExp,
        "poisson" | "gamma" | "tweedie" => Objective::Exp,
        n if REGRESSION.contains(&n) => {
            if sqrt {
                Objective::SignedSquare
            } else {
                Objective::Identity
            }
        }
        "fair" | "quantile" | "mape" | "mean_absolute_percentage_error" if sqrt => {
            Objective::SignedSquare
        }
        "huber"
        | "fair"
        | "quantile"
        | "mape"
        | "mean_absolute_percentage_error"
        | "lambdarank"
        | "rank_xendcg"
        | "custom"
        | "none"
        | "" => Objective::Identity,
        other => {
            return Err(data_err(
                source,
                line,
                format!(
                    "unsupported objective: {other:?} (its output transform is not known here)"
                ),
            ))
        }
    })
}

/// Reads a model from LightGBM's text; `source` names it in errors.
#[allow(clippy::too_many_lines)] // one pass over the sections, checked as it goes
pub fn parse(text: &str, source: &str) -> Result<Model> {
    let mut sections: Vec<Section<'_>> = Vec::new();
    let mut current = Section {
        source,
        start: 1,
        kv: HashMap::new(),
    };
    let mut average_output = false;
    let mut ended = false;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end_matches('\r');
        if line == "end of trees" {
            ended = true;
            break;
        }
        if line.starts_with("Tree=") {
            sections.push(std::mem::replace(
                &mut current,
                Section {
                    source,
                    start: n,
                    kv: HashMap::new(),
                },
            ));
        }
        if line == "average_output" {
            average_output = true;
        }
        if let Some((k, v)) = line.split_once('=') {
            current.kv.insert(k, (n, v));
        }
    }
    sections.push(current);
    if !ended {
        return Err(data_err(
            source,
            text.lines().count(),
            "no 'end of trees' line: not a LightGBM model text, or cut short",
        ));
    }
    let header = sections.remove(0);
    if header.get("version").is_none() || header.get("max_feature_idx").is_none() {
        return Err(data_err(
            source,
            1,
            "not a LightGBM model text (no version= or max_feature_idx= line)",
        ));
    }
    let num_class = header.int("num_class")?;
    let per_iter = header
        .get("num_tree_per_iteration")
        .map_or(Ok(num_class), |_| header.int("num_tree_per_iteration"))?;
    let max_feature_idx = header.int("max_feature_idx")?;
    if num_class < 1 || per_iter < 1 || max_feature_idx < 0 {
        return Err(data_err(
            source,
            1,
            format!("invalid header: num_class={num_class}, num_tree_per_iteration={per_iter}, max_feature_idx={max_feature_idx}"),
        ));
    }
    let num_features = (max_feature_idx + 1) as usize;
    let objective = match header.get("objective") {
        Some((line, v)) => objective(source, line, v)?,
        None => Objective::Identity,
    };
    if matches!(objective, Objective::Softmax | Objective::SigmoidEach(_)) != (per_iter > 1) {
        return Err(data_err(
            source,
            header.get("objective").map_or(1, |(l, _)| l),
            format!(
                "objective {:?} does not fit num_tree_per_iteration={per_iter}",
                header.get("objective").map_or("", |(_, v)| v)
            ),
        ));
    }
    let feature_names: Vec<String> = header.get("feature_names").map_or_else(
        || (0..num_features).map(|i| format!("Column_{i}")).collect(),
        |(_, v)| v.split_ascii_whitespace().map(str::to_owned).collect(),
    );
    let inputs = definition(&header, source, &feature_names)?;
    if sections.is_empty() {
        return Err(data_err(source, 1, "the model has no trees"));
    }
    if sections.len() % per_iter as usize != 0 {
        return Err(data_err(
            source,
            sections.last().map_or(1, |s| s.start),
            format!(
                "{} trees is not a multiple of num_tree_per_iteration={per_iter}",
                sections.len()
            ),
        ));
    }
    let mut model = Model {
        num_features,
        outputs: per_iter as usize,
        objective,
        average_output,
        feature_names,
        inputs,
        source: source.to_owned(),
        roots: Vec::with_capacity(sections.len()),
        nodes: Vec::new(),
        leaves: Vec::new(),
        cat_bits: Vec::new(),
        has_categorical: false,
        has_zero_missing: false,
        expected_steps: Vec::with_capacity(sections.len()),
        fast: None,
    };
    for s in &sections {
        if s.get("is_linear").is_some_and(|(_, v)| v.trim() != "0") {
            return Err(data_err(
                source,
                s.need("is_linear")?.0,
                "linear trees (linear_tree=true) are not supported",
            ));
        }
        let leaves = s.int("num_leaves")?;
        if leaves < 1 {
            return Err(data_err(
                source,
                s.start,
                format!("invalid num_leaves: {leaves}"),
            ));
        }
        let leaves = leaves as usize;
        let leaf_base = model.leaves.len();
        let values: Vec<f64> = s.list("leaf_value", leaves)?;
        model.leaves.extend_from_slice(&values);
        if leaves == 1 {
            model.roots.push(!(leaf_base as i32));
            model.expected_steps.push(0.0);
            continue;
        }
        let inner = leaves - 1;
        let node_base = model.nodes.len();
        let feat: Vec<i64> = s.list("split_feature", inner)?;
        let thr: Vec<f64> = s.list("threshold", inner)?;
        let dt: Vec<i64> = s.list("decision_type", inner)?;
        let left: Vec<i64> = s.list("left_child", inner)?;
        let right: Vec<i64> = s.list("right_child", inner)?;
        let num_cat = s.get("num_cat").map_or(Ok(0), |_| s.int("num_cat"))?;
        let (bounds, bits): (Vec<i64>, Vec<u32>) = if num_cat > 0 {
            let b: Vec<i64> = s.list("cat_boundaries", num_cat as usize + 1)?;
            let total = *b.last().unwrap_or(&0);
            (b, s.list("cat_threshold", total.max(0) as usize)?)
        } else {
            (Vec::new(), Vec::new())
        };
        let child = |c: i64, key: &str| -> Result<i32> {
            if c >= 0 && (c as usize) < inner {
                Ok((node_base + c as usize) as i32)
            } else if c < 0 && ((!c) as usize) < leaves {
                Ok(!((leaf_base + (!c) as usize) as i32))
            } else {
                Err(data_err(
                    source,
                    s.need(key)?.0,
                    format!("{key} {c} is out of range ({inner} nodes, {leaves} leaves)"),
                ))
            }
        };
        for j in 0..inner {
            let f = feat[j];
            if f < 0 || f as usize >= num_features {
                return Err(data_err(
                    source,
                    s.need("split_feature")?.0,
                    format!(
                        "split_feature {f} is out of range (max_feature_idx={max_feature_idx})"
                    ),
                ));
            }
            let d = dt[j];
            if !(0..=15).contains(&d) {
                return Err(data_err(
                    source,
                    s.need("decision_type")?.0,
                    format!("invalid decision_type: {d}"),
                ));
            }
            let categorical = d & 1 != 0;
            let missing = ((d >> 2) & 3) as u8;
            if missing > MISSING_NAN {
                return Err(data_err(
                    source,
                    s.need("decision_type")?.0,
                    format!("invalid missing type in decision_type {d}"),
                ));
            }
            let (threshold, cat_start, cat_len) = if categorical {
                let k = thr[j];
                if k < 0.0 || k.fract() != 0.0 || k as i64 >= num_cat {
                    return Err(data_err(
                        source,
                        s.need("threshold")?.0,
                        format!("categorical threshold {k} is not a category set index (num_cat={num_cat})"),
                    ));
                }
                let k = k as usize;
                let (a, b) = (bounds[k], bounds[k + 1]);
                if a < 0 || b < a || b as usize > bits.len() {
                    return Err(data_err(
                        source,
                        s.need("cat_boundaries")?.0,
                        format!("cat_boundaries {a}..{b} out of range"),
                    ));
                }
                model.has_categorical = true;
                (
                    f64::NAN,
                    (model.cat_bits.len() + a as usize) as u32,
                    (b - a) as u32,
                )
            } else {
                model.has_zero_missing |= missing == MISSING_ZERO;
                (thr[j], 0, 0)
            };
            model.nodes.push(Node {
                threshold,
                feature: f as u32,
                left: child(left[j], "left_child")?,
                right: child(right[j], "right_child")?,
                missing: if categorical { MISSING_NONE } else { missing },
                default_left: d & 2 != 0,
                categorical,
                cat_start,
                cat_len,
            });
        }
        // A tree: every node but the root and every leaf is the child of exactly one node, and
        // a node's children come after it (as LightGBM numbers them): no cycle, no sharing.
        let mut node_seen = vec![false; inner];
        let mut leaf_seen = vec![false; leaves];
        for j in 0..inner {
            for (c, key) in [(left[j], "left_child"), (right[j], "right_child")] {
                let bad = if c >= 0 {
                    let c = c as usize; // in range: checked with the nodes above
                    c <= j || std::mem::replace(&mut node_seen[c], true)
                } else {
                    std::mem::replace(&mut leaf_seen[(!c) as usize], true)
                };
                if bad {
                    return Err(data_err(
                        source,
                        s.need(key)?.0,
                        format!("{key} {c} of node {j}: not a tree (a child comes after its node, once)"),
                    ));
                }
            }
        }
        if node_seen.iter().skip(1).any(|&v| !v) || leaf_seen.iter().any(|&v| !v) {
            return Err(data_err(
                source,
                s.need("left_child")?.0,
                "not a tree: a node or a leaf is no node's child",
            ));
        }
        // the expected number of splits on a walk: each node's chance to be reached, from the
        // training counts (rows through each node) when the file has them, else half its parent's
        let counts: Option<Vec<f64>> = match s.get("internal_count") {
            Some(_) => Some(s.list("internal_count", inner)?),
            None => None,
        };
        let mut reach = vec![0.0f64; inner];
        reach[0] = 1.0;
        for j in 0..inner {
            for c in [left[j], right[j]] {
                if c > 0 {
                    let c = c as usize;
                    reach[c] = reach[j]
                        * match &counts {
                            Some(n) if n[j] > 0.0 && n[c] >= 0.0 => (n[c] / n[j]).min(1.0),
                            _ => 0.5,
                        };
                }
            }
        }
        model.expected_steps.push(reach.iter().sum());
        model.cat_bits.extend_from_slice(&bits);
        model.roots.push(node_base as i32);
    }
    model.finish();
    Ok(model)
}
