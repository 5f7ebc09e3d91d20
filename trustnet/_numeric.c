/* trustnet._numeric: numeric loops of the belief engine, each giving the very floats its
 * numpy or Python form gives (the same operations on the same doubles, in the same order).
 *
 * fsum: the exactly rounded sum of a float64 array (`math.fsum`), without a Python float per
 * element.
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
#include <stdint.h>

#define MAX_PARTIALS 64 /* finite doubles need at most about 40 partials */

/* An exactly rounded sum being made: CPython's partials (Modules/mathmodule.c, `math_fsum`).
 * `fallback` is set on a summand that is not finite or an intermediate overflow: the caller
 * then leaves the sum to math.fsum, which raises or answers inf or nan as it always has. */
typedef struct {
    double p[MAX_PARTIALS];
    Py_ssize_t n;
    int fallback;
} Fsum;

static void
fsum_init(Fsum *a)
{
    a->n = 0;
    a->fallback = 0;
}

static void
fsum_add(Fsum *a, double x)
{
    Py_ssize_t i, j;
    double y, t, hi, yr, lo;
    if (a->fallback)
        return;
    if (!isfinite(x)) {
        a->fallback = 1;
        return;
    }
    for (i = j = 0; j < a->n; j++) {
        y = a->p[j];
        if (fabs(x) < fabs(y)) {
            t = x;
            x = y;
            y = t;
        }
        hi = x + y;
        yr = hi - x;
        lo = y - yr;
        if (lo != 0.0)
            a->p[i++] = lo;
        x = hi;
    }
    a->n = i;
    if (x != 0.0) {
        if (!isfinite(x) || a->n >= MAX_PARTIALS)
            a->fallback = 1; /* intermediate overflow (math.fsum raises), or no room */
        else
            a->p[a->n++] = x;
    }
}

static double
fsum_result(const Fsum *a)
{
    Py_ssize_t n = a->n;
    double x, y, hi = 0.0, yr, lo = 0.0;
    if (n > 0) {
        hi = a->p[--n];
        /* sum_exact(partials, hi) from the top, stopping when the sum becomes inexact */
        while (n > 0) {
            x = hi;
            y = a->p[--n];
            hi = x + y;
            yr = hi - x;
            lo = y - yr;
            if (lo != 0.0)
                break;
        }
        /* half-even rounding across several partials, as math.fsum makes it */
        if (n > 0 && ((lo < 0.0 && a->p[n - 1] < 0.0) || (lo > 0.0 && a->p[n - 1] > 0.0))) {
            y = lo * 2.0;
            x = hi + y;
            yr = x - hi;
            if (y == yr)
                hi = x;
        }
    }
    return hi;
}

