//! Hand-written model texts, each rule checked by value (the Python tests compare against
//! LightGBM itself on trained models).

#![allow(clippy::float_cmp)] // bit-exact results are the point

use std::fmt::Write as _;

use super::*;
use crate::signals::definition::Definition;

/// Two trees over three features. Tree 0: f0 <= 1.5 (NaN missing, default left) -> leaf 0
/// (0.5), else f1 <= 0 (zero missing, default right) -> leaf 1 (-1) / leaf 2 (2). Tree 1:
/// categorical f2 in {1, 3, 33} -> leaf 0 (10), else leaf 1 (20).
const TEXT: &str = "tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=2
objective=binary sigmoid:2
feature_names=a b c
tree_sizes=1 1

Tree=0
num_leaves=3
num_cat=0
split_feature=0 1
split_gain=1 1
threshold=1.5 0
decision_type=10 4
left_child=-1 -2
right_child=1 -3
leaf_value=0.5 -1 2
shrinkage=1

Tree=1
num_leaves=2
num_cat=1
split_feature=2
split_gain=1
threshold=0
decision_type=1
left_child=-1
right_child=-2
leaf_value=10 20
cat_boundaries=0 2
cat_threshold=10 2
shrinkage=1

end of trees

feature_importances:
a=1
";

fn raw(m: &Model, row: &[f64]) -> f64 {
    let mut out = [0.0];
    m.predict_raw_into(row, &mut Vec::new(), &mut out).unwrap();
    out[0]
}

#[test]
fn numerical_and_categorical_rules() {
    let m = Model::from_lightgbm(TEXT, "t.txt").unwrap();
    assert_eq!((m.num_features(), m.outputs(), m.trees()), (3, 1, 2));
    assert_eq!(m.feature_names(), ["a", "b", "c"]);
    // threshold exactly: left
    assert_eq!(raw(&m, &[1.5, 5.0, 1.0]), 0.5 + 10.0);
    assert_eq!(raw(&m, &[1.6, 5.0, 1.0]), 2.0 + 10.0);
    // NaN at a NaN-missing split: default left
    assert_eq!(raw(&m, &[f64::NAN, 5.0, 2.0]), 0.5 + 20.0);
    // zero (and |x| <= 1e-35) at a zero-missing split: default right
    assert_eq!(raw(&m, &[2.0, 0.0, 3.0]), 2.0 + 10.0);
    assert_eq!(raw(&m, &[2.0, 1e-36, 3.0]), 2.0 + 10.0);
    // NaN at a zero-missing split is 0, hence missing: right
    assert_eq!(raw(&m, &[2.0, f64::NAN, 3.0]), 2.0 + 10.0);
    // a negative value, not missing: compared
    assert_eq!(raw(&m, &[2.0, -1.0, 3.0]), -1.0 + 10.0);
    // categories: bits 1 and 3 of word 0 (10 = 0b1010), bit 1 of word 1 (33)
    for (c, left) in [
        (0.0, false),
        (1.0, true),
        (3.0, true),
        (3.9, true),
        (33.0, true),
        (32.0, false),
        (64.0, false),
        (-1.0, false),
        (f64::NAN, false),
        (1e300, false),
    ] {
        assert_eq!(
            raw(&m, &[0.0, 0.0, c]),
            0.5 + if left { 10.0 } else { 20.0 },
            "category {c}"
        );
    }
    let mut out = [0.0];
    m.predict_into(&[0.0, 0.0, 1.0], false, &mut Vec::new(), &mut out)
        .unwrap();
    assert_eq!(out[0], 1.0 / (1.0 + (-2.0f64 * 10.5).exp()));
    let e = m
        .predict_raw_into(&[1.0], &mut Vec::new(), &mut out)
        .unwrap_err();
    assert!(e.to_string().contains("the model takes 3 features"), "{e}");
}

