//! Tree-model inference: a LightGBM model ([`lightgbm::parse`] reads its text) evaluated in
//! Rust with LightGBM's own rules: its results to the last bit when the trees are summed in
//! its order, and within a proven 5e-13 when the walk's lanes sum them (see [`Fast`]).
//!
//! The rules (LightGBM's `Tree::NumericalDecision` / `CategoricalDecision` and its dense-row
//! predictor): an input with `|x| <= 1e-35` counts as 0 (LightGBM drops such values from the
//! row); at a numerical split, NaN is 0 unless the split's missing type is NaN; a value that
//! is missing for the split (NaN with missing type NaN, 0 with missing type Zero) goes to the
//! default side; otherwise `x <= threshold` goes left. At a categorical split, NaN and
//! negative values go right, and a category goes left when its bit is set in the split's
//! bitset. Trees are summed in file order per output (tree `t` adds to output
//! `t % outputs`), starting from 0 (the raw score); a prediction is that sum averaged over the
//! iterations (random forest only) and transformed by the objective (sigmoid, softmax, exp...).

pub mod lightgbm;
pub mod signal;

use crate::error::{Error, Result};
use crate::signals::definition::{first_name_difference, Definition};

/// What a model knows of its inputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Inputs {
    /// A LightGBM file alone: the names of its `feature_names=` line, and nothing of what they
    /// compute. It runs on a feature set only once its inputs are declared.
    Undeclared,
    /// Declared by their names (checked against `feature_names=`): a feature set runs it when
    /// its columns have these names, in this order.
    Names,
    /// The definition of the feature set it was trained on (written by `tradecore train`, or
    /// declared with the feature set): a feature set runs it only when its definition is equal.
    Definition(Definition),
}

/// Missing-value types of a numerical split (`decision_type` bits 2-3).
pub const MISSING_NONE: u8 = 0;
/// Zero is missing.
pub const MISSING_ZERO: u8 = 1;
/// NaN is missing.
pub const MISSING_NAN: u8 = 2;

/// LightGBM's `kZeroThreshold` (a `float` literal, `1e-35f`).
const ZERO_THRESHOLD: f64 = 1e-35_f32 as f64;

/// The objective's output transform.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// Raw scores (regression, ranking, custom objectives).
    Identity,
    /// `1 / (1 + exp(-s * x))` (binary, cross-entropy with s = 1).
    Sigmoid(f64),
    /// Softmax over the outputs (multiclass).
    Softmax,
    /// A sigmoid per output (one-vs-all multiclass).
    SigmoidEach(f64),
    /// `exp(x)` (poisson, gamma, tweedie).
    Exp,
    /// `log(1 + exp(x))` (cross-entropy lambda).
    Log1pExp,
    /// `sign(x) * x * x` (regression trained on the square root of the label).
    SignedSquare,
}

/// One split. Children: `>= 0` a node index, `< 0` the complement of a leaf index (both
/// into the model's arrays).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    threshold: f64,
    feature: u32,
    left: i32,
    right: i32,
    missing: u8,
    default_left: bool,
    categorical: bool,
    /// The category bitset: `cat_bits[cat_start..cat_start + cat_len]`.
    cat_start: u32,
    cat_len: u32,
}

/// A tree ensemble, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Model {
    num_features: usize,
    outputs: usize,
    objective: Objective,
    average_output: bool,
    feature_names: Vec<String>,
    /// What it knows of its inputs.
    inputs: Inputs,
    /// Where it was read from (for errors).
    source: String,
    /// The root of each tree (a node, or the complement of a leaf for a one-leaf tree).
    roots: Vec<i32>,
    nodes: Vec<Node>,
    leaves: Vec<f64>,
    cat_bits: Vec<u32>,
    has_categorical: bool,
    has_zero_missing: bool,
    /// The expected number of splits on a tree's walk (from the training counts when the
    /// file has them, else as if each split went either way half the time).
    expected_steps: Vec<f64>,
    /// The branch-free layout, for models with numerical splits only and no zero-as-missing
    /// split (see [`Fast`]).
    fast: Option<Fast>,
}