static PyObject *
numeric_fsum(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    Fsum acc;
    Py_ssize_t k, count;
    const double *xs;

    (void)module;
    if (PyObject_GetBuffer(arg, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    if (view.itemsize != sizeof(double) || view.format == NULL
            || !(view.format[0] == 'd' && view.format[1] == '\0')) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_TypeError, "fsum needs a contiguous buffer of float64");
        return NULL;
    }
    if (((uintptr_t)view.buf % sizeof(double)) != 0) { /* misaligned: left to math.fsum */
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    xs = (const double *)view.buf;
    count = view.len / (Py_ssize_t)sizeof(double);
    fsum_init(&acc);
    for (k = 0; k < count && !acc.fallback; k++)
        fsum_add(&acc, xs[k]);
    PyBuffer_Release(&view);
    if (acc.fallback)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(fsum_result(&acc));
}

/* ---- credibility: `_Group.credibility` (trust/beliefs/compiled.py) in one pass ------------ */

typedef struct {
    Py_buffer view;
    int held;
} Buf;

static int
get_buf(PyObject *obj, Buf *b, const char *what, char kind, int writable)
{
    /* kind: 'd' float64, 'i' intp (8-byte 'l' or 'q'), 'b' int8, '?' bool */
    const char *f;
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    b->held = 0;
    if (PyObject_GetBuffer(obj, &b->view, flags) < 0)
        return -1;
    b->held = 1;
    f = b->view.format ? b->view.format : "B";
    if (b->view.itemsize > 1 && ((uintptr_t)b->view.buf % (uintptr_t)b->view.itemsize) != 0) {
        PyErr_Format(PyExc_ValueError, "%s is not aligned in memory", what);
        return -1;
    }
    if (kind == 'd' && b->view.itemsize == 8 && f[0] == 'd' && f[1] == '\0')
        return 0;
    if (kind == 'i' && b->view.itemsize == 8 && (f[0] == 'l' || f[0] == 'q') && f[1] == '\0')
        return 0;
    if (kind == 'b' && b->view.itemsize == 1 && f[0] == 'b' && f[1] == '\0')
        return 0;
    if (kind == '?' && b->view.itemsize == 1 && f[0] == '?' && f[1] == '\0')
        return 0;
    PyErr_Format(PyExc_TypeError, "%s has the wrong element type", what);
    return -1;
}

static Py_ssize_t
buf_len(const Buf *b)
{
    return b->view.len / b->view.itemsize;
}

/* One side's (supporters' or refuters') `_fuse_terms`: per build the evidence sum of
 * 2p / (1 - p) over 0 < p < 1 (blocs averaged when `member` is given) and the count of
 * p >= 1, with p = rp[idx]. Returns -1 with an exception set on a bad reference. */
static int
fuse_side(const Py_ssize_t *seg, const Py_ssize_t *idx, Py_ssize_t m, const double *rp,
          Py_ssize_t n_rp, const Py_ssize_t *member, const Py_ssize_t *gseg, Py_ssize_t k,
          Py_ssize_t n, double *total, long long *dogs, double *gsum, double *gcount)
{
    Py_ssize_t i, j;
    int any_live = 0;
    for (i = 0; i < m; i++) {
        j = idx[i];
        if (j < 0 || j >= n_rp || seg[i] < 0 || seg[i] >= n) {
            PyErr_SetString(PyExc_IndexError, "credibility: a party or build out of range");
            return -1;
        }
        if (rp[j] > 0.0 && !(rp[j] >= 1.0))
            any_live = 1;
    }
    if (member != NULL && any_live) {
        for (i = 0; i < k; i++) {
            gsum[i] = 0.0;
            gcount[i] = 0.0;
        }
        for (i = 0; i < m; i++) {
            double p = rp[idx[i]];
            int dog = p >= 1.0;
            int live = p > 0.0 && !dog;
            if (member[i] < 0 || member[i] >= k) {
                PyErr_SetString(PyExc_IndexError, "credibility: a bloc group out of range");
                return -1;
            }
            gsum[member[i]] += live ? 2.0 * p / (1.0 - p) : 0.0;
            gcount[member[i]] += live ? 1.0 : 0.0;
        }
        for (i = 0; i < k; i++) {
            double mean = gcount[i] > 0.0 ? gsum[i] / gcount[i] : 0.0;
            if (gseg[i] < 0 || gseg[i] >= n) {
                PyErr_SetString(PyExc_IndexError, "credibility: a bloc group's build out of range");
                return -1;
            }
            total[gseg[i]] += mean;
        }
    } else {
        for (i = 0; i < m; i++) {
            double p = rp[idx[i]];
            int live = p > 0.0 && !(p >= 1.0);
            total[seg[i]] += live ? 2.0 * p / (1.0 - p) : 0.0;
        }
    }
    for (i = 0; i < m; i++)
        if (rp[idx[i]] >= 1.0)
            dogs[seg[i]] += 1;
    return 0;
}

static PyObject *
numeric_credibility(PyObject *module, PyObject *args)
{
    PyObject *o_out, *o_rp, *o_mode, *o_sseg, *o_sidx, *o_smem, *o_sg, *o_rseg, *o_ridx,
        *o_rmem, *o_rg, *o_aseg, *o_aidx;
    double reliable;
    Buf out, rp, mode, sseg, sidx, smem, sg, rseg, ridx, rmem, rg, aseg, aidx;
    Buf *all[] = {&out, &rp, &mode, &sseg, &sidx, &smem, &sg, &rseg, &ridx, &rmem, &rg, &aseg,
                  &aidx};
    double *r = NULL, *s = NULL, *best = NULL, *gsum = NULL, *gcount = NULL;
    long long *dog_s = NULL, *dog_r = NULL;
    Py_ssize_t n, i, k_max = 0, q;
    PyObject *result = NULL;
    (void)module;

    for (q = 0; q < (Py_ssize_t)(sizeof(all) / sizeof(all[0])); q++)
        all[q]->held = 0;
    if (!PyArg_ParseTuple(args, "OOdOOOOOOOOOOO", &o_out, &o_rp, &reliable, &o_mode, &o_sseg,
                          &o_sidx, &o_smem, &o_sg, &o_rseg, &o_ridx, &o_rmem, &o_rg, &o_aseg,
                          &o_aidx))
        return NULL;
    if (get_buf(o_out, &out, "out", 'd', 1) < 0 || get_buf(o_rp, &rp, "rp", 'd', 0) < 0
            || get_buf(o_mode, &mode, "mode", 'b', 0) < 0
            || get_buf(o_sseg, &sseg, "sup_seg", 'i', 0) < 0
            || get_buf(o_sidx, &sidx, "sup_idx", 'i', 0) < 0
            || (o_smem != Py_None && get_buf(o_smem, &smem, "sup member", 'i', 0) < 0)
            || (o_sg != Py_None && get_buf(o_sg, &sg, "sup groups", 'i', 0) < 0)
            || get_buf(o_rseg, &rseg, "ref_seg", 'i', 0) < 0
            || get_buf(o_ridx, &ridx, "ref_idx", 'i', 0) < 0
            || (o_rmem != Py_None && get_buf(o_rmem, &rmem, "ref member", 'i', 0) < 0)
            || (o_rg != Py_None && get_buf(o_rg, &rg, "ref groups", 'i', 0) < 0)
            || get_buf(o_aseg, &aseg, "ans_seg", 'i', 0) < 0
            || get_buf(o_aidx, &aidx, "ans_idx", 'i', 0) < 0)
        goto done;
    n = buf_len(&out);
    if (buf_len(&mode) != n || buf_len(&sseg) != buf_len(&sidx) || buf_len(&rseg) != buf_len(&ridx)
            || buf_len(&aseg) != buf_len(&aidx) || (o_smem == Py_None) != (o_sg == Py_None)
            || (o_rmem == Py_None) != (o_rg == Py_None)
            || (o_smem != Py_None && buf_len(&smem) != buf_len(&sseg))
            || (o_rmem != Py_None && buf_len(&rmem) != buf_len(&rseg))) {
        PyErr_SetString(PyExc_ValueError, "credibility: arrays of mismatched lengths");
        goto done;
    }
    if (o_sg != Py_None)
        k_max = buf_len(&sg);
    if (o_rg != Py_None && buf_len(&rg) > k_max)
        k_max = buf_len(&rg);
    r = PyMem_Calloc(n ? n : 1, sizeof(double));
    s = PyMem_Calloc(n ? n : 1, sizeof(double));
    best = PyMem_Calloc(n ? n : 1, sizeof(double));
    dog_s = PyMem_Calloc(n ? n : 1, sizeof(long long));
    dog_r = PyMem_Calloc(n ? n : 1, sizeof(long long));
    gsum = PyMem_Calloc(k_max ? k_max : 1, sizeof(double));
    gcount = PyMem_Calloc(k_max ? k_max : 1, sizeof(double));
    if (!r || !s || !best || !dog_s || !dog_r || !gsum || !gcount) {
        PyErr_NoMemory();
        goto done;
    }
    {
        const double *rpv = (const double *)rp.view.buf;
        Py_ssize_t n_rp = buf_len(&rp);
        if (fuse_side((const Py_ssize_t *)sseg.view.buf, (const Py_ssize_t *)sidx.view.buf,
                      buf_len(&sseg), rpv, n_rp,
                      o_smem == Py_None ? NULL : (const Py_ssize_t *)smem.view.buf,
                      o_sg == Py_None ? NULL : (const Py_ssize_t *)sg.view.buf,
                      o_sg == Py_None ? 0 : buf_len(&sg), n, r, dog_s, gsum, gcount) < 0)
            goto done;
        if (fuse_side((const Py_ssize_t *)rseg.view.buf, (const Py_ssize_t *)ridx.view.buf,
                      buf_len(&rseg), rpv, n_rp,
                      o_rmem == Py_None ? NULL : (const Py_ssize_t *)rmem.view.buf,
                      o_rg == Py_None ? NULL : (const Py_ssize_t *)rg.view.buf,
                      o_rg == Py_None ? 0 : buf_len(&rg), n, s, dog_r, gsum, gcount) < 0)
            goto done;
        {
            const Py_ssize_t *as = (const Py_ssize_t *)aseg.view.buf;
            const Py_ssize_t *ai = (const Py_ssize_t *)aidx.view.buf;
            for (i = 0; i < buf_len(&aseg); i++) {
                double v;
                if (as[i] < 0 || as[i] >= n || ai[i] < 0 || ai[i] >= n_rp) {
                    PyErr_SetString(PyExc_IndexError, "credibility: a requester out of range");
                    goto done;
                }
                v = rpv[ai[i]];
                /* np.maximum: NaN wins; reliabilities are never NaN */
                if (v > best[as[i]] || v != v)
                    best[as[i]] = v;
            }
        }
        {
            double *o = (double *)out.view.buf;
            const signed char *md = (const signed char *)mode.view.buf;
            for (i = 0; i < n; i++) {
                if (md[i] == 0) { /* _OWN */
                    o[i] = 1.0;
                } else if (md[i] == 1) { /* _ANSWER */
                    double a;
                    if (reliable > 0) {
                        a = best[i] / reliable;
                        a = a < 1.0 ? a : (a != a ? a : 1.0); /* np.minimum(1.0, x) */
                    } else {
                        a = 1.0;
                    }
                    o[i] = best[i] > 0.0 ? a : 0.0;
                } else { /* _FUSE */
                    long long dogs = dog_s[i] + dog_r[i];
                    if (dogs > 0)
                        o[i] = (double)dog_s[i] / (double)dogs;
                    else
                        o[i] = r[i] > 0.0 ? r[i] / (r[i] + s[i] + 2.0) : 0.0;
                }
            }
        }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_Free(r);
    PyMem_Free(s);
    PyMem_Free(best);
    PyMem_Free(dog_s);
    PyMem_Free(dog_r);
    PyMem_Free(gsum);
    PyMem_Free(gcount);
    for (q = 0; q < (Py_ssize_t)(sizeof(all) / sizeof(all[0])); q++)
        if (all[q]->held)
            PyBuffer_Release(&all[q]->view);
    return result;
}

/* ---- a view: `_Compliance._lazy_view` (trust/beliefs/compliance.py) in one pass -------------- */

/* np.clip(x, 0.0, 1.0) + 0.0, as `_lazy_view`'s numpy form computes it: NaN kept, and a
 * zero is +0.0 (numpy versions differ on the sign a clip gives -0.0; the sum settles it). */
static double
clip01(double x)
{
    double m = x < 0.0 ? 0.0 : x;
    m = 1.0 < m ? 1.0 : m;
    return m + 0.0;
}

static PyObject *
numeric_view(PyObject *module, PyObject *args)
{
    PyObject *o_cred, *o_met, *o_bb, *o_bd, *o_bu, *o_pos, *o_c, *o_b, *o_d, *o_u;
    Buf cred, met, bb, bd, bu, pos, c, b, d, u;
    Buf *all[] = {&cred, &met, &bb, &bd, &bu, &pos, &c, &b, &d, &u};
    Py_ssize_t n, i, k = 0, q;
    PyObject *result = NULL;
    (void)module;

    for (q = 0; q < (Py_ssize_t)(sizeof(all) / sizeof(all[0])); q++)
        all[q]->held = 0;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOO", &o_cred, &o_met, &o_bb, &o_bd, &o_bu, &o_pos, &o_c,
                          &o_b, &o_d, &o_u))
        return NULL;
    if (get_buf(o_cred, &cred, "cred", 'd', 0) < 0
            || (o_met != Py_None && get_buf(o_met, &met, "met", '?', 0) < 0)
            || get_buf(o_bb, &bb, "base_b", 'd', 0) < 0 || get_buf(o_bd, &bd, "base_d", 'd', 0) < 0
            || get_buf(o_bu, &bu, "base_u", 'd', 0) < 0 || get_buf(o_pos, &pos, "pos", 'i', 1) < 0
            || get_buf(o_c, &c, "c", 'd', 1) < 0 || get_buf(o_b, &b, "b", 'd', 1) < 0
            || get_buf(o_d, &d, "d", 'd', 1) < 0 || get_buf(o_u, &u, "u", 'd', 1) < 0)
        goto done;
    n = buf_len(&cred);
    if ((o_met != Py_None && buf_len(&met) != n) || buf_len(&bb) != n || buf_len(&bd) != n
            || buf_len(&bu) != n || buf_len(&pos) < n || buf_len(&c) < n || buf_len(&b) < n
            || buf_len(&d) < n || buf_len(&u) < n) {
        PyErr_SetString(PyExc_ValueError, "view: arrays of mismatched lengths");
        goto done;
    }
    {
        const double *cr = (const double *)cred.view.buf;
        const unsigned char *mt = o_met == Py_None ? NULL : (const unsigned char *)met.view.buf;
        const double *vb = (const double *)bb.view.buf, *vd = (const double *)bd.view.buf;
        const double *vu = (const double *)bu.view.buf;
        Py_ssize_t *po = (Py_ssize_t *)pos.view.buf;
        double *oc = (double *)c.view.buf, *ob = (double *)b.view.buf;
        double *od = (double *)d.view.buf, *ou = (double *)u.view.buf;
        int all_u = 1;
        double u_min = 0.0;
        for (i = 0; i < n; i++) {
            double x = cr[i];
            if (!(x > 0.0) || (mt != NULL && !mt[i]))
                continue;
            po[k] = i;
            oc[k] = x;
            if (x >= 1.0) {
                ob[k] = vb[i];
                od[k] = vd[i];
                ou[k] = vu[i];
            } else {
                ob[k] = clip01(x * vb[i]);
                od[k] = clip01(x * vd[i]);
                ou[k] = clip01(1.0 - x * vb[i] - x * vd[i]);
            }
            if (!(ou[k] > 0.0))
                all_u = 0;
            /* u.min() (when the sums are made every u > 0: no NaN to keep) */
            if (k == 0 || ou[k] < u_min)
                u_min = ou[k];
            k++;
        }
        if (k < 2 || !all_u) {
            result = Py_BuildValue("nO", k, Py_None);
            goto done;
        }
        {
            /* cumulative_fuse's multi-source form: w = u_min / u, and exactly rounded sums */
            Fsum sw, sb, sd;
            fsum_init(&sw);
            fsum_init(&sb);
            fsum_init(&sd);
            for (i = 0; i < k; i++) {
                double w = u_min / ou[i];
                fsum_add(&sw, w);
                fsum_add(&sb, w * ob[i]);
                fsum_add(&sd, w * od[i]);
            }
            if (sw.fallback || sb.fallback || sd.fallback)
                result = Py_BuildValue("nO", k, Py_None);
            else
                result = Py_BuildValue("n(dddd)", k, u_min, fsum_result(&sw), fsum_result(&sb),
                                       fsum_result(&sd));
        }
    }
done:
    for (q = 0; q < (Py_ssize_t)(sizeof(all) / sizeof(all[0])); q++)
        if (all[q]->held)
            PyBuffer_Release(&all[q]->view);
    return result;
}

