//! Features and a model over one instrument's events, in one place: at each sample point of
//! the [`FeatureSet`], its row goes straight into the [`Model`] — the path the backtest's
//! replay loop and the live feeds run without leaving Rust, handing the strategy the
//! prediction (and the row it came from).

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::model::Model;
use crate::signals::features::FeatureSet;

/// A feature set feeding a model (or no model: the rows alone).
#[derive(Debug)]
pub struct ModelSignal {
    features: FeatureSet,
    model: Option<Arc<Model>>,
    raw: bool,
    ts: Vec<i64>,
    rows: Vec<f64>,
    scratch: Vec<f64>,
    out: Vec<f64>,
    last_ts: i64,
    samples: u64,
}

impl ModelSignal {
    /// The model takes the feature set's row as it is: one input per feature, in order; the
    /// feature set must be the one it was trained on ([`Model::check_features`], checked here
    /// once, not per row). `raw`: raw scores, before the objective's transform.
    pub fn new(features: FeatureSet, model: Option<Arc<Model>>, raw: bool) -> Result<Self> {
        let k = features.names().len();
        if let Some(m) = &model {
            m.check_features(features.definition())?;
            if m.num_features() != k {
                return Err(Error::invalid(
                    "model",
                    format!("{} inputs", m.num_features()),
                    format!(
                        "the feature set has {k} features ({}): train the model on them, in this order",
                        features.names().join(", ")
                    ),
                ));
            }
        }
        let outputs = model.as_ref().map_or(0, |m| m.outputs());
        Ok(ModelSignal {
            features,
            model,
            raw,
            ts: Vec::with_capacity(1),
            rows: Vec::with_capacity(k),
            scratch: Vec::with_capacity(k),
            out: vec![0.0; outputs],
            last_ts: 0,
            samples: 0,
        })
    }

    /// Consumes one event; true when it was a sample point (then [`ModelSignal::ts`],
    /// [`ModelSignal::row`] and [`ModelSignal::prediction`] hold it).
    pub fn on_event(&mut self, e: &Event) -> Result<bool> {
        self.ts.clear();
        self.rows.clear();
        self.features
            .update(std::slice::from_ref(e), &mut self.ts, &mut self.rows)
            .map_err(|(_, err)| err)?;
        let Some(&t) = self.ts.last() else {
            return Ok(false);
        };
        self.last_ts = t;
        self.samples += 1;
        if let Some(m) = &self.model {
            m.predict_into(&self.rows, self.raw, &mut self.scratch, &mut self.out)?;
        }
        Ok(true)
    }

    /// Time of the last sample point (the feature set's clock: exchange time).
    pub fn ts(&self) -> i64 {
        self.last_ts
    }

    /// The last row of features.
    pub fn row(&self) -> &[f64] {
        &self.rows
    }

    /// The model's outputs for the last row (empty without a model).
    pub fn prediction(&self) -> &[f64] {
        &self.out
    }

    /// Sample points so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// The feature names.
    pub fn names(&self) -> &[String] {
        self.features.names()
    }
}
