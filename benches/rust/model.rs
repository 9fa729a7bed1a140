//! Tree-model inference in the core: one row and a batch, through a model of 100 trees of 31
//! leaves over 20 features, in LightGBM's text (trees grown leaf-wise at random, as LightGBM
//! grows them by gain: a row's path is about 4 splits, the deepest leaves 10 or more), rows
//! with and without a NaN, and the same trees with leaves a model must sum tree by tree. The
//! Python benchmark (`benches/model_inference.py`) measures models trained by LightGBM itself
//! against LightGBM's and lleaves' own predictions.
//!
//! `cargo bench -p engine_core --bench model`

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use engine_core::model::Model;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-300), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// One tree of `leaves` leaves, grown by splitting a random leaf, in LightGBM's text.
fn tree(rng: &mut Rng, index: usize, leaves: usize, features: u64, scale: f64, out: &mut String) {
    // LightGBM's numbering: split j makes node j; a leaf is ~index
    let mut left = Vec::new();
    let mut right = Vec::new();
    let mut parent_of_leaf: Vec<Option<(usize, bool)>> = vec![None];
    for j in 0..leaves - 1 {
        let leaf = (rng.next() % parent_of_leaf.len() as u64) as usize;
        if let Some((p, is_left)) = parent_of_leaf[leaf] {
            if is_left {
                left[p] = j as i64;
            } else {
                right[p] = j as i64;
            }
        }
        left.push(!(leaf as i64));
        right.push(!(parent_of_leaf.len() as i64));
        parent_of_leaf[leaf] = Some((j, true));
        parent_of_leaf.push(Some((j, false)));
    }
    let join = |v: &[String]| v.join(" ");
    let n = leaves - 1;
    let feats: Vec<String> = (0..n)
        .map(|_| (rng.next() % features).to_string())
        .collect();
    let thr: Vec<String> = (0..n)
        .map(|_| format!("{:?}", rng.normal() * 0.8))
        .collect();
    let dt: Vec<String> = (0..n)
        .map(|_| if rng.next() % 2 == 0 { "2" } else { "10" }.to_owned())
        .collect();
    let values: Vec<String> = (0..leaves)
        .map(|_| format!("{:?}", rng.normal() * scale))
        .collect();
    let _ = write!(
        out,
        "Tree={index}\nnum_leaves={leaves}\nnum_cat=0\nsplit_feature={}\nthreshold={}\ndecision_type={}\n\
         left_child={}\nright_child={}\nleaf_value={}\nshrinkage=0.1\n\n",
        join(&feats),
        join(&thr),
        join(&dt),
        join(&left.iter().map(ToString::to_string).collect::<Vec<_>>()),
        join(&right.iter().map(ToString::to_string).collect::<Vec<_>>()),
        join(&values),
    );
}

/// Leaves of about `scale`: 0.1 (a return, a log-odds) lets the lanes sum their leaves; 1000 (a
/// price) makes the model sum tree by tree, in LightGBM's order.
fn model(trees: usize, leaves: usize, features: u64, scale: f64) -> Model {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut text = format!(
        "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx={}\n\
         objective=regression\n\n",
        features - 1
    );
    for t in 0..trees {
        tree(&mut rng, t, leaves, features, scale, &mut text);
    }
    text.push_str("end of trees\n");
    Model::from_lightgbm(&text, "synthetic").expect("a valid model")
}

fn bench(c: &mut Criterion) {
    let m = model(100, 31, 20, 0.1);
    let in_order = model(100, 31, 20, 1000.0);
    let mut rng = Rng(7);
    let rows: Vec<f64> = (0..20 * 4096).map(|_| rng.normal()).collect();
    let mut g = c.benchmark_group("model");
    // one feature missing in each row (a NaN goes its split's default way)
    let mut with_nan = rows.clone();
    for (i, row) in with_nan.chunks_exact_mut(20).enumerate() {
        row[i % 20] = f64::NAN;
    }
    for (name, model, rows) in [
        ("predict_one_100x31", &m, &rows),
        ("predict_one_tree_by_tree_100x31", &in_order, &rows),
        ("predict_one_with_nan_100x31", &m, &with_nan),
    ] {
        g.bench_function(name, |b| {
            let mut scratch = Vec::new();
            let mut out = [0.0];
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % 4096;
                model
                    .predict_into(&rows[i * 20..i * 20 + 20], false, &mut scratch, &mut out)
                    .unwrap();
                black_box(out[0])
            });
        });
    }
    g.throughput(Throughput::Elements(4096));
    g.bench_function("predict_batch_4096_rows_100x31", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            m.predict_matrix(&rows, false, &mut out).unwrap();
            black_box(out[4095])
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