#[test]
fn multiclass_softmax_and_matrix() {
    let text = "tree
version=v4
num_class=2
num_tree_per_iteration=2
max_feature_idx=0
objective=multiclass num_class:2

Tree=0
num_leaves=2
split_feature=0
threshold=0.5
decision_type=2
left_child=-1
right_child=-2
leaf_value=1 2

Tree=1
num_leaves=1
leaf_value=0.25

Tree=2
num_leaves=1
leaf_value=0.5

Tree=3
num_leaves=2
split_feature=0
threshold=0.5
decision_type=2
left_child=-1
right_child=-2
leaf_value=-1 -2

end of trees
";
    let m = Model::from_lightgbm(text, "mc.txt").unwrap();
    assert_eq!((m.outputs(), m.trees()), (2, 4));
    assert!(
        !m.fast.as_ref().unwrap().lane_sum,
        "two outputs: summed tree by tree"
    );
    let mut out = Vec::new();
    m.predict_matrix(&[0.0, 1.0], true, &mut out).unwrap();
    assert_eq!(out, [1.5, -0.75, 2.5, -1.75]);
    let mut p = [1.5, -0.75];
    m.transform(&mut p);
    let (a, b) = ((1.5f64 - 1.5).exp(), (-0.75f64 - 1.5).exp());
    assert_eq!(p, [a / (a + b), b / (a + b)]);
}

#[test]
fn bad_texts_are_errors_naming_the_line() {
    let cases = [
        (TEXT.replace("end of trees", ""), "no 'end of trees'"),
        (
            TEXT.replace("left_child=-1 -2", "left_child=-1 -7"),
            "t.txt:18: left_child -7 is out of range",
        ),
        (
            TEXT.replace("threshold=1.5 0", "threshold=1.5"),
            "t.txt:16: threshold has 1 values, expected 2",
        ),
        (
            TEXT.replace("split_feature=0 1", "split_feature=0 9"),
            "split_feature 9 is out of range",
        ),
        (
            TEXT.replace("objective=binary sigmoid:2", "objective=lambdamart_x"),
            "unsupported objective",
        ),
        (
            TEXT.replace(
                "shrinkage=1\n\nTree=1",
                "is_linear=1\nshrinkage=1\n\nTree=1",
            ),
            "linear trees",
        ),
        (
            TEXT.replace(
                "threshold=0\ndecision_type=1",
                "threshold=4\ndecision_type=1",
            ),
            "not a category set",
        ),
        (
            TEXT.replace("leaf_value=0.5 -1 2", "leaf_value=0.5 x 2"),
            "invalid leaf_value value: \"x\"",
        ),
        ("hello".to_owned(), "no 'end of trees'"),
        // a cycle, and a node that is two nodes' child: not trees
        (
            TEXT.replace("right_child=1 -3", "right_child=0 -3"),
            "right_child 0 of node 0: not a tree",
        ),
        (
            TEXT.replace("left_child=-1 -2", "left_child=-1 -1"),
            "left_child -1 of node 1: not a tree",
        ),
    ];
    for (text, want) in cases {
        let e = Model::from_lightgbm(&text, "t.txt")
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{want:?} not in {e:?}");
    }
}

#[test]
fn branch_free_layout_equals_the_rules() {
    // numerical splits with missing types none and NaN, default left and right, a one-leaf
    // tree, trees of different depths: the lanes' walk against the per-node rules
    let text = "tree
version=v4
num_class=1
num_tree_per_iteration=1
max_feature_idx=2
objective=regression

Tree=0
num_leaves=4
split_feature=0 1 2
threshold=0.5 -1 1.0000000180025095e-35
decision_type=10 0 8
left_child=1 -1 -3
right_child=2 -2 -4
leaf_value=1 2 4 8

Tree=1
num_leaves=1
leaf_value=0.125

Tree=2
num_leaves=2
split_feature=2
threshold=0
decision_type=0
left_child=-1
right_child=-2
leaf_value=16 32

end of trees
";
    let fast = Model::from_lightgbm(text, "f.txt").unwrap();
    assert!(fast.fast.is_some());
    let mut slow = fast.clone();
    slow.fast = None;
    let values = [
        f64::NAN,
        -2.0,
        -1.0,
        -1e-36,
        0.0,
        1e-40,
        1e-35,
        0.5,
        0.6,
        3.0,
    ];
    for a in values {
        for b in values {
            for c in values {
                let row = [a, b, c];
                assert_eq!(
                    raw(&fast, &row).to_bits(),
                    raw(&slow, &row).to_bits(),
                    "row {row:?}"
                );
            }
        }
    }
    // a tiny value is 0: at threshold 0 it goes left (16), as in LightGBM
    assert_eq!(raw(&fast, &[0.0, 0.0, 1e-40]), 2.0 + 0.125 + 16.0);
}