/// A node of the branch-free layout (32 bytes, two to a cache line). Its children are adjacent,
/// left at `right - 1`: a step is a compare and a subtraction, `right - (x <= thr)`.
///
/// The walk reads the row twice over: value `2f` is feature `f` as it is, `2f + 1` the same
/// with NaN as -inf. A NaN goes right at `x <= thr` and -inf goes left, so a split reads the
/// copy whose NaN goes its default way (missing type NaN: the default side; none: where 0
/// goes), and no step tests for NaN.
///
/// Each lane walks a fixed sequence of trees, and a leaf of one tree is a copy of the next
/// tree's root carrying the leaf's value and its tree's index (`slot`): stepping onto a leaf
/// stores its value and goes on into the next tree, without a branch. After a lane's last tree
/// its leaves lead to [`Fast::END`], a node that leads to itself.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(32))]
struct FastNode {
    thr: f64,
    /// The leaf value this node carries (0 for a node that is no leaf).
    value: f64,
    /// The value read: `2 * feature + (NaN goes left)`.
    input: u32,
    right: u32,
    /// Where `value` goes: its tree's index, or the spare slot after the last tree.
    slot: u32,
}

/// The trees in `LANES` lanes walked in lockstep: independent walks overlap in the CPU, no step
/// branches, and each lane is busy until its last tree's leaf (trees go to the lanes by their
/// expected path length, so that the lanes end together). The lanes sum their leaves when the
/// rounding bound allows ([`lane_sum_allowed`]); otherwise each leaf value goes to its tree's
/// slot and the trees are summed in LightGBM's order.
#[derive(Debug, Clone)]
struct Fast {
    nodes: Vec<FastNode>,
    /// The first node of each lane (its first tree's root, or [`Fast::END`]).
    starts: [u32; LANES],
    /// The value of each one-leaf tree (such trees are in no lane), and their sum.
    constants: Vec<(u32, f64)>,
    constant_sum: f64,
    trees: usize,
    /// Sum the leaves in the lanes (then the lanes, then the one-leaf trees) rather than tree
    /// by tree: when the rounding bound allows it ([`lane_sum_allowed`]).
    lane_sum: bool,
}

const LANES: usize = 8;
/// Steps between two looks at whether every lane is done.
const STEPS_PER_CHECK: usize = 4;

impl Fast {
    /// Where a lane rests after its last tree: nodes 0 and 1 lead to one another (they read
    /// input 1, never NaN, and `x <= inf` goes left to 0).
    const END: u32 = 0;

