/* trustnet._numeric: the exactly rounded sum of a float64 array (`math.fsum`), without a
 * Python float per element.
 *
 * The belief engine fuses a party's facts with sums that must be exactly rounded (so a view
 * fused from arrays equals one fused from opinions, in any order: trust/opinion.py). With
 * `math.fsum(array.tolist())` most of the time went to making and reading the Python floats.
 *
 * `fsum(buffer)` runs CPython's own algorithm (Shewchuk's partials, as in Modules/mathmodule.c,
 * `math_fsum`) over a C-contiguous buffer of doubles. The exactly rounded sum is unique, so
 * the result is the same as `math.fsum` gives for the same numbers. It answers only for
 * finite summands and no intermediate overflow; otherwise it returns None and the caller
 * asks `math.fsum`, which then raises or returns inf or nan as it always did.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

#define MAX_PARTIALS 64 /* finite doubles need at most about 40 partials */

static PyObject *
numeric_fsum(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    double partials[MAX_PARTIALS];
    Py_ssize_t n = 0, i, j, k, count;
    const double *xs;
    double x, y, t, hi, yr, lo = 0.0;
    int fallback = 0;

    (void)module;
    if (PyObject_GetBuffer(arg, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    if (view.itemsize != sizeof(double) || view.format == NULL
            || !(view.format[0] == 'd' && view.format[1] == '\0')) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_TypeError, "fsum needs a contiguous buffer of float64");
        return NULL;
    }
    xs = (const double *)view.buf;
    count = view.len / (Py_ssize_t)sizeof(double);
    for (k = 0; k < count && !fallback; k++) {
        x = xs[k];
        if (!isfinite(x)) {
            fallback = 1;
            break;
        }
        for (i = j = 0; j < n; j++) {
            y = partials[j];
            if (fabs(x) < fabs(y)) {
                t = x;
                x = y;
                y = t;
            }
            hi = x + y;
            yr = hi - x;
            lo = y - yr;
            if (lo != 0.0)
                partials[i++] = lo;
            x = hi;
        }
        n = i;
        if (x != 0.0) {
            if (!isfinite(x) || n >= MAX_PARTIALS)
                fallback = 1; /* intermediate overflow (math.fsum raises), or no room */
            else
                partials[n++] = x;
        }
    }
    PyBuffer_Release(&view);
    if (fallback)
        Py_RETURN_NONE;
    hi = 0.0;
    if (n > 0) {
        hi = partials[--n];
        /* sum_exact(partials, hi) from the top, stopping when the sum becomes inexact */
        while (n > 0) {
            x = hi;
            y = partials[--n];
            hi = x + y;
            yr = hi - x;
            lo = y - yr;
            if (lo != 0.0)
                break;
        }
        /* half-even rounding across several partials, as math.fsum makes it */
        if (n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) ||
                      (lo > 0.0 && partials[n - 1] > 0.0))) {
            y = lo * 2.0;
            x = hi + y;
            yr = x - hi;
            if (y == yr)
                hi = x;
        }
    }
    return PyFloat_FromDouble(hi);
}

static PyMethodDef numeric_methods[] = {
    {"fsum", numeric_fsum, METH_O,
     "fsum(buffer, /)\n--\n\n"
     "math.fsum of a C-contiguous float64 buffer, or None when a summand is not finite or "
     "the sum overflows on the way (then ask math.fsum)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef numeric_module = {
    PyModuleDef_HEAD_INIT, "trustnet._numeric",
    "Exactly rounded sums of float64 arrays (trustnet/_numeric.c).", -1, numeric_methods,
};

PyMODINIT_FUNC
PyInit__numeric(void)
{
    return PyModule_Create(&numeric_module);
}