#[test]
fn categories_truncate_like_lightgbm_and_objectives_round_like_it() {
    // category 0 in the set (bit 0): -0.5 truncates to 0 and goes left, -1 goes right
    let m = Model::from_lightgbm(
        &TEXT.replace("cat_threshold=10 2", "cat_threshold=11 2"),
        "t",
    )
    .unwrap();
    assert_eq!(raw(&m, &[0.0, 0.0, -0.5]), 0.5 + 10.0);
    assert_eq!(raw(&m, &[0.0, 0.0, 0.0]), 0.5 + 10.0);
    assert_eq!(raw(&m, &[0.0, 0.0, -1.0]), 0.5 + 20.0);
    let sq = Model::from_lightgbm(
        &TEXT.replace("objective=binary sigmoid:2", "objective=quantile sqrt"),
        "t",
    )
    .unwrap();
    let mut o = [-3.0, 0.0];
    sq.transform(&mut o[..1]);
    assert_eq!(o[0], -9.0);
    sq.transform(&mut o[1..]);
    assert_eq!(o[1].to_bits(), 0.0f64.to_bits());
}

/// A model text of `trees` random trees of `leaves` leaves over `features` features (a random
/// leaf split at each step, as leaf-wise growth does), leaves within `scale` of 0, thresholds
/// on a grid of eighths, splits with NaN or no missing type, either default side.
fn random_text(
    seed: u64,
    trees: usize,
    leaves: usize,
    features: usize,
    scale: f64,
    objective: &str,
) -> String {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    let mut text = format!(
        "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nmax_feature_idx={}\nobjective={objective}\n\n",
        features - 1
    );
    for t in 0..trees {
        // children of node j; a leaf k is !k; node j splits what was leaf `grown[j]`
        let (mut left, mut right) = (Vec::new(), Vec::new());
        let mut holder: Vec<Option<(usize, bool)>> = vec![None]; // who points at each leaf
        for j in 0..leaves - 1 {
            let k = next() as usize % holder.len();
            if let Some((p, is_left)) = holder[k] {
                if is_left {
                    left[p] = j as i64;
                } else {
                    right[p] = j as i64;
                }
            }
            left.push(!(k as i64));
            right.push(!(holder.len() as i64));
            holder[k] = Some((j, true));
            holder.push(Some((j, false)));
        }
        let n = leaves - 1;
        let list = |f: &mut dyn FnMut() -> String, k: usize| {
            (0..k).map(|_| f()).collect::<Vec<_>>().join(" ")
        };
        let feat = list(&mut || (next() as usize % features).to_string(), n);
        // thresholds on a grid of eighths, so rows can land exactly on them
        let thr = list(&mut || ((next() % 33) as f64 / 8.0 - 2.0).to_string(), n);
        let dt = list(
            &mut || ["0", "2", "8", "10"][next() as usize % 4].to_owned(),
            n,
        );
        let val = list(
            &mut || (((next() % 2001) as f64 - 1000.0) / 1000.0 * scale).to_string(),
            leaves,
        );
        let join = |v: &[i64]| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let _ = write!(
            text,
            "Tree={t}\nnum_leaves={leaves}\nsplit_feature={feat}\nthreshold={thr}\ndecision_type={dt}\n\
             left_child={}\nright_child={}\nleaf_value={val}\n\n",
            join(&left),
            join(&right)
        );
    }
    text + "end of trees\n"
}

/// Rows on the thresholds' grid, between it, and NaN.
fn random_rows(seed: u64, rows: usize, features: usize) -> Vec<f64> {
    let mut state = seed;
    (0..rows * features)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            match state % 10 {
                0 => f64::NAN,
                1..=4 => (state >> 8) as f64 % 33.0 / 8.0 - 2.0,
                _ => ((state >> 11) as f64 / (1u64 << 53) as f64) * 5.0 - 2.5,
            }
        })
        .collect()
}

fn general(m: &Model) -> Model {
    let mut g = m.clone();
    g.fast = None;
    g
}