    /// Lays out `m`'s trees (numerical splits only, none with zero as missing, no NaN
    /// threshold).
    fn new(m: &Model) -> Self {
        let spare = m.roots.len() as u32;
        let end = FastNode {
            thr: f64::INFINITY,
            value: 0.0,
            input: 1,
            right: 1,
            slot: spare,
        };
        let mut f = Fast {
            nodes: vec![end, end],
            starts: [Self::END; LANES],
            constants: Vec::new(),
            constant_sum: 0.0,
            trees: m.roots.len(),
            lane_sum: false,
        };
        // each tree's split nodes; where its leaves go and their values
        let mut roots = vec![0u32; m.roots.len()];
        let mut leaves: Vec<Vec<(u32, f64)>> = vec![Vec::new(); m.roots.len()];
        let mut walked = Vec::new();
        for (t, &root) in m.roots.iter().enumerate() {
            if root < 0 {
                f.constants.push((t as u32, m.leaves[(!root) as usize]));
                continue;
            }
            walked.push(t);
            roots[t] = f.slot();
            // a work list, not recursion: a tree may be a chain thousands of nodes deep
            let mut work = vec![(root, roots[t])];
            while let Some((i, at)) = work.pop() {
                if i < 0 {
                    leaves[t].push((at, m.leaves[(!i) as usize]));
                    continue;
                }
                let n = m.nodes[i as usize];
                let nan_left = if n.missing == MISSING_NAN {
                    n.default_left
                } else {
                    0.0 <= n.threshold
                };
                if f.nodes.len() % 2 == 1 {
                    f.slot(); // children at an even index (64 bytes together)
                }
                let left = f.slot();
                let right = f.slot();
                f.nodes[at as usize] = FastNode {
                    thr: n.threshold,
                    value: 0.0,
                    input: 2 * n.feature + u32::from(nan_left),
                    right,
                    slot: spare,
                };
                work.push((n.right, right));
                work.push((n.left, left));
            }
        }
        // lanes: the longest expected walks first, each to the least busy lane
        walked.sort_by(|&a, &b| m.expected_steps[b].total_cmp(&m.expected_steps[a]));
        let mut busy = [0.0f64; LANES];
        let mut lanes: [Vec<usize>; LANES] = Default::default();
        for t in walked {
            let lane = (0..LANES)
                .min_by(|&a, &b| busy[a].total_cmp(&busy[b]))
                .unwrap_or(0);
            busy[lane] += m.expected_steps[t];
            lanes[lane].push(t);
        }
        for (lane, trees) in lanes.iter_mut().enumerate() {
            trees.sort_unstable(); // in file order: nearby in memory
            if let Some(&first) = trees.first() {
                f.starts[lane] = roots[first];
            }
            for (k, &t) in trees.iter().enumerate() {
                let next = match trees.get(k + 1) {
                    Some(&u) => f.nodes[roots[u] as usize],
                    None => end,
                };
                for &(at, value) in &leaves[t] {
                    f.nodes[at as usize] = FastNode {
                        value,
                        slot: t as u32,
                        ..next
                    };
                }
            }
        }
        // the largest leaf of each tree, summed; how deep the lane sums' additions go
        let big: f64 = leaves
            .iter()
            .map(|l| l.iter().fold(0.0f64, |b, &(_, v)| b.max(v.abs())))
            .chain(f.constants.iter().map(|&(_, v)| v.abs()))
            .sum();
        let longest = lanes.iter().map(Vec::len).max().unwrap_or(0);
        f.lane_sum = lane_sum_allowed(m, longest + LANES + f.constants.len() + 1, big);
        for &(_, v) in &f.constants {
            f.constant_sum += v;
        }
        f
    }

    /// A new node, a copy of [`Fast::END`] until it is filled in; its index.
    fn slot(&mut self) -> u32 {
        self.nodes.push(self.nodes[Self::END as usize]);
        (self.nodes.len() - 1) as u32
    }

    /// Adds each tree's leaf value to its output; `row` is the model's row as given (`scratch`:
    /// working space).
    #[inline]
    fn add(&self, row: &[f64], out: &mut [f64], scratch: &mut Vec<f64>) {
        let n = 2 * row.len();
        // every tree's slot is written once per row: no clearing
        scratch.resize(n + self.trees + 1, 0.0);
        let (input, vals) = scratch.split_at_mut(n);
        for (pair, &x) in input.chunks_exact_mut(2).zip(row) {
            // LightGBM reads |x| <= 1e-35 as 0 (such values are dropped from its rows)
            let x = if x.abs() <= ZERO_THRESHOLD { 0.0 } else { x };
            pair[0] = x;
            pair[1] = if x.is_nan() { f64::NEG_INFINITY } else { x };
        }
        if self.lane_sum {
            out[0] = self.walk::<true>(input, vals) + self.constant_sum;
            return;
        }
        for &(t, v) in &self.constants {
            vals[t as usize] = v;
        }
        self.walk::<false>(input, vals);
        // LightGBM's order: tree by tree
        let vals = &vals[..self.trees];
        let k = out.len();
        if k == 1 {
            let mut s = 0.0;
            for v in vals {
                s += v;
            }
            out[0] = s;
        } else {
            for (t, v) in vals.iter().enumerate() {
                out[t % k] += v;
            }
        }
    }