/* ---- a group's quorums and a party's verification steps ----------------------------------- */

static int
cmp_pair(const void *a, const void *b)
{
    const long long *x = (const long long *)a, *y = (const long long *)b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : (x[1] > y[1] ? 1 : 0);
}

/* _Group.quorum_met: per build, whether it needs no quorum or its reliable attesters (those
 * with rp >= reliable; with `bloc`, one per bloc) number at least `quorum`. */
static PyObject *
numeric_quorum(PyObject *module, PyObject *args)
{
    PyObject *o_met, *o_need, *o_seg, *o_idx, *o_rp, *o_bloc;
    double reliable;
    Py_ssize_t quorum, n, m, n_rp, n_bloc = 0, i, k = 0, q;
    Buf met, need, seg, idx, rp, bloc;
    Buf *all[] = {&met, &need, &seg, &idx, &rp, &bloc};
    Py_ssize_t *count = NULL;
    long long *pairs = NULL;
    PyObject *result = NULL;
    (void)module;

    for (q = 0; q < (Py_ssize_t)(sizeof(all) / sizeof(all[0])); q++)
        all[q]->held = 0;
    if (!PyArg_ParseTuple(args, "OOOOOdnO", &o_met, &o_need, &o_seg, &o_idx, &o_rp, &reliable,
                          &quorum, &o_bloc))
        return NULL;
    if (get_buf(o_met, &met, "met", '?', 1) < 0 || get_buf(o_need, &need, "need_q", '?', 0) < 0
            || get_buf(o_seg, &seg, "q_seg", 'i', 0) < 0 || get_buf(o_idx, &idx, "q_idx", 'i', 0) < 0
            || get_buf(o_rp, &rp, "rp", 'd', 0) < 0
            || (o_bloc != Py_None && get_buf(o_bloc, &bloc, "bloc", 'i', 0) < 0))
        goto done;
    n = buf_len(&met);
    m = buf_len(&seg);
    n_rp = buf_len(&rp);
    if (o_bloc != Py_None)
        n_bloc = buf_len(&bloc);
    if (buf_len(&need) != n || buf_len(&idx) != m) {
        PyErr_SetString(PyExc_ValueError, "quorum: arrays of mismatched lengths");
        goto done;
    }
    count = PyMem_Calloc(n ? n : 1, sizeof(Py_ssize_t));
    pairs = PyMem_Malloc((m ? m : 1) * 2 * sizeof(long long));
    if (!count || !pairs) {
        PyErr_NoMemory();
        goto done;
    }
    {
        const Py_ssize_t *sg = (const Py_ssize_t *)seg.view.buf;
        const Py_ssize_t *ix = (const Py_ssize_t *)idx.view.buf;
        const double *rv = (const double *)rp.view.buf;
        const Py_ssize_t *bl = o_bloc == Py_None ? NULL : (const Py_ssize_t *)bloc.view.buf;
        const unsigned char *nd = (const unsigned char *)need.view.buf;
        unsigned char *out = (unsigned char *)met.view.buf;
        for (i = 0; i < m; i++) {
            Py_ssize_t j = ix[i];
            if (j < 0 || j >= n_rp || (bl != NULL && j >= n_bloc) || sg[i] < 0 || sg[i] >= n) {
                PyErr_SetString(PyExc_IndexError, "quorum: a party or build out of range");
                goto done;
            }
            if (!(rv[j] >= reliable))
                continue;
            if (bl == NULL) {
                count[sg[i]] += 1;
                continue;
            }
            if (bl[j] < 0 || bl[j] >= n_bloc) {
                PyErr_SetString(PyExc_IndexError, "quorum: a bloc out of range");
                goto done;
            }
            pairs[2 * k] = sg[i];
            pairs[2 * k + 1] = bl[j];
            k++;
        }
        if (bl != NULL && k) {
            /* attesters of one bloc count once: the distinct (build, bloc) pairs */
            qsort(pairs, (size_t)k, 2 * sizeof(long long), cmp_pair);
            for (i = 0; i < k; i++)
                if (i == 0 || pairs[2 * i] != pairs[2 * i - 2] || pairs[2 * i + 1] != pairs[2 * i - 1])
                    count[pairs[2 * i]] += 1;
        }
        for (i = 0; i < n; i++)
            out[i] = !nd[i] || count[i] >= quorum;
    }
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(count);
    PyMem_Free(pairs);
    for (q = 0; q < (Py_ssize_t)(sizeof(all) / sizeof(all[0])); q++)
        if (all[q]->held)
            PyBuffer_Release(&all[q]->view);
    return result;
}

