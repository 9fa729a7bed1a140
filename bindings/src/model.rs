//! `tradecore.Model`: a LightGBM model evaluated in Rust (`engine_core::model`).

// pyo3 hands extracted arguments over by value.
#![allow(clippy::needless_pass_by_value)]

use std::path::PathBuf;
use std::sync::Arc;

use engine_core::model::signal::ModelSignal as CoreSignal;
use engine_core::model::{lightgbm, Inputs, Model as CoreModel, Objective};
use engine_core::signals::definition::Definition;
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyString, PyTuple};

use crate::detach_if;
use crate::errors::{invalid, CoreErr};
use crate::event::events_from;
use crate::feed::BinanceFeed;
use crate::signals::PyFeatureSet;

/// A tree ensemble (LightGBM's model text), evaluated in Rust with LightGBM's rules.
#[pyclass(module = "tradecore._core", name = "Model")]
pub struct Model {
    pub(crate) inner: Arc<CoreModel>,
    scratch: Vec<f64>,
    out: Vec<f64>,
    /// The last feature set `predict`/`predict_one` checked (`features=`): the same object
    /// again is not checked again.
    checked: Option<Py<PyAny>>,
}

/// A feature set's definition: a `FeatureSet` of the core, or any object whose `definition`
/// is that JSON (`tradecore.signals.FeatureSet`).
fn definition_of(features: &Bound<'_, PyAny>) -> PyResult<Option<Definition>> {
    if let Ok(fs) = features.cast::<PyFeatureSet>() {
        return Ok(Some(fs.borrow().core_definition().clone()));
    }
    if features.is_instance_of::<PyString>() {
        return Ok(None);
    }
    match features.getattr("definition") {
        Ok(d) => match d.extract::<String>() {
            Ok(text) => Ok(Some(
                Definition::from_json(&text, "features.definition", 0).map_err(CoreErr)?,
            )),
            Err(_) => Ok(None),
        },
        Err(_) => Ok(None),
    }
}

fn type_name(x: &Bound<'_, PyAny>) -> String {
    x.get_type()
        .name()
        .map_or_else(|_| "?".into(), |n| n.to_string())
}

impl Model {
    fn wrap(inner: CoreModel) -> Self {
        let k = inner.outputs();
        Model {
            scratch: Vec::with_capacity(inner.num_features()),
            out: vec![0.0; k],
            inner: Arc::new(inner),
            checked: None,
        }
    }

    /// `model` with its inputs declared by `features` (a feature set, or column names).
    fn declared(mut model: CoreModel, features: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        if let Some(f) = features {
            if let Some(d) = definition_of(f)? {
                model.declare_definition(&d).map_err(CoreErr)?;
            } else {
                let names: Vec<String> = f
                    .extract()
                    .ok()
                    .filter(|_| !f.is_instance_of::<PyString>())
                    .ok_or_else(|| {
                        invalid(
                            "features",
                            type_name(f),
                            "must be a FeatureSet or a list of column names",
                        )
                    })?;
                model.declare_names(&names).map_err(CoreErr)?;
            }
        }
        Ok(Self::wrap(model))
    }

    /// Checks `features` (a feature set) against the model once per feature set object.
    fn bind(&mut self, features: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.checked.as_ref().is_some_and(|c| c.is(features)) {
            return Ok(());
        }
        let d = definition_of(features)?.ok_or_else(|| {
            invalid(
                "features",
                type_name(features),
                "must be a FeatureSet (the one the rows come from)",
            )
        })?;
        self.inner.check_features(&d).map_err(CoreErr)?;
        self.checked = Some(features.clone().unbind());
        Ok(())
    }
}

#[pymethods]
impl Model {
    /// Reads LightGBM's model text from a file; `features` declares its inputs (a feature
    /// set, or column names in order) when the file does not carry their definition.
    #[staticmethod]
    #[pyo3(signature = (path, *, features = None))]
    fn load(path: PathBuf, features: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let text = std::fs::read_to_string(&path).map_err(|source| {
            CoreErr(engine_core::Error::Io {
                path: path.display().to_string(),
                source,
            })
        })?;
        Self::declared(
            CoreModel::from_lightgbm(&text, &path.display().to_string()).map_err(CoreErr)?,
            features,
        )
    }

    /// Reads LightGBM's model text (`Booster.model_to_string()`); `features` as in `load`.
    #[staticmethod]
    #[pyo3(signature = (text, *, features = None))]
    fn from_string(text: &str, features: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        Self::declared(
            CoreModel::from_lightgbm(text, "<model text>").map_err(CoreErr)?,
            features,
        )
    }