    /// Walks the lanes to their end over `input` (the row twice over, see [`FastNode`]).
    /// `LANE_SUM`: returns the sum of the lanes' sums (`vals` is not used); else each tree's leaf
    /// value goes into `vals[tree]` (`vals` has the spare slot too) and it returns 0.
    #[inline]
    fn walk<const LANE_SUM: bool>(&self, input: &[f64], vals: &mut [f64]) -> f64 {
        debug_assert!(vals.len() > self.trees);
        let nodes = &self.nodes[..];
        let mut at = self.starts.map(|a| a as usize);
        let mut sums = [0.0f64; LANES];
        loop {
            for _ in 0..STEPS_PER_CHECK {
                for (a, sum) in at.iter_mut().zip(&mut sums) {
                    // SAFETY: node indexes, inputs and slots are checked when the layout is
                    // built, the row's length when it is taken (`predict_raw_into`), and `vals`
                    // holds a slot per tree and the spare (`add`).
                    unsafe {
                        let node = *nodes.get_unchecked(*a);
                        if LANE_SUM {
                            *sum += node.value; // 0 but at a leaf: exact
                        } else {
                            *vals.get_unchecked_mut(node.slot as usize) = node.value;
                        }
                        let x = *input.get_unchecked(node.input as usize);
                        *a = node.right as usize - usize::from(x <= node.thr);
                    }
                }
            }
            // every lane at END (0) or its twin (1)
            if at.iter().fold(0, |o, &a| o | a) <= 1 {
                break;
            }
        }
        let mut total = 0.0;
        for s in sums {
            total += s;
        }
        total
    }
}

/// How far lane sums may be from LightGBM's tree-by-tree sum, at most (half the 1e-12 that
/// `tradecore` promises).
const LANE_SUM_TOLERANCE: f64 = 5e-13;

/// Whether summing each lane's leaves in the lane keeps every prediction, raw and transformed,
/// within [`LANE_SUM_TOLERANCE`] of LightGBM's sum in file order, whatever the row: one output,
/// no averaging, no transform or a sigmoid. A sum of `n` values in any order of additions
/// `h` deep is within `γ(h) Σ|v|` of the exact sum (`γ(h) = h u / (1 - h u)`, u the unit
/// roundoff); LightGBM's is `n - 1` deep, the lanes' `height` deep, and `Σ|v|` is at most
/// `big`, the sum over the trees of their largest leaf. A sigmoid with slope at most `|s|/4`
/// moves the difference by that factor (plus its own rounding, a few units of 1e-16).
fn lane_sum_allowed(m: &Model, height: usize, big: f64) -> bool {
    if m.outputs != 1 || m.average_output {
        return false;
    }
    let u = f64::EPSILON / 2.0;
    // the transform's slope, and its own rounding (two evaluations of a sigmoid <= 1)
    let (slope, rounding) = match m.objective {
        Objective::Identity => (1.0, 0.0),
        Objective::Sigmoid(s) => (s.abs() / 4.0, 8.0 * u),
        _ => return false,
    };
    let gamma = |h: usize| {
        let hu = h as f64 * u;
        hu / (1.0 - hu)
    };
    let bound = (gamma(m.roots.len().saturating_sub(1)) + gamma(height)) * big;
    bound.is_finite()
        && bound <= LANE_SUM_TOLERANCE
        && slope * bound + rounding <= LANE_SUM_TOLERANCE
}

impl Model {
    /// Reads a LightGBM model text; `source` names it in errors.
    pub fn from_lightgbm(text: &str, source: &str) -> Result<Self> {
        lightgbm::parse(text, source)
    }

    /// Builds the branch-free layout when every split allows it.
    fn finish(&mut self) {
        if !self.has_categorical
            && !self.has_zero_missing
            && self.nodes.iter().all(|n| !n.threshold.is_nan())
            && self.num_features < 1 << 30
        {
            self.fast = Some(Fast::new(self));
        }
    }

    /// Inputs per row (LightGBM's `max_feature_idx + 1`).
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// Outputs per row (1, or the number of classes).
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// The number of trees.
    pub fn trees(&self) -> usize {
        self.roots.len()
    }

    /// The feature names of the model file.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// What the model knows of its inputs.
    pub fn inputs(&self) -> &Inputs {
        &self.inputs
    }

    /// Where it was read from.
    pub fn source(&self) -> &str {
        &self.source
    }