/* analysis.verification._values: per numbered fact, its best raw credibility times `cap` in
 * `step`s (rint: half to even, as numpy's), nan when no raw build names it, 1.0 when a build
 * of the verified view with positive credibility is verified. */
static PyObject *
numeric_steps(PyObject *module, PyObject *args)
{
    PyObject *o_out, *o_rkid, *o_rpos, *o_rcred, *o_vkid, *o_vflag, *o_vpos, *o_vcred;
    double cap, step;
    Py_ssize_t n, i, q;
    Buf out, rkid, rpos, rcred, vkid, vflag, vpos, vcred;
    Buf *all[] = {&out, &rkid, &rpos, &rcred, &vkid, &vflag, &vpos, &vcred};
    PyObject *result = NULL;
    (void)module;

    for (q = 0; q < (Py_ssize_t)(sizeof(all) / sizeof(all[0])); q++)
        all[q]->held = 0;
    if (!PyArg_ParseTuple(args, "OOOOOOOOdd", &o_out, &o_rkid, &o_rpos, &o_rcred, &o_vkid,
                          &o_vflag, &o_vpos, &o_vcred, &cap, &step))
        return NULL;
    if (get_buf(o_out, &out, "out", 'd', 1) < 0 || get_buf(o_rkid, &rkid, "raw_kid", 'i', 0) < 0
            || get_buf(o_rpos, &rpos, "raw_pos", 'i', 0) < 0
            || get_buf(o_rcred, &rcred, "raw_cred", 'd', 0) < 0
            || get_buf(o_vkid, &vkid, "ver_kid", 'i', 0) < 0
            || get_buf(o_vflag, &vflag, "ver_flag", '?', 0) < 0
            || get_buf(o_vpos, &vpos, "ver_pos", 'i', 0) < 0
            || get_buf(o_vcred, &vcred, "ver_cred", 'd', 0) < 0)
        goto done;
    n = buf_len(&out);
    if (buf_len(&rpos) != buf_len(&rcred) || buf_len(&vpos) != buf_len(&vcred)
            || buf_len(&vflag) != buf_len(&vkid)) {
        PyErr_SetString(PyExc_ValueError, "steps: arrays of mismatched lengths");
        goto done;
    }
    {
        double *v = (double *)out.view.buf;
        const Py_ssize_t *rk = (const Py_ssize_t *)rkid.view.buf;
        const Py_ssize_t *rp = (const Py_ssize_t *)rpos.view.buf;
        const double *rc = (const double *)rcred.view.buf;
        const Py_ssize_t *vk = (const Py_ssize_t *)vkid.view.buf;
        const unsigned char *vf = (const unsigned char *)vflag.view.buf;
        const Py_ssize_t *vp = (const Py_ssize_t *)vpos.view.buf;
        const double *vc = (const double *)vcred.view.buf;
        Py_ssize_t n_rk = buf_len(&rkid), n_vk = buf_len(&vkid);
        for (i = 0; i < n; i++)
            v[i] = -INFINITY;
        for (i = 0; i < buf_len(&rpos); i++) {
            Py_ssize_t j = rp[i], f;
            double x, a;
            if (j < 0 || j >= n_rk || rk[j] < 0 || rk[j] >= n) {
                PyErr_SetString(PyExc_IndexError, "steps: a build or fact out of range");
                goto done;
            }
            f = rk[j];
            x = cap * rc[i];
            a = v[f];
            v[f] = (isnan(a) || a > x) ? a : x; /* numpy's maximum, signed zeros too */
        }
        for (i = 0; i < n; i++)
            v[i] = v[i] == -INFINITY ? NAN : rint(v[i] / step) * step;
        for (i = 0; i < buf_len(&vpos); i++) {
            Py_ssize_t j = vp[i];
            if (j < 0 || j >= n_vk || vk[j] < 0 || vk[j] >= n) {
                PyErr_SetString(PyExc_IndexError, "steps: a build or fact out of range");
                goto done;
            }
            if (vf[j] && vc[i] > 0.0)
                v[vk[j]] = 1.0;
        }
    }
    result = Py_NewRef(Py_None);
done:
    for (q = 0; q < (Py_ssize_t)(sizeof(all) / sizeof(all[0])); q++)
        if (all[q]->held)
            PyBuffer_Release(&all[q]->view);
    return result;
}