    /// LightGBM's model `text` with the definition of `features` (a feature set whose
    /// column names are the model's) and its SHA-256 in the header.
    #[staticmethod]
    fn embed_features(text: &str, features: &Bound<'_, PyAny>) -> PyResult<String> {
        let d = definition_of(features)?
            .ok_or_else(|| invalid("features", type_name(features), "must be a FeatureSet"))?;
        Ok(lightgbm::embed(text, &d, "<model text>").map_err(CoreErr)?)
    }

    /// The definition of the feature set the model was trained on (canonical JSON), or
    /// None when the file does not carry one and no feature set was declared.
    #[getter]
    fn features_definition(&self) -> Option<String> {
        match self.inner.inputs() {
            Inputs::Definition(d) => Some(d.to_json()),
            _ => None,
        }
    }

    /// The SHA-256 of `features_definition`.
    #[getter]
    fn features_sha256(&self) -> Option<String> {
        match self.inner.inputs() {
            Inputs::Definition(d) => Some(d.sha256()),
            _ => None,
        }
    }

    /// Inputs per row.
    #[getter]
    fn num_features(&self) -> usize {
        self.inner.num_features()
    }

    /// Outputs per row (1, or the number of classes).
    #[getter]
    fn outputs(&self) -> usize {
        self.inner.outputs()
    }

    #[getter]
    fn num_trees(&self) -> usize {
        self.inner.trees()
    }

    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.inner.feature_names().to_vec()
    }

    /// The output transform: `identity`, `sigmoid`, `softmax`, `sigmoid_each`, `exp`,
    /// `log1p_exp` or `signed_square`.
    #[getter]
    fn objective(&self) -> &'static str {
        match self.inner.objective() {
            Objective::Identity => "identity",
            Objective::Sigmoid(_) => "sigmoid",
            Objective::Softmax => "softmax",
            Objective::SigmoidEach(_) => "sigmoid_each",
            Objective::Exp => "exp",
            Objective::Log1pExp => "log1p_exp",
            Objective::SignedSquare => "signed_square",
        }
    }

    /// One row (a float64 array or a sequence of floats): a float, or a tuple of one value
    /// per class. `raw_score`: before the objective's transform. `features`: the feature set
    /// the row comes from, checked against the model (once per feature set).
    #[pyo3(signature = (row, raw_score = false, *, features = None))]
    fn predict_one<'py>(
        &mut self,
        py: Python<'py>,
        row: &Bound<'py, PyAny>,
        raw_score: bool,
        features: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Some(f) = features {
            self.bind(f)?;
        }
        let Model {
            inner,
            scratch,
            out,
            ..
        } = self;
        let r = if let Ok(a) = row.cast::<PyArray1<f64>>() {
            let ro = a.try_readonly()?; // numpy's borrow check: no writer meanwhile
            let s = ro
                .as_slice()
                .map_err(|_| invalid("row", "a strided array", "must be contiguous"))?;
            inner.predict_into(s, raw_score, scratch, out)
        } else {
            let v: Vec<f64> = row.extract().map_err(|_| {
                invalid(
                    "row",
                    row.get_type()
                        .name()
                        .map_or_else(|_| "?".into(), |n| n.to_string()),
                    "must be a float64 array or a sequence of floats",
                )
            })?;
            inner.predict_into(&v, raw_score, scratch, out)
        };
        r.map_err(CoreErr)?;
        if out.len() == 1 {
            Ok(PyFloat::new(py, out[0]).into_any())
        } else {
            PyTuple::new(py, out.iter().copied()).map(Bound::into_any)
        }
    }

    /// A matrix (rows x features, float64): one value per row, or rows x classes.
    /// `raw_score`: before the objective's transform. `features`: the feature set the rows
    /// come from, checked against the model (once per feature set).
    #[pyo3(signature = (matrix, raw_score = false, *, features = None))]
    fn predict<'py>(
        &mut self,
        py: Python<'py>,
        matrix: &Bound<'py, PyAny>,
        raw_score: bool,
        features: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Some(f) = features {
            self.bind(f)?;
        }
        let arr = match matrix.cast::<PyArray2<f64>>() {
            Ok(a) => a.clone(),
            Err(_) => py
                .import("numpy")?
                .call_method1("ascontiguousarray", (matrix, "float64"))?
                .cast_into::<PyArray2<f64>>()
                .map_err(|_| invalid("matrix", "not 2-D", "must be rows x features"))?,
        };
        let ro: PyReadonlyArray2<'py, f64> = arr.readonly();
        let [n, f] = [ro.shape()[0], ro.shape()[1]];
        let model = &self.inner;
        if f != model.num_features() {
            return Err(invalid(
                "matrix",
                format!("{n} x {f}"),
                &format!("the model takes {} features", model.num_features()),
            ));
        }
        let owned;
        let rows: &[f64] = if let Ok(s) = ro.as_slice() {
            s
        } else {
            owned = ro.as_array().iter().copied().collect::<Vec<f64>>();
            &owned
        };
        let mut out = Vec::with_capacity(n * model.outputs());
        detach_if(py, n * 64, || {
            model.predict_matrix(rows, raw_score, &mut out)
        })
        .map_err(CoreErr)?;
        let k = model.outputs();
        let a = PyArray1::from_vec(py, out);
        if k == 1 {
            Ok(a.into_any())
        } else {
            Ok(a.reshape([n, k])?.into_any())
        }
    }
}

