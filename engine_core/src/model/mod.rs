//! Tree-model inference: a LightGBM model ([`lightgbm::parse`] reads its text) evaluated in
//! Rust with LightGBM's own rules, so the results are LightGBM's to the last bit.
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
    /// The root of each tree (a node, or the complement of a leaf for a one-leaf tree).
    roots: Vec<i32>,
    nodes: Vec<Node>,
    leaves: Vec<f64>,
    cat_bits: Vec<u32>,
    has_categorical: bool,
    has_zero_missing: bool,
    /// The branch-free layout, for models with numerical splits only and no zero-as-missing
    /// split (see [`Fast`]).
    fast: Option<Fast>,
}

/// A node of the branch-free layout (16 bytes, four to a cache line). Its children are
/// adjacent, left at `right - 1`; a leaf is its own left child with an infinite threshold
/// (and NaN goes left), so a walk of a fixed number of steps stays on it. A step is a compare
/// and a subtraction: `right - (x <= thr)`.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct FastNode {
    thr: f64,
    feature: u32,
    right: u32,
}

/// Trees walked `LANES` at a time in lockstep, each group for the depth of its deepest tree:
/// independent walks overlap in the CPU, and no step branches.
#[derive(Debug, Clone)]
struct Fast {
    nodes: Vec<FastNode>,
    /// NaN goes left at each node (missing type NaN: the default side; none: `0 <= thr`; a
    /// leaf: itself), read only for a row with a NaN.
    nan_left: Vec<u32>,
    /// The value of each leaf node (0 elsewhere).
    values: Vec<f64>,
    roots: Vec<u32>,
    /// The trees by depth (stable): a group's walk lasts as long as its deepest tree.
    order: Vec<u32>,
    /// (first position in `order`, trees, steps) of each group.
    groups: Vec<(usize, usize, u32)>,
}

const LANES: usize = 8;

impl Fast {
    /// Lays out `m`'s trees (numerical splits only, none with zero as missing).
    fn new(m: &Model) -> Self {
        let mut f = Fast {
            nodes: Vec::with_capacity(m.nodes.len() + m.leaves.len() + 1),
            nan_left: Vec::with_capacity(m.nodes.len() + m.leaves.len() + 1),
            values: Vec::with_capacity(m.nodes.len() + m.leaves.len() + 1),
            roots: Vec::with_capacity(m.roots.len()),
            order: Vec::new(),
            groups: Vec::new(),
        };
        // node 0: a leaf of value 0, where the unused lanes of the last group rest
        let zero = f.slot();
        f.leaf(zero, 0.0);
        let mut depths = Vec::with_capacity(m.roots.len());
        for &root in &m.roots {
            let at = f.slot();
            let mut depth = 0;
            f.fill(m, root, at, 0, &mut depth);
            f.roots.push(at);
            depths.push(depth);
        }
        let mut order: Vec<u32> = (0..f.roots.len() as u32).collect();
        order.sort_by_key(|&t| depths[t as usize]);
        f.groups = (0..order.len())
            .step_by(LANES)
            .map(|first| {
                let n = LANES.min(order.len() - first);
                let steps = order[first..first + n]
                    .iter()
                    .map(|&t| depths[t as usize])
                    .max()
                    .unwrap_or(0);
                (first, n, steps)
            })
            .collect();
        f.order = order;
        f
    }

    fn slot(&mut self) -> u32 {
        self.nodes.push(FastNode {
            thr: 0.0,
            feature: 0,
            right: 0,
        });
        self.nan_left.push(0);
        self.values.push(0.0);
        (self.nodes.len() - 1) as u32
    }

    fn leaf(&mut self, at: u32, value: f64) {
        self.nodes[at as usize] = FastNode {
            thr: f64::INFINITY,
            feature: 0,
            right: at + 1,
        };
        self.nan_left[at as usize] = 1;
        self.values[at as usize] = value;
    }