#[test]
fn lanes_sum_in_the_lane_only_within_the_rounding_bound() {
    let rows = random_rows(3, 3000, 20);
    // leaves of about 0.1 (a regression on returns, a binary model): the lanes sum; within
    // half of 1e-12 of the tree-by-tree sum on every row, raw and through the sigmoid
    for objective in ["regression", "binary sigmoid:1"] {
        let m = Model::from_lightgbm(&random_text(1, 100, 31, 20, 0.1, objective), "r").unwrap();
        assert!(m.fast.as_ref().unwrap().lane_sum, "{objective}");
        let g = general(&m);
        for raw in [true, false] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            m.predict_matrix(&rows, raw, &mut a).unwrap();
            g.predict_matrix(&rows, raw, &mut b).unwrap();
            let worst = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f64::max);
            assert!(
                worst <= LANE_SUM_TOLERANCE,
                "{objective} raw={raw}: {worst:e}"
            );
        }
    }
    // leaves of about 1000 (a price), several outputs, or an exp transform: tree by tree, to
    // the bit
    let texts = [
        random_text(2, 100, 31, 20, 1000.0, "regression"),
        random_text(4, 100, 31, 20, 0.1, "poisson"),
        random_text(5, 40, 31, 20, 0.1, "regression")
            .replace("num_tree_per_iteration=1", "num_tree_per_iteration=2")
            .replace("num_class=1", "num_class=2")
            .replace("objective=regression", "objective=multiclass num_class:2"),
    ];
    for text in texts {
        let m = Model::from_lightgbm(&text, "r").unwrap();
        assert!(!m.fast.as_ref().unwrap().lane_sum);
        let g = general(&m);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        m.predict_matrix(&rows, true, &mut a).unwrap();
        g.predict_matrix(&rows, true, &mut b).unwrap();
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}

#[test]
fn lanes_are_balanced_by_the_training_counts() {
    // one node reached by all 100 rows, its left child by 90: 1.9 splits expected
    let text = "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nmax_feature_idx=0\n\
                objective=regression\n\nTree=0\nnum_leaves=3\nsplit_feature=0 0\nthreshold=1 0\n\
                decision_type=2 2\nleft_child=1 -1\nright_child=-3 -2\nleaf_value=1 2 3\n\
                internal_count=100 90\n\nend of trees\n";
    let m = Model::from_lightgbm(text, "c").unwrap();
    assert!((m.expected_steps[0] - 1.9).abs() < 1e-12);
    let m = Model::from_lightgbm(&text.replace("internal_count=100 90\n", ""), "c").unwrap();
    assert!(
        (m.expected_steps[0] - 1.5).abs() < 1e-12,
        "without counts: half each way"
    );
    let e = Model::from_lightgbm(&text.replace("100 90", "100 x"), "c").unwrap_err();
    assert!(e.to_string().contains("internal_count"), "{e}");
    // more trees than lanes: every lane has trees, and every walk ends with the rules' result
    let m = Model::from_lightgbm(&random_text(9, 37, 200, 3, 0.5, "regression"), "r").unwrap();
    let starts = m.fast.as_ref().unwrap().starts;
    assert!(starts.iter().all(|&s| s != Fast::END), "{starts:?}");
    let rows = random_rows(8, 500, 3);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    m.predict_matrix(&rows, true, &mut a).unwrap();
    general(&m).predict_matrix(&rows, true, &mut b).unwrap();
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(worst <= LANE_SUM_TOLERANCE, "{worst:e}");
}

#[test]
fn a_chain_thousands_of_splits_deep_is_walked() {
    // split j: x0 <= j goes on to split j + 1, else leaf j; the last split's left is leaf n
    let n = 5000;
    let join = |v: Vec<String>| v.join(" ");
    let text = format!(
        "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nmax_feature_idx=0\n\
         objective=regression\n\nTree=0\nnum_leaves={}\nsplit_feature={}\nthreshold={}\n\
         decision_type={}\nleft_child={}\nright_child={}\nleaf_value={}\n\nend of trees\n",
        n + 1,
        join(vec!["0".to_owned(); n]),
        join((0..n).rev().map(|j| j.to_string()).collect()),
        join(vec!["2".to_owned(); n]),
        join(
            (1..n)
                .map(|j| j.to_string())
                .chain([format!("{}", !(n as i64))])
                .collect()
        ),
        join((0..n).map(|j| (!(j as i64)).to_string()).collect()),
        join((0..=n).map(|j| j.to_string()).collect()),
    );
    let m = Model::from_lightgbm(&text, "chain").unwrap();
    assert!(m.fast.is_some());
    // x0 = 4000.5: splits 0..=999 have thresholds 4999..=4000 and send it on, split 999
    // (threshold 4000) sends it right: leaf 999
    for (x, leaf) in [
        (4000.5, 999.0),
        (-1.0, 5000.0),
        (1e9, 0.0),
        (f64::NAN, 5000.0),
    ] {
        assert_eq!(raw(&m, &[x]), leaf, "x0 = {x}");
        assert_eq!(raw(&general(&m), &[x]), leaf, "x0 = {x}");
    }
}