/* ---- the suspicion estimator's walk: `SuspicionEstimator._walk` (feedback/estimator.py) ------ */

#define WALK_T_BOUND 4503599627370496LL /* 2**52: times beyond are walked in Python */

/* richardson.flow_observed, the same operations in the same order (math.exp and math.expm1
 * are the C library's exp and expm1). */
static void
flow_observed(double k, double a, double b, double g, double h, double t, double x0, double y0,
              double *x, double *y)
{
    double ea, fa, z, d, forced, yy;
    if (t == 0.0) {
        *x = x0;
        *y = y0;
        return;
    }
    ea = exp(-a * t);
    fa = -expm1(-a * t) / a;
    z = (a - b) * t;
    d = ea * t * (z != 0.0 ? expm1(z) / z : 1.0);
    if (b * t < 1e-9) {
        yy = y0 + h * t;
        forced = (t - fa) / a;
    } else {
        double fb = -expm1(-b * t) / b;
        yy = y0 * exp(-b * t) + h * fb;
        forced = (fa - d) / b;
    }
    *x = x0 * ea + g * fa + k * (y0 * d + h * forced);
    *y = yy;
}

static long long
floor_div(long long n, long long d)
{
    long long q = n / d;
    if ((n % d != 0) && ((n < 0) != (d < 0)))
        q -= 1;
    return q;
}

/* The estimator's constants a walk reads. */
typedef struct {
    long long unit;
    double unit_f, l_in, l_r, l_gr, l_k, a0, a_gain, k0, k_gain, b_set, cap;
    int has_b;
} walk_params;

static int
times_in_bound(long long t)
{
    return t <= WALK_T_BOUND && t >= -WALK_T_BOUND;
}

/* SuspicionEstimator._slow: the snapshot's slow variables (g, h, c, g_p, T) valued at t. */
static void
slow_at(const walk_params *w, long long st, double sg, double sh, double sc, double sp,
        double sr, long long t, double *g, double *h, double *c, double *gp, double *r)
{
    if (t == st) {
        *g = sg;
        *h = sh;
        *c = sc;
        *gp = sp;
        *r = sr;
    } else {
        double dd = (double)(t - st) / w->unit_f;
        double fi = exp(-w->l_in * dd);
        *g = sg * fi;
        *h = sh * fi;
        *c = sc * exp(-w->l_r * dd);
        *gp = sp * exp(-w->l_gr * dd);
        *r = sr * exp(-w->l_k * dd);
    }
}

/* A history's points being made, in C arrays (a replay walks hundreds; Python objects for
 * each were most of its cost): times and levels, as LevelHistory keeps them. */
typedef struct {
    long long *t;
    double *level;
    Py_ssize_t n, cap;
} Points;

/* Room for one more row in `k` columns of 8-byte items (times or levels) holding `cap` rows:
 * each column doubled (from 64). A column grown before a later one fails keeps its rows and is
 * only larger than `cap` says; -1 with MemoryError set then. */