    /// Writes `m`'s node `i` (a leaf when negative) and its subtree from slot `at`, at depth
    /// `d`; `depth` gets the deepest leaf's. (A work list, not recursion: a tree may be a
    /// chain thousands of nodes deep.)
    fn fill(&mut self, m: &Model, i: i32, at: u32, d: u32, depth: &mut u32) {
        let mut work = vec![(i, at, d)];
        while let Some((i, at, d)) = work.pop() {
            if i < 0 {
                *depth = (*depth).max(d);
                self.leaf(at, m.leaves[(!i) as usize]);
                continue;
            }
            let n = m.nodes[i as usize];
            let nan_left = if n.missing == MISSING_NAN {
                n.default_left
            } else {
                0.0 <= n.threshold
            };
            let base = self.slot();
            self.slot();
            self.nodes[at as usize] = FastNode {
                thr: n.threshold,
                feature: n.feature,
                right: base + 1,
            };
            self.nan_left[at as usize] = u32::from(nan_left);
            work.push((n.right, base + 1, d + 1));
            work.push((n.left, base, d + 1));
        }
    }

    /// Adds each tree's leaf value to its output, in tree order (`vals`: one per tree).
    #[inline]
    fn add(&self, row: &[f64], out: &mut [f64], vals: &mut Vec<f64>) {
        vals.clear();
        vals.resize(self.roots.len(), 0.0);
        if row.iter().any(|x| x.is_nan()) {
            self.walk::<true>(row, vals);
        } else {
            self.walk::<false>(row, vals);
        }
        let k = out.len();
        if k == 1 {
            let mut s = 0.0;
            for v in vals.iter() {
                s += v;
            }
            out[0] = s;
        } else {
            for (t, v) in vals.iter().enumerate() {
                out[t % k] += v;
            }
        }
    }

    /// Each tree's leaf value into `vals`; `NAN`: the row has a NaN.
    #[inline]
    fn walk<const NAN: bool>(&self, row: &[f64], vals: &mut [f64]) {
        let nodes = &self.nodes[..];
        let nan_left = &self.nan_left[..];
        let step = |a: u32| -> u32 {
            // SAFETY: node indexes and features are checked when the layout is built, and the
            // row's length when it is taken (`predict_raw_into`).
            let node = unsafe { *nodes.get_unchecked(a as usize) };
            let x = unsafe { *row.get_unchecked(node.feature as usize) };
            let left = if NAN {
                u32::from(x <= node.thr)
                    | (u32::from(x.is_nan()) & unsafe { *nan_left.get_unchecked(a as usize) })
            } else {
                u32::from(x <= node.thr)
            };
            node.right - left
        };
        for &(first, n, steps) in &self.groups {
            let trees = &self.order[first..first + n];
            let mut at = [0u32; LANES];
            for (a, &t) in at.iter_mut().zip(trees) {
                *a = self.roots[t as usize];
            }
            let [mut a0, mut a1, mut a2, mut a3, mut a4, mut a5, mut a6, mut a7] = at;
            for _ in 0..steps {
                a0 = step(a0);
                a1 = step(a1);
                a2 = step(a2);
                a3 = step(a3);
                a4 = step(a4);
                a5 = step(a5);
                a6 = step(a6);
                a7 = step(a7);
            }
            at = [a0, a1, a2, a3, a4, a5, a6, a7];
            for (&a, &t) in at.iter().zip(trees) {
                vals[t as usize] = self.values[a as usize];
            }
        }
    }
}

impl Model {
    /// Reads a LightGBM model text; `source` names it in errors.
    pub fn from_lightgbm(text: &str, source: &str) -> Result<Self> {
        lightgbm::parse(text, source)
    }

    /// Builds the branch-free layout when every split allows it.
    fn finish(&mut self) {
        if !self.has_categorical && !self.has_zero_missing {
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
        if let Some(fast) = &self.fast {
            fast.add(row, out, scratch);
        } else {
            let k = self.outputs;
            for (t, &r) in self.roots.iter().enumerate() {
                out[t % k] += self.tree_general(r, row);
            }
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