    fn mismatch(&self, difference: String) -> Error {
        Error::FeatureMismatch {
            model: self.source.clone(),
            difference,
        }
    }

    /// Declares the inputs of a model by their names, in order: they must be the file's
    /// `feature_names=` (and the names of its definition, when it has one).
    pub fn declare_names(&mut self, names: &[String]) -> Result<()> {
        let given: Vec<&str> = names.iter().map(String::as_str).collect();
        let known: Vec<&str> = self.feature_names.iter().map(String::as_str).collect();
        if let Some(d) = first_name_difference(&given, &known) {
            return Err(self.mismatch(d));
        }
        if self.inputs == Inputs::Undeclared {
            self.inputs = Inputs::Names;
        }
        Ok(())
    }

    /// Declares the inputs of a model as `definition`'s columns: its names must be the file's
    /// `feature_names=`, and a model that carries a definition must carry this one.
    pub fn declare_definition(&mut self, definition: &Definition) -> Result<()> {
        if let Inputs::Definition(trained) = &self.inputs {
            return match definition.first_difference(trained) {
                Some(d) => Err(self.mismatch(d)),
                None => Ok(()),
            };
        }
        let known: Vec<&str> = self.feature_names.iter().map(String::as_str).collect();
        if let Some(d) = first_name_difference(&definition.names(), &known) {
            return Err(self.mismatch(d));
        }
        self.inputs = Inputs::Definition(definition.clone());
        Ok(())
    }

