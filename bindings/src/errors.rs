//! Maps core errors to the Python exception classes of `tradecore.errors`.
//!
//! The classes are defined in Python (so that `InvalidInput` and `DataError` can subclass both
//! `TradecoreError` and `ValueError`) and looked up once. The orphan rule forbids
//! `impl From<engine_core::Error> for PyErr`, hence the [`CoreErr`] newtype.

use engine_core::Error;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

static INVALID_INPUT: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DATA_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static FEATURE_MISMATCH: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// A core error on its way to Python.
pub struct CoreErr(pub Error);

impl From<Error> for CoreErr {
    fn from(e: Error) -> Self {
        CoreErr(e)
    }
}

fn raise(py: Python<'_>, cell: &'static PyOnceLock<Py<PyType>>, name: &str, msg: String) -> PyErr {
    match cell.import(py, "tradecore.errors", name) {
        Ok(cls) => PyErr::from_type(cls.clone(), msg),
        Err(e) => e,
    }
}

impl From<CoreErr> for PyErr {
    fn from(CoreErr(e): CoreErr) -> PyErr {
        Python::attach(|py| match e {
            Error::InvalidInput { .. } => raise(py, &INVALID_INPUT, "InvalidInput", e.to_string()),
            Error::Data { .. } => raise(py, &DATA_ERROR, "DataError", e.to_string()),
            Error::FeatureMismatch { .. } => {
                raise(py, &FEATURE_MISMATCH, "FeatureMismatch", e.to_string())
            }
            Error::Io { path, source } => {
                PyOSError::new_err((source.raw_os_error().unwrap_or(0), source.to_string(), path))
            }
        })
    }
}

/// `tradecore.errors.InvalidInput` with a message naming the field and the value.
pub fn invalid(field: &'static str, value: impl std::fmt::Display, reason: &str) -> PyErr {
    CoreErr(Error::invalid(field, value, reason)).into()
}