static int
grow_columns(void **cols, int k, Py_ssize_t *cap)
{
    Py_ssize_t want = *cap ? 2 * *cap : 64;
    int j;
    if (want > PY_SSIZE_T_MAX / 8) {
        PyErr_NoMemory();
        return -1;
    }
    for (j = 0; j < k; j++) {
        void *grown = PyMem_Realloc(cols[j], (size_t)want * 8);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        cols[j] = grown;
    }
    *cap = want;
    return 0;
}

static int
points_add(Points *p, long long t, double level)
{
    if (p->n == p->cap) {
        void *cols[2] = {p->t, p->level};
        int failed = grow_columns(cols, 2, &p->cap);
        p->t = cols[0];
        p->level = cols[1];
        if (failed)
            return -1;
    }
    p->t[p->n] = t;
    p->level[p->n] = level;
    p->n++;
    return 0;
}

static void
points_free(Points *p)
{
    PyMem_Free(p->t);
    PyMem_Free(p->level);
    p->t = NULL;
    p->level = NULL;
    p->n = p->cap = 0;
}

/* The cells from (t0, x, y) to t, the slow variables valued from the snapshot (st, sg, sh, sc,
 * sp, sr); each grid boundary passed appended to pts (when not NULL). Out: the last
 * grid boundary (or t0), its x and y, and x and y at t. -1 with an exception set on failure. */
static int
walk_cells(const walk_params *w, long long st, double sg, double sh, double sc, double sp,
           double sr, long long t0, double x, double y, long long t, Points *pts,
           long long *o_last, double *o_gx, double *o_gy, double *o_nx,
           double *o_ny)
{
    long long nxt = (floor_div(t0, w->unit) + 1) * w->unit;
    if (t0 >= t) {
        *o_last = t0;
        *o_gx = *o_nx = x;
        *o_gy = *o_ny = y;
        return 0;
    }
    for (;;) {
        int grid = nxt <= t;
        long long t1;
        double g, h, c, gp, r, a, k, nx, ny;
        if (!grid && t0 >= t)
            break;
        t1 = grid ? nxt : t;
        slow_at(w, st, sg, sh, sc, sp, sr, t0, &g, &h, &c, &gp, &r);
        a = w->a0 + w->a_gain * (c < 0.0 ? 0.0 : c);
        k = w->k0 + w->k_gain * (r < 0.0 ? 0.0 : r);
        flow_observed(k, a, w->has_b ? w->b_set : a, gp, g + h,
                      (double)(t1 - t0) / w->unit_f, x, y, &nx, &ny);
        nx = nx < 0.0 ? 0.0 : nx;
        ny = ny < 0.0 ? 0.0 : ny;
        nx = nx > w->cap ? w->cap : nx;
        ny = ny > w->cap ? w->cap : ny;
        if (!grid) {
            *o_last = t0;
            *o_gx = x;
            *o_gy = y;
            *o_nx = nx;
            *o_ny = ny;
            return 0;
        }
        x = nx;
        y = ny;
        t0 = nxt;
        nxt += w->unit;
        if (pts != NULL && points_add(pts, t0, -expm1(-x)) < 0)
            return -1;
    }
    *o_last = t0;
    *o_gx = *o_nx = x;
    *o_gy = *o_ny = y;
    return 0;
}

static int
b_set_of(PyObject *o_bset, walk_params *w)
{
    w->has_b = o_bset != Py_None;
    w->b_set = 0.0;
    if (w->has_b) {
        w->b_set = PyFloat_AsDouble(o_bset);
        if (w->b_set == -1.0 && PyErr_Occurred())
            return -1;
    }
    return 0;
}

static PyObject *
numeric_walk(PyObject *module, PyObject *args)
{
    long long st, t0, t, last;
    double sg, sh, sc, sp, sr, x, y, gx, gy, nx, ny;
    PyObject *o_bset, *ts = NULL, *levels = NULL, *result = NULL;
    int want_points;
    Points pts = {NULL, NULL, 0, 0};
    Py_ssize_t i;
    walk_params w;
    (void)module;

    if (!PyArg_ParseTuple(args, "LdddddLddLLdddddddddOdp", &st, &sg, &sh, &sc, &sp, &sr, &t0,
                          &x, &y, &t, &w.unit, &w.unit_f, &w.l_in, &w.l_r, &w.l_gr, &w.l_k,
                          &w.a0, &w.a_gain, &w.k0, &w.k_gain, &o_bset, &w.cap, &want_points))
        return NULL;
    if (b_set_of(o_bset, &w) < 0)
        return NULL;
    if (w.unit <= 0 || !times_in_bound(st) || !times_in_bound(t0) || !times_in_bound(t)
            || w.unit > WALK_T_BOUND)
        Py_RETURN_NONE; /* Python walks it, with its unbounded integers */
    if (walk_cells(&w, st, sg, sh, sc, sp, sr, t0, x, y, t, want_points ? &pts : NULL, &last,
                   &gx, &gy, &nx, &ny) < 0)
        goto done;
    if (want_points) {
        ts = PyList_New(pts.n);
        levels = PyList_New(pts.n);
        if (ts == NULL || levels == NULL)
            goto done;
        for (i = 0; i < pts.n; i++) {
            PyObject *pt = PyLong_FromLongLong(pts.t[i]);
            PyObject *lv = PyFloat_FromDouble(pts.level[i]);
            if (pt == NULL || lv == NULL) {
                Py_XDECREF(pt);
                Py_XDECREF(lv);
                goto done;
            }
            PyList_SET_ITEM(ts, i, pt);
            PyList_SET_ITEM(levels, i, lv);
        }
    }
    result = Py_BuildValue("(LddddOO)", last, gx, gy, nx, ny, want_points ? ts : Py_None,
                           want_points ? levels : Py_None);
done:
    points_free(&pts);
    Py_XDECREF(ts);
    Py_XDECREF(levels);
    return result;
}

/* A party's snapshots being made (one per signal replayed): eight columns, as the estimator's
 * `_Snaps` holds them (times int64, the rest float64). */
typedef struct {
    long long *t;
    double *v[7]; /* x, y, g, h, c, g_p, T */
    Py_ssize_t n, cap;
} SnapCols;