/// A sample point of a signal: its features and the model's prediction.
#[pyclass(module = "tradecore._core", frozen, get_all)]
pub struct Prediction {
    /// Exchange time of the sample point (ns).
    pub ts: i64,
    pub instrument: u32,
    /// The (first) output: the prediction of a one-output model (NaN without a model).
    pub value: f64,
    /// Every output (one per class).
    pub values: Vec<f64>,
    /// The feature row the model saw, in the feature set's order.
    pub features: Vec<f64>,
}

#[pymethods]
impl Prediction {
    fn __repr__(&self) -> String {
        format!(
            "Prediction(ts={}, instrument={}, value={}, features={:?})",
            self.ts, self.instrument, self.value, self.features
        )
    }
}

impl Prediction {
    pub(crate) fn of(s: &CoreSignal, instrument: u32) -> Self {
        let p = s.prediction();
        Prediction {
            ts: s.ts(),
            instrument,
            value: p.first().copied().unwrap_or(f64::NAN),
            values: p.to_vec(),
            features: s.row().to_vec(),
        }
    }
}

/// A fresh in-loop signal: `features`' definition, fed to `model`.
pub(crate) fn core_signal(
    features: &PyFeatureSet,
    model: Option<&Model>,
    raw_score: bool,
) -> PyResult<CoreSignal> {
    Ok(CoreSignal::new(
        features.fresh()?,
        model.map(|m| Arc::clone(&m.inner)),
        raw_score,
    )
    .map_err(CoreErr)?)
}

/// Features and a model over one instrument's live events: each sample point's row goes
/// into the model in Rust; the strategy receives the `Prediction`.
#[pyclass(module = "tradecore._core", name = "ModelSignal", unsendable)]
pub struct ModelSignal {
    inner: CoreSignal,
    instrument: u32,
}

#[pymethods]
impl ModelSignal {
    #[new]
    #[pyo3(signature = (features, model = None, *, instrument = 0, raw_score = false))]
    fn new(
        features: PyRef<'_, PyFeatureSet>,
        model: Option<PyRef<'_, Model>>,
        instrument: u32,
        raw_score: bool,
    ) -> PyResult<Self> {
        Ok(ModelSignal {
            inner: core_signal(&features, model.as_deref(), raw_score)?,
            instrument,
        })
    }

    /// The sample points among the events of the message `feed` has just handled.
    fn on_feed(&mut self, feed: &Bound<'_, BinanceFeed>) -> PyResult<Vec<Prediction>> {
        let mut f = feed.try_borrow_mut()?;
        let mut out = Vec::new();
        for e in f.inner.last_events() {
            if self.inner.on_event(e).map_err(CoreErr)? {
                out.push(Prediction::of(&self.inner, self.instrument));
            }
        }
        Ok(out)
    }

    /// The sample points among `events` (an event array).
    fn on_events(&mut self, events: &Bound<'_, PyAny>) -> PyResult<Vec<Prediction>> {
        let view = events_from(events, "events")?;
        let mut out = Vec::new();
        for e in view.as_slice()? {
            if self.inner.on_event(e).map_err(CoreErr)? {
                out.push(Prediction::of(&self.inner, self.instrument));
            }
        }
        Ok(out)
    }

    /// Sample points so far.
    #[getter]
    fn samples(&self) -> u64 {
        self.inner.samples()
    }

    #[getter]
    fn names(&self) -> Vec<String> {
        self.inner.names().to_vec()
    }
}