    /// Whether a feature set of this `definition` may feed the model: equal to the model's
    /// definition, or with its declared names; an undeclared model is refused. Called once when
    /// a model is bound to a feature set, never per row.
    pub fn check_features(&self, definition: &Definition) -> Result<()> {
        let difference = match &self.inputs {
            Inputs::Undeclared => {
                return Err(Error::invalid(
                    "model",
                    &self.source,
                    format!(
                        "a LightGBM model without the definition of its features (not written by \
                         tradecore train): declare them when loading it, \
                         Model.load(path, features=the feature set) or \
                         Model.load(path, features=[{}])",
                        self.feature_names
                            .iter()
                            .map(|n| format!("'{n}'"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))
            }
            Inputs::Names => {
                let known: Vec<&str> = self.feature_names.iter().map(String::as_str).collect();
                first_name_difference(&definition.names(), &known)
            }
            Inputs::Definition(trained) => definition.first_difference(trained),
        };
        match difference {
            Some(d) => Err(self.mismatch(d)),
            None => Ok(()),
        }
    }

    /// The output transform.
    pub fn objective(&self) -> Objective {
        self.objective
    }

    fn check_row(&self, row: &[f64]) -> Result<()> {
        if row.len() == self.num_features {
            Ok(())
        } else {
            Err(Error::invalid(
                "row",
                format!("{} values", row.len()),
                format!("the model takes {} features", self.num_features),
            ))
        }
    }

    /// The general decision (LightGBM's rules, see the module documentation); `x` is already
    /// normalised (`|x| <= 1e-35` is 0).
    #[inline]
    fn goes_left(&self, n: &Node, x: f64) -> bool {
        if n.categorical {
            // LightGBM: NaN goes right; else the value truncated to an int, negative: right
            // (so -0.5 is category 0; past i32::MAX it saturates, past every bitset)
            let c = x as i32;
            if x.is_nan() || c < 0 {
                return false;
            }
            let c = c as u32;
            let word = (c / 32) as usize;
            return word < n.cat_len as usize
                && (self.cat_bits[n.cat_start as usize + word] >> (c % 32)) & 1 != 0;
        }
        let v = if x.is_nan() && n.missing != MISSING_NAN {
            0.0
        } else {
            x
        };
        if (n.missing == MISSING_ZERO && v == 0.0) || (n.missing == MISSING_NAN && v.is_nan()) {
            return n.default_left;
        }
        v <= n.threshold
    }

    #[inline]
    fn tree_general(&self, root: i32, row: &[f64]) -> f64 {
        let mut i = root;
        while i >= 0 {
            let n = &self.nodes[i as usize];
            let x = row[n.feature as usize];
            i = if self.goes_left(n, x) {
                n.left
            } else {
                n.right
            };
        }
        self.leaves[(!i) as usize]
    }

    /// Raw scores of one row into `out` (`outputs()` values); `scratch` is working space
    /// (reused between calls).
    pub fn predict_raw_into(
        &self,
        row: &[f64],
        scratch: &mut Vec<f64>,
        out: &mut [f64],
    ) -> Result<()> {
        self.check_row(row)?;
        if out.len() != self.outputs {
            return Err(Error::invalid(
                "out",
                format!("{} values", out.len()),
                format!("the model has {} outputs", self.outputs),
            ));
        }
        out.fill(0.0);
        if let Some(fast) = &self.fast {
            fast.add(row, out, scratch);
            return Ok(());
        }
        // LightGBM reads |x| <= 1e-35 as 0 (such values are dropped from its rows)
        let normalised: Vec<f64>;
        let row = if row.iter().any(|x| x.abs() <= ZERO_THRESHOLD && *x != 0.0) {
            normalised = row
                .iter()
                .map(|&x| if x.abs() <= ZERO_THRESHOLD { 0.0 } else { x })
                .collect();
            &normalised[..]
        } else {
            row
        };
        let k = self.outputs;
        for (t, &r) in self.roots.iter().enumerate() {
            out[t % k] += self.tree_general(r, row);
        }
        Ok(())
    }

    /// Raw scores to predictions, in place: averaged over the iterations for a random
    /// forest, then the objective's transform.
    pub fn transform(&self, out: &mut [f64]) {
        if self.average_output {
            let iterations = (self.roots.len() / self.outputs) as f64;
            for o in out.iter_mut() {
                *o /= iterations;
            }
        }
        match self.objective {
            Objective::Identity => {}
            Objective::Sigmoid(s) | Objective::SigmoidEach(s) => {
                for o in out.iter_mut() {
                    *o = 1.0 / (1.0 + (-s * *o).exp());
                }
            }
            Objective::Softmax => {
                let wmax = out.iter().copied().fold(out[0], f64::max);
                let mut wsum = 0.0;
                for o in out.iter_mut() {
                    *o = (*o - wmax).exp();
                    wsum += *o;
                }
                for o in out.iter_mut() {
                    *o /= wsum;
                }
            }
            Objective::Exp => {
                for o in out.iter_mut() {
                    *o = o.exp();
                }
            }
            Objective::Log1pExp => {
                for o in out.iter_mut() {
                    *o = (1.0 + o.exp()).ln(); // LightGBM's std::log(1.0 + std::exp(x))
                }
            }
            Objective::SignedSquare => {
                for o in out.iter_mut() {
                    // LightGBM's Sign(x) * x * x, with Sign(0) = 0
                    let sign = f64::from(i8::from(*o > 0.0) - i8::from(*o < 0.0));
                    *o = sign * *o * *o;
                }
            }
        }
    }

    /// The prediction of one row (transformed unless `raw`) into `out`.
    pub fn predict_into(
        &self,
        row: &[f64],
        raw: bool,
        scratch: &mut Vec<f64>,
        out: &mut [f64],
    ) -> Result<()> {
        self.predict_raw_into(row, scratch, out)?;
        if !raw {
            self.transform(out);
        }
        Ok(())
    }

    /// Predictions of a row-major matrix (`rows.len()` a multiple of `num_features()`),
    /// `outputs()` values per row appended to `out`.
    pub fn predict_matrix(&self, rows: &[f64], raw: bool, out: &mut Vec<f64>) -> Result<()> {
        let f = self.num_features;
        if rows.len() % f != 0 {
            return Err(Error::invalid(
                "matrix",
                format!("{} values", rows.len()),
                format!("not whole rows of {f} features"),
            ));
        }
        let n = rows.len() / f;
        let start = out.len();
        out.resize(start + n * self.outputs, 0.0);
        let mut scratch = Vec::with_capacity(f);
        for (row, o) in rows
            .chunks_exact(f)
            .zip(out[start..].chunks_exact_mut(self.outputs))
        {
            self.predict_into(row, raw, &mut scratch, o)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