static int
snaps_add(SnapCols *s, long long t, const double v[7])
{
    int k;
    if (s->n == s->cap) {
        void *cols[8] = {s->t, s->v[0], s->v[1], s->v[2], s->v[3], s->v[4], s->v[5], s->v[6]};
        int failed = grow_columns(cols, 8, &s->cap);
        s->t = cols[0];
        for (k = 0; k < 7; k++)
            s->v[k] = cols[k + 1];
        if (failed)
            return -1;
    }
    s->t[s->n] = t;
    for (k = 0; k < 7; k++)
        s->v[k][s->n] = v[k];
    s->n++;
    return 0;
}

static void
snaps_free(SnapCols *s)
{
    int k;
    PyMem_Free(s->t);
    for (k = 0; k < 7; k++)
        PyMem_Free(s->v[k]);
}

/* Bytes of n items of `size` at p (empty when p is NULL). */
static PyObject *
bytes_of(const void *p, Py_ssize_t n, size_t size)
{
    return PyBytes_FromStringAndSize(p != NULL ? (const char *)p : "", n * (Py_ssize_t)size);
}

/* A step (at, kind, inc, erodes, standing share) as PyArg_ParseTuple's "Lidpd" reads it,
 * without parsing the format for each of the hundreds of steps a replay walks. */
static int
read_step(PyObject *step, long long *at, int *kind, double *inc, int *erodes, double *f)
{
    PyObject *o;
    long k;
    if (!PyTuple_Check(step) || PyTuple_GET_SIZE(step) != 5) {
        PyErr_SetString(PyExc_TypeError, "replay: a step is a tuple of five");
        return -1;
    }
    *at = PyLong_AsLongLong(PyTuple_GET_ITEM(step, 0));
    if (*at == -1 && PyErr_Occurred())
        return -1;
    k = PyLong_AsLong(PyTuple_GET_ITEM(step, 1));
    if (k == -1 && PyErr_Occurred())
        return -1;
    if (k > INT_MAX || k < INT_MIN) {
        PyErr_SetString(PyExc_OverflowError, "replay: a step's kind is out of range");
        return -1;
    }
    *kind = (int)k;
    o = PyTuple_GET_ITEM(step, 2);
    *inc = PyFloat_CheckExact(o) ? PyFloat_AS_DOUBLE(o) : PyFloat_AsDouble(o);
    if (*inc == -1.0 && PyErr_Occurred())
        return -1;
    *erodes = PyObject_IsTrue(PyTuple_GET_ITEM(step, 3));
    if (*erodes < 0)
        return -1;
    o = PyTuple_GET_ITEM(step, 4);
    *f = PyFloat_CheckExact(o) ? PyFloat_AS_DOUBLE(o) : PyFloat_AsDouble(o);
    if (*f == -1.0 && PyErr_Occurred())
        return -1;
    return 0;
}

/* SuspicionEstimator._replay: each step walked from the snapshot before it and applied, the
 * history's points and its bound counted as LevelHistory.record and .bound count them. */
static PyObject *
numeric_replay(PyObject *module, PyObject *args)
{
    PyObject *base, *steps, *o_bset, *o_last_t, *o_last_level;
    PyObject *cols = NULL, *result = NULL;
    Points pts = {NULL, NULL, 0, 0};
    SnapCols sc = {NULL, {NULL, NULL, NULL, NULL, NULL, NULL, NULL}, 0, 0};
    Py_ssize_t n, keep, i;
    double input_gain, erosion, last_level = 0.0, replaced = 0.0;
    long long last_t = 0;
    int has_last, has_base, has_replaced = 0;
    /* the snapshot walked from: t, x, y, g, h, c, g_p, T */
    long long bt = 0;
    double bx = 0.0, by = 0.0, bg = 0.0, bh = 0.0, bc = 0.0, bp = 0.0, br = 0.0;
    walk_params w;
    (void)module;

    if (!PyArg_ParseTuple(args, "OO!nOOnLdddddddddOddd", &base, &PyList_Type, &steps, &n,
                          &o_last_t, &o_last_level, &keep, &w.unit, &w.unit_f, &w.l_in, &w.l_r,
                          &w.l_gr, &w.l_k, &w.a0, &w.a_gain, &w.k0, &w.k_gain, &o_bset, &w.cap,
                          &input_gain, &erosion))
        return NULL;
    if (b_set_of(o_bset, &w) < 0)
        return NULL;
    if (w.unit <= 0 || w.unit > WALK_T_BOUND)
        Py_RETURN_NONE;
    has_base = base != Py_None;
    if (has_base && !PyArg_ParseTuple(base, "Lddddddd", &bt, &bx, &by, &bg, &bh, &bc, &bp,
                                      &br))
        return NULL;
    has_last = o_last_t != Py_None;
    if (has_last) {
        last_t = PyLong_AsLongLong(o_last_t);
        last_level = PyFloat_AsDouble(o_last_level);
        if (PyErr_Occurred())
            return NULL;
    }
    if (has_base && !times_in_bound(bt))
        Py_RETURN_NONE;
    for (i = 0; i < PyList_GET_SIZE(steps); i++) {
        PyObject *step = PyList_GET_ITEM(steps, i);
        long long at, last;
        int kind, erodes;
        double inc, f, x = 0.0, y = 0.0, g = 0.0, h = 0.0, c = 0.0, gp = 0.0, r = 0.0;
        double gx, gy, level;
        Py_ssize_t before = pts.n;
        int read;
        /* held while read: a number's __index__ or __float__ could empty the list */
        Py_INCREF(step);
        read = read_step(step, &at, &kind, &inc, &erodes, &f);
        Py_DECREF(step);
        if (read < 0)
            goto done;
        if (!times_in_bound(at)) {
            result = Py_NewRef(Py_None); /* Python replays it, with its unbounded integers */
            goto done;
        }
        if (has_base) {
            if (walk_cells(&w, bt, bg, bh, bc, bp, br, bt, bx, by, at, &pts, &last, &gx, &gy,
                           &x, &y) < 0)
                goto done;
            /* the grid points walked, then LevelHistory.bound */
            if (pts.n > before) {
                n += pts.n - before;
                has_last = 1;
                last_t = pts.t[pts.n - 1];
            }
            if (n > 2 * keep)
                n = keep;
            slow_at(&w, bt, bg, bh, bc, bp, br, at, &g, &h, &c, &gp, &r);
        }
        /* _apply_at */
        if (kind == 0) { /* threat */
            g += input_gain * inc * (1.0 - f);
            gp += input_gain * inc * f;
            r += inc;
            if (erodes)
                c -= erosion * inc;
        } else if (kind == 1) { /* hostility */
            h += input_gain * inc;
        } else {
            c += inc;
        }
        /* LevelHistory.record(at, level, keep): the last point's level when it is at `at` */
        level = -expm1(-x);
        if (n > 0 && has_last && last_t == at) {
            if (pts.n > 0) {
                if (pts.level[pts.n - 1] != level)
                    pts.level[pts.n - 1] = level;
            } else if (level != last_level) {
                has_replaced = 1;
                replaced = last_level = level;
            }
        } else {
            if (points_add(&pts, at, level) < 0)
                goto done;
            n += 1;
            has_last = 1;
            last_t = at;
        }
        if (n > 2 * keep)
            n = keep;
        {
            const double v[7] = {x, y, g, h, c, gp, r};
            if (snaps_add(&sc, at, v) < 0)
                goto done;
        }
        has_base = 1;
        bt = at;
        bx = x;
        by = y;
        bg = g;
        bh = h;
        bc = c;
        bp = gp;
        br = r;
    }
    /* the new points as LevelHistory's arrays hold them: native int64 times, float64 levels
     * (bytes, empty when there are none: y# makes None of a NULL pointer) */
    {
        int k;
        cols = PyTuple_New(8);
        if (cols == NULL)
            goto done;
        for (k = 0; k < 8; k++) {
            PyObject *col = k == 0 ? bytes_of(sc.t, sc.n, sizeof(long long))
                                   : bytes_of(sc.v[k - 1], sc.n, sizeof(double));
            if (col == NULL)
                goto done;
            PyTuple_SET_ITEM(cols, k, col);
        }
        {
            const char *tb = pts.t != NULL ? (const char *)pts.t : "";
            const char *lb = pts.level != NULL ? (const char *)pts.level : "";
            Py_ssize_t tn = pts.n * (Py_ssize_t)sizeof(long long);
            Py_ssize_t ln = pts.n * (Py_ssize_t)sizeof(double);
            if (has_replaced)
                result = Py_BuildValue("(Oy#y#nd)", cols, tb, tn, lb, ln, n, replaced);
            else
                result = Py_BuildValue("(Oy#y#nO)", cols, tb, tn, lb, ln, n, Py_None);
        }
    }
done:
    points_free(&pts);
    snaps_free(&sc);
    Py_XDECREF(cols);
    return result;
}

