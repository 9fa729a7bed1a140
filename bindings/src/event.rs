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

/// Events borrowed from a numpy array: without a copy when the array is C-contiguous and
/// 8-byte aligned (any array numpy allocated), else from a private aligned copy.
pub struct EventsView<'py> {
    array: numpy::PyReadonlyArray1<'py, PyEvent>,
    /// True for our own copy.
    copied: bool,
}

impl EventsView<'_> {
    pub fn as_slice(&self) -> PyResult<&[Event]> {
        let s: &[PyEvent] = self
            .array
            .as_slice()
            .map_err(|e| PyTypeError::new_err(format!("events are not contiguous: {e}")))?;
        // SAFETY: PyEvent is repr(transparent) over Event.
        Ok(unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<Event>(), s.len()) })
    }

    /// True when the GIL may be released while the slice is read: no other Python thread can
    /// write the memory (it is our own copy, or numpy marks it read-only). Costs two attribute
    /// look-ups, so ask only for large batches.
    pub fn private(&self) -> PyResult<bool> {
        if self.copied {
            return Ok(true);
        }
        let writeable: bool = self
            .array
            .getattr("flags")?
            .getattr("writeable")?
            .extract()?;
        Ok(!writeable)
    }
}

fn usable(array: &Bound<'_, PyArray1<PyEvent>>) -> bool {
    // Only the raw pointer is looked at: no reference is made to a misaligned record.
    let aligned = (array.data() as usize) % std::mem::align_of::<Event>() == 0;
    aligned && array.is_c_contiguous()
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
    if usable(arr) {
        return Ok(EventsView {
            array: arr.readonly(),
            copied: false,
        });
    }
    // Strided or misaligned (a view at an odd offset of a buffer): numpy copies it into a
    // fresh, aligned, contiguous allocation that only we hold.
    let copy = arr
        .call_method1("copy", ("C",))?
        .cast_into::<PyArray1<PyEvent>>()?;
    if !usable(&copy) {
        return Err(PyTypeError::new_err(format!(
            "{field}: numpy returned an unaligned copy"
        )));
    }
    Ok(EventsView {
        array: copy.readonly(),
        copied: true,
    })
}

/// Hands a vector of events to numpy without copying.
pub fn events_to_numpy(py: Python<'_>, events: Vec<Event>) -> Bound<'_, PyArray1<PyEvent>> {
    let mut events = std::mem::ManuallyDrop::new(events);
    let (ptr, len, cap) = (events.as_mut_ptr(), events.len(), events.capacity());
    // SAFETY: same layout (repr(transparent)), same allocation, ownership moves over.
    let v = unsafe { Vec::from_raw_parts(ptr.cast::<PyEvent>(), len, cap) };
    PyArray1::from_vec(py, v)
}

/// Borrows `obj` as a writable, contiguous, aligned `EVENT_DTYPE` array (an output buffer).
fn events_out<'py>(
    obj: &Bound<'py, PyAny>,
    field: &str,
) -> PyResult<numpy::PyReadwriteArray1<'py, PyEvent>> {
    let arr = obj.cast::<PyArray1<PyEvent>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{field} must be a 1-D numpy array of tradecore.EVENT_DTYPE"
        ))
    })?;
    if !usable(arr) {
        return Err(PyTypeError::new_err(format!(
            "{field} must be contiguous and aligned (an array numpy allocated, or a slice of one)"
        )));
    }
    arr.try_readwrite().map_err(|e| {
        PyTypeError::new_err(format!(
            "{field} must be writable and not borrowed elsewhere: {e}"
        ))
    })
}

/// Runs `f` on `obj[offset:]`, a writable `EVENT_DTYPE` output buffer (see [`events_out`]).
pub fn with_events_out<R>(
    obj: &Bound<'_, PyAny>,
    offset: usize,
    f: impl FnOnce(&mut [Event]) -> PyResult<R>,
) -> PyResult<R> {
    let mut out = events_out(obj, "out")?;
    let slots = out.as_slice_mut()?;
    let Some(dst) = slots.get_mut(offset..) else {
        return Err(crate::errors::invalid(
            "offset",
            offset,
            "is past the end of out",
        ));
    };
    // SAFETY: PyEvent is repr(transparent) over Event.
    let dst: &mut [Event] =
        unsafe { std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast(), dst.len()) };
    f(dst)
}