#[test]
fn the_lane_sum_bound_is_higham_s() {
    // 100 trees, lanes at most 13 deep: LightGBM's sum is 99 additions deep, the lanes' 13 +
    // 8 + 1; the largest leaves may add up to 5e-13 / ((99 + 22) u) (about 37), and no more
    let m = Model::from_lightgbm(&random_text(1, 100, 31, 20, 0.1, "regression"), "r").unwrap();
    let u = f64::EPSILON / 2.0;
    let gamma = |h: f64| h * u / (1.0 - h * u);
    let limit = 5e-13 / (gamma(99.0) + gamma(22.0));
    assert!(lane_sum_allowed(&m, 22, limit * 0.999));
    assert!(!lane_sum_allowed(&m, 22, limit * 1.001));
    // a sigmoid of slope 40 / 4 = 10: a tenth of the room, less its own rounding (raw scores
    // need the bound too, so a gentle sigmoid changes nothing)
    let steep =
        Model::from_lightgbm(&random_text(1, 100, 31, 20, 0.1, "binary sigmoid:40"), "b").unwrap();
    let limit = (5e-13 - 8.0 * u) / 10.0 / (gamma(99.0) + gamma(22.0));
    assert!(lane_sum_allowed(&steep, 22, limit * 0.999));
    assert!(!lane_sum_allowed(&steep, 22, limit * 1.001));
}

/// A feature set of columns a, b, c (mid, spread, imbalance over `levels`), every message.
fn abc(names: [&str; 3], levels: i64, sample: crate::signals::features::Sample) -> Definition {
    use crate::signals::features::{FeatureSet, FeatureSpec};
    let spec = |name: &str, kind: &str, ints: Vec<(String, i64)>| FeatureSpec {
        name: name.into(),
        kind: kind.into(),
        ints,
        texts: Vec::new(),
        reals: Vec::new(),
    };
    let specs = [
        spec(names[0], "mid", Vec::new()),
        spec(names[1], "spread", Vec::new()),
        spec(names[2], "imbalance", vec![("levels".into(), levels)]),
    ];
    FeatureSet::new(&specs, 1, 1, None, sample, None)
        .unwrap()
        .definition()
        .clone()
}

#[test]
fn a_model_runs_only_on_its_feature_definition() {
    use crate::signals::features::Sample;
    let plain = Model::from_lightgbm(TEXT, "m.txt").unwrap();
    assert_eq!(plain.inputs(), &Inputs::Undeclared);
    let d = abc(["a", "b", "c"], 5, Sample::Message);
    let e = plain.check_features(&d).unwrap_err().to_string();
    assert!(e.contains("declare them when loading it"), "{e}");

    let text = lightgbm::embed(TEXT, &d, "m.txt").unwrap();
    assert!(text.contains(&format!(
        "\ntradecore_features={}\ntradecore_features_sha256={}\n\nTree=0\n",
        d.to_json(),
        d.sha256()
    )));
    assert_eq!(lightgbm::embed(&text, &d, "m.txt").unwrap(), text);
    let m = Model::from_lightgbm(&text, "m.txt").unwrap();
    assert_eq!(m.inputs(), &Inputs::Definition(d.clone()));
    m.check_features(&d).unwrap();
    // the same trees: the same predictions
    assert_eq!(raw(&m, &[1.0, 2.0, 3.0]), raw(&plain, &[1.0, 2.0, 3.0]));
    for (other, want) in [
        (
            abc(["b", "a", "c"], 5, Sample::Message),
            "feature 0 is 'b', the model was trained with 'a'",
        ),
        (
            abc(["a", "b", "c"], 10, Sample::Message),
            "feature 'c': levels 10, the model was trained with levels 5",
        ),
        (
            abc(["a", "b", "c"], 5, Sample::Every(1_000_000)),
            "sampling: every 1ms, the model was trained with rows sampled each message",
        ),
    ] {
        let e = m.check_features(&other).unwrap_err();
        assert!(matches!(e, Error::FeatureMismatch { .. }));
        assert_eq!(
            e.to_string(),
            format!("the features do not match the model m.txt: {want}")
        );
    }
    // declared by names: the names are checked, against the file's
    let mut named = plain.clone();
    named
        .declare_names(&["a".into(), "x".into(), "c".into()])
        .unwrap_err();
    named
        .declare_names(&["a".into(), "b".into(), "c".into()])
        .unwrap();
    named.check_features(&d).unwrap();
    assert!(named
        .check_features(&abc(["a", "c", "b"], 5, Sample::Message))
        .is_err());
    // a definition of other names cannot be embedded
    assert!(lightgbm::embed(TEXT, &abc(["x", "b", "c"], 5, Sample::Message), "m.txt").is_err());
}