static PyMethodDef numeric_methods[] = {
    {"fsum", numeric_fsum, METH_O,
     "fsum(buffer, /)\n--\n\n"
     "math.fsum of a C-contiguous float64 buffer, or None when a summand is not finite or "
     "the sum overflows on the way (then ask math.fsum)."},
    {"credibility", numeric_credibility, METH_VARARGS,
     "credibility(out, rp, reliable, mode, sup_seg, sup_idx, sup_member, sup_groups, ref_seg, "
     "ref_idx, ref_member, ref_groups, ans_seg, ans_idx, /)\n--\n\n"
     "_Group.credibility into `out` (float64, one per build): the same floats as its numpy "
     "form. *_member and *_groups: the bloc grouping of that side, or None for none."},
    {"view", numeric_view, METH_VARARGS,
     "view(cred, met, base_b, base_d, base_u, pos, c, b, d, u, /)\n--\n\n"
     "_Compliance._lazy_view's arrays: the k builds of positive credibility (and `met`, a "
     "bool array, or None) written to the first k places of pos, c, b, d, u (each at least "
     "as long as cred); returns (k, sums): sums = (u_min, fsum(w), fsum(w*b), fsum(w*d)), "
     "w = u_min / u, for k >= 2 when every u > 0 and the sums are finite, else None. "
     "The outputs must not overlap each other or the inputs."},
    {"quorum", numeric_quorum, METH_VARARGS,
     "quorum(met, need_q, q_seg, q_idx, rp, reliable, quorum, bloc, /)\n--\n\n"
     "_Group.quorum_met into `met` (bool, one per build): a build needs no quorum (need_q "
     "false) or its attesters q_idx of rows q_seg with rp >= reliable, one per bloc when "
     "`bloc` (intp per party) is given, number at least `quorum`. `met` must not overlap "
     "the inputs."},
    {"steps", numeric_steps, METH_VARARGS,
     "steps(out, raw_kid, raw_pos, raw_cred, ver_kid, ver_flag, ver_pos, ver_cred, cap, step, /)"
     "\n--\n\n"
     "analysis.verification._values into `out` (float64, one per numbered fact): the best "
     "cap * raw_cred in rint steps of `step`, nan where no raw build names the fact, 1.0 "
     "where a verified build has positive credibility. `out` must not overlap the inputs."},
    {"walk", numeric_walk, METH_VARARGS,
     "walk(st, sg, sh, sc, sp, sr, t0, x, y, t, unit, unit_f, l_in, l_r, l_gr, l_k, a0, "
     "a_gain, k0, k_gain, b_set, cap, want_points, /)\n--\n\n"
     "SuspicionEstimator._walk's cells: (last grid boundary or t0, its x, y, x at t, y at t, "
     "grid times, their levels) (the lists None unless want_points), or None when a time lies "
     "beyond 2**52 ms (Python walks it)."},
    {"replay", numeric_replay, METH_VARARGS,
     "replay(base, steps, n, last_t, last_level, keep, unit, unit_f, l_in, l_r, "
     "l_gr, l_k, a0, a_gain, k0, k_gain, b_set, cap, input_gain, erosion, /)\n--\n\n"
     "SuspicionEstimator._replay: (the new snapshots as eight bytes columns: t int64, x, y, g, h, "
     "c, g_p, T float64; the history's new times and "
     "levels (bytes: native int64 and float64, as array('q') and array('d') hold them), its "
     "length after, the new level of its last point held before or None), or "
     "None when a time lies beyond 2**52 ms (Python replays it)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef numeric_module = {
    PyModuleDef_HEAD_INIT, "trustnet._numeric",
    "Numeric loops of the belief engine (trustnet/_numeric.c).", -1, numeric_methods,
};

PyMODINIT_FUNC
PyInit__numeric(void)
{
    return PyModule_Create(&numeric_module);
}
