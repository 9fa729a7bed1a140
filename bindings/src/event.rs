//! The event record as a numpy structured dtype (`tradecore.EVENT_DTYPE`) and zero-copy
//! conversions between numpy arrays and `&[Event]` / `Vec<Event>`.

use engine_core::event::{Event, FIELDS};
use numpy::{Element, PyArray1, PyArrayDescr, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};

/// `Event` with numpy's `Element` implemented (the orphan rule forbids implementing it on the
/// core type directly). `repr(transparent)`, so slices convert for free.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct PyEvent(pub Event);

static DTYPE: PyOnceLock<Py<PyArrayDescr>> = PyOnceLock::new();

fn build_dtype(py: Python<'_>) -> PyResult<Py<PyArrayDescr>> {
    let spec = PyDict::new(py);
    spec.set_item("names", PyList::new(py, FIELDS.iter().map(|f| f.0))?)?;
    spec.set_item("formats", PyList::new(py, FIELDS.iter().map(|f| f.2))?)?;
    spec.set_item("offsets", PyList::new(py, FIELDS.iter().map(|f| f.1))?)?;
    spec.set_item("itemsize", std::mem::size_of::<Event>())?;
    let dtype = py.import("numpy")?.getattr("dtype")?.call1((spec,))?;
    Ok(dtype.cast_into::<PyArrayDescr>()?.unbind())
}

/// The structured dtype, built once from the core's field table.
pub fn event_dtype(py: Python<'_>) -> PyResult<Bound<'_, PyArrayDescr>> {
    Ok(DTYPE
        .get_or_try_init(py, || build_dtype(py))?
        .bind(py)
        .clone())
}

// SAFETY: PyEvent is a plain-old-data #[repr(C)] record (through repr(transparent)) whose
// layout is exactly the dtype built from FIELDS (offsets from `offset_of!`, size 64).
unsafe impl Element for PyEvent {
    const IS_COPY: bool = true;

    fn get_dtype(py: Python<'_>) -> Bound<'_, PyArrayDescr> {
        // Built at module import, so this cannot fail afterwards.
        event_dtype(py).expect("EVENT_DTYPE is built when tradecore._core is imported")
    }

    fn clone_ref(&self, _py: Python<'_>) -> Self {
        *self
    }
}

/// Events borrowed from a numpy array without a copy (or copied when the array is not
/// contiguous or not aligned).
pub enum EventsView<'py> {
    Borrowed(numpy::PyReadonlyArray1<'py, PyEvent>),
    Copied(Vec<Event>),
}

impl EventsView<'_> {
    pub fn as_slice(&self) -> &[Event] {
        match self {
            EventsView::Borrowed(a) => {
                let s: &[PyEvent] = a.as_slice().unwrap_or(&[]);
                // SAFETY: PyEvent is repr(transparent) over Event.
                unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<Event>(), s.len()) }
            }
            EventsView::Copied(v) => v,
        }
    }
}

/// Borrows `obj` as events: a 1-D numpy array of `EVENT_DTYPE`.
pub fn events_from<'py>(obj: &Bound<'py, PyAny>, field: &str) -> PyResult<EventsView<'py>> {
    let Ok(arr) = obj.cast::<PyArray1<PyEvent>>() else {
        let what = match obj.cast::<numpy::PyUntypedArray>() {
            Ok(a) => format!(
                "an array of dtype {} with {} dimension(s)",
                a.dtype(),
                a.ndim()
            ),
            Err(_) => format!("{}", obj.get_type().name()?),
        };
        return Err(PyTypeError::new_err(format!(
            "{field} must be a 1-D numpy array of tradecore.EVENT_DTYPE, got {what}"
        )));
    };
    let ro = arr.readonly();
    let aligned = (ro.data() as usize) % std::mem::align_of::<Event>() == 0;
    if aligned && ro.as_slice().is_ok() {
        Ok(EventsView::Borrowed(ro))
    } else {
        let v: Vec<Event> = ro.as_array().iter().map(|e| e.0).collect();
        Ok(EventsView::Copied(v))
    }
}

/// Hands a vector of events to numpy without copying.
pub fn events_to_numpy(py: Python<'_>, events: Vec<Event>) -> Bound<'_, PyArray1<PyEvent>> {
    let mut events = std::mem::ManuallyDrop::new(events);
    let (ptr, len, cap) = (events.as_mut_ptr(), events.len(), events.capacity());
    // SAFETY: same layout (repr(transparent)), same allocation, ownership moves over.
    let v = unsafe { Vec::from_raw_parts(ptr.cast::<PyEvent>(), len, cap) };
    PyArray1::from_vec(py, v)
}
