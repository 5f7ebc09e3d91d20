/* trustnet._canonical: one pass over an entry's payload bytes that says whether they are the
 * minimal msgpack encoding of values an entry may hold (DESIGN 3, trustnet/log/entry.py).
 *
 * scan(data) -> bool. True only when every rule holds: exactly one object and nothing after
 * it; nil, bool, int, str, bin, array and map only (no float, no ext); map keys str, no key
 * twice; containers nested at most MAX_DEPTH deep (the outermost at depth 0); every length
 * and integer in the shortest form msgpack-python's Packer(use_bin_type=True) writes. Then
 * re-packing what msgpack unpacks gives these bytes back, and the value walk finds nothing:
 * `decode_fields` skips both (they cost a worker more than the rest of decoding).
 *
 * False means "not shown canonical here", not "invalid": the Python checks then run as they
 * always did and name the rule broken. So this pass may refuse what is valid (maps of more
 * than MAX_KEYS keys, where comparing every key pair would cost a stranger's 64 KiB entry
 * too much), never accept what the Python checks refuse (tests/test_canonical.py fuzzes the
 * two against each other). str contents are not checked as UTF-8: msgpack's unpacking of the
 * same bytes, which always runs, refuses invalid UTF-8, and valid UTF-8 packs back the same.
 *
 * head(raw) -> (payload, sig, author, seq, prev, ts, kind) | None. The envelope and the
 * payload's fields before the body of a raw entry, read without unpacking the body: what the
 * store's writer needs of an entry the ingest workers check (`trustnet.store.workers.peek`).
 * It reads only the shortest forms `decode_fields` accepts (a version 1 array of seven, a
 * 32-byte author, seq and ts unsigned and at most 2**53-1, prev nil or 32 bytes, kind valid
 * UTF-8, then a map's first byte) and says None for anything else, checking nothing more:
 * the workers check the entry whole, and what it reads is what they unpack.
 *
 * author(raw) -> bytes | None: only the author `head` would read (its kind's UTF-8 not
 * checked): what the new-author admission counts a push by, one per entry.
 *
 * checker(programs, domain, max_bytes, library) -> a Checker of whole entries for the ingest
 * workers (envelope, canonical payload with valid UTF-8, body by its kind's program,
 * signature by libsodium), and verify_many(items, library), the benchmarks' baseline of
 * libsodium called from C: their section below says how.
 *
 * Every read is bounds-checked against the buffer's end; recursion is at most MAX_DEPTH + 1.
 *
 * maker(cls, names) -> a callable that makes an object of `cls` with those slots set, one
 * positional argument each: what `object.__new__(cls)` and each slot descriptor's `__set__`
 * do, in one call instead of one per field (an entry has thirteen: `entry_of`, and every
 * statement record `kinds.parse_body` makes). Only slots `cls` holds as plain members
 * (`__slots__`, as frozen dataclasses with slots=True have them), only a class whose
 * `__new__` is object's; the slots left out stay unset, as after `object.__new__`.
 * `track` false: the objects made are untracked by the cyclic collector (as CPython does for
 * a tuple of atoms), for records that cannot be part of a cycle: an entry holds bytes, ints,
 * strs and its body (a tree msgpack made) and parsed record, never anything that holds it.
 * Reference counting frees them as always; no collection walks them.
 *
 * hex_of(cls, source, cache, intern) -> a descriptor reading the bytes slot `source` as
 * lowercase hex, made on first read and kept in the slot `cache` (None until then; interned
 * with `intern`): `Entry.id_hex` and `Entry.author_hex`, read for every entry the analysis
 * indexes, a few times each; as a Python property each read was a Python call.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>
#include <dlfcn.h>

#define MAX_DEPTH 8
#define MAX_KEYS 32

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
} cursor;

static int
has(const cursor *c, uint64_t n)
{
    return (uint64_t)(c->end - c->p) >= n;
}

static uint64_t
be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* A str at the cursor, in its shortest form: its bytes and length, the cursor past it. */
static int
str_at(cursor *c, const unsigned char **s, uint64_t *len)
{
    if (!has(c, 1))
        return 0;
    unsigned char b = c->p[0];
    uint64_t n;
    int h;
    if ((b & 0xe0) == 0xa0) {
        n = b & 0x1f;
        h = 1;
    }
    else if (b == 0xd9) {
        if (!has(c, 2))
            return 0;
        n = c->p[1];
        h = 2;
        if (n < 32)
            return 0;
    }
    else if (b == 0xda) {
        if (!has(c, 3))
            return 0;
        n = be(c->p + 1, 2);
        h = 3;
        if (n < 256)
            return 0;
    }
    else if (b == 0xdb) {
        if (!has(c, 5))
            return 0;
        n = be(c->p + 1, 4);
        h = 5;
        if (n < 65536)
            return 0;
    }
    else
        return 0;
    if (!has(c, (uint64_t)h + n))
        return 0;
    *s = c->p + h;
    *len = n;
    c->p += h + n;
    return 1;
}

/* Whether s[0:n] is UTF-8 as Python's strict decoder takes it: no overlong forms, no
 * surrogates, nothing past U+10FFFF. */
static int
utf8_ok(const unsigned char *s, uint64_t n)
{
    uint64_t i = 0;
    while (i < n) {
        unsigned char b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        if (b >= 0xc2 && b <= 0xdf) {
            if (i + 1 >= n || (s[i + 1] & 0xc0) != 0x80)
                return 0;
            i += 2;
        }
        else if (b >= 0xe0 && b <= 0xef) {
            if (i + 2 >= n || (s[i + 1] & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80)
                return 0;
            if ((b == 0xe0 && s[i + 1] < 0xa0) || (b == 0xed && s[i + 1] >= 0xa0))
                return 0;  /* overlong; a surrogate */
            i += 3;
        }
        else if (b >= 0xf0 && b <= 0xf4) {
            if (i + 3 >= n || (s[i + 1] & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80
                    || (s[i + 3] & 0xc0) != 0x80)
                return 0;
            if ((b == 0xf0 && s[i + 1] < 0x90) || (b == 0xf4 && s[i + 1] >= 0x90))
                return 0;  /* overlong; past U+10FFFF */
            i += 4;
        }
        else
            return 0;
    }
    return 1;
}

/* One value at the cursor in its shortest form (see the top); `utf8`: every str (map keys
 * too) valid UTF-8 as well. */
static int
item(cursor *c, int depth, int utf8)
{
    if (!has(c, 1))
        return 0;
    unsigned char b = c->p[0];
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        c->p += 1;
        return 1;
    }
    if ((b & 0xe0) == 0xa0 || b == 0xd9 || b == 0xda || b == 0xdb) {
        const unsigned char *s;
        uint64_t n;
        return str_at(c, &s, &n) && (!utf8 || utf8_ok(s, n));
    }
    switch (b) {
    case 0xc4: case 0xc5: case 0xc6: {  /* bin 8, 16, 32 */
        int w = b == 0xc4 ? 1 : b == 0xc5 ? 2 : 4;
        if (!has(c, 1 + (uint64_t)w))
            return 0;
        uint64_t n = be(c->p + 1, w);
        if ((b == 0xc5 && n < 256) || (b == 0xc6 && n < 65536))
            return 0;
        if (!has(c, 1 + (uint64_t)w + n))
            return 0;
        c->p += 1 + w + n;
        return 1;
    }
    case 0xcc: case 0xcd: case 0xce: case 0xcf: {  /* uint 8, 16, 32, 64 */
        int w = 1 << (b - 0xcc);
        if (!has(c, 1 + (uint64_t)w))
            return 0;
        uint64_t v = be(c->p + 1, w);
        uint64_t least = b == 0xcc ? 128 : b == 0xcd ? 256 : b == 0xce ? 65536 : 4294967296ULL;
        if (v < least)
            return 0;
        c->p += 1 + w;
        return 1;
    }
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {  /* int 8, 16, 32, 64: negative only */
        int w = 1 << (b - 0xd0);
        if (!has(c, 1 + (uint64_t)w))
            return 0;
        uint64_t u = be(c->p + 1, w);
        int64_t v;
        if (w == 1)
            v = (int8_t)u;
        else if (w == 2)
            v = (int16_t)u;
        else if (w == 4)
            v = (int32_t)u;
        else
            v = (int64_t)u;
        int64_t below = b == 0xd0 ? -32 : b == 0xd1 ? -128 : b == 0xd2 ? -32768 : -2147483648LL;
        if (v >= below)
            return 0;
        c->p += 1 + w;
        return 1;
    }
    default:
        break;
    }
    uint64_t n;
    int h, is_map;
    if ((b & 0xf0) == 0x90 || (b & 0xf0) == 0x80) {
        n = b & 0x0f;
        h = 1;
        is_map = (b & 0xf0) == 0x80;
    }
    else if (b == 0xdc || b == 0xde) {
        if (!has(c, 3))
            return 0;
        n = be(c->p + 1, 2);
        h = 3;
        is_map = b == 0xde;
        if (n < 16)
            return 0;
    }
    else if (b == 0xdd || b == 0xdf) {
        if (!has(c, 5))
            return 0;
        n = be(c->p + 1, 4);
        h = 5;
        is_map = b == 0xdf;
        if (n < 65536)
            return 0;
    }
    else
        return 0;  /* float 32/64, ext types, 0xc1 (never used) */
    if (depth >= MAX_DEPTH)
        return 0;
    c->p += h;
    if (!is_map) {
        for (uint64_t i = 0; i < n; i++)  /* each item takes a byte at least: ends soon */
            if (!item(c, depth + 1, utf8))
                return 0;
        return 1;
    }
    if (n > MAX_KEYS)
        return 0;
    const unsigned char *keys[MAX_KEYS];
    uint64_t lens[MAX_KEYS];
    for (uint64_t i = 0; i < n; i++) {
        if (!str_at(c, &keys[i], &lens[i]) || (utf8 && !utf8_ok(keys[i], lens[i])))
            return 0;
        for (uint64_t j = 0; j < i; j++)
            if (lens[j] == lens[i] && memcmp(keys[j], keys[i], (size_t)lens[i]) == 0)
                return 0;
        if (!item(c, depth + 1, utf8))
            return 0;
    }
    return 1;
}

static PyObject *
scan(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    cursor c = {(const unsigned char *)view.buf, (const unsigned char *)view.buf + view.len};
    int ok = item(&c, 0, 0) && c.p == c.end;
    PyBuffer_Release(&view);
    return PyBool_FromLong(ok);
}

#define MAX_INT ((1ULL << 53) - 1)
#define ID_BYTES 32

/* An unsigned int in its shortest form, at most MAX_INT: its value, the cursor past it. */
static int
uint_at(cursor *c, uint64_t *v)
{
    if (!has(c, 1))
        return 0;
    unsigned char b = c->p[0];
    if (b <= 0x7f) {
        *v = b;
        c->p += 1;
        return 1;
    }
    if (b < 0xcc || b > 0xcf)
        return 0;
    int w = 1 << (b - 0xcc);
    if (!has(c, 1 + (uint64_t)w))
        return 0;
    uint64_t x = be(c->p + 1, w);
    uint64_t least = b == 0xcc ? 128 : b == 0xcd ? 256 : b == 0xce ? 65536 : 4294967296ULL;
    if (x < least || x > MAX_INT)
        return 0;
    *v = x;
    c->p += 1 + w;
    return 1;
}

/* A bin 8 of 32 bytes (an author or an entry id): its bytes, the cursor past it. */
static int
id_at(cursor *c, const unsigned char **id)
{
    if (!has(c, 2 + ID_BYTES) || c->p[0] != 0xc4 || c->p[1] != ID_BYTES)
        return 0;
    *id = c->p + 2;
    c->p += 2 + ID_BYTES;
    return 1;
}

/* The fields `head` reads, where they lie in the raw entry. */
typedef struct {
    int start;  /* the payload's first byte */
    const unsigned char *author, *prev, *kind;  /* prev NULL: nil */
    const unsigned char *body;  /* the body map's first byte */
    uint64_t seq, ts, kind_len;
} header;

/* Read a raw entry's envelope and header as `head` does: 1 when they have that shape. */
static int
read_header(const unsigned char *raw, Py_ssize_t len, header *h)
{
    /* The envelope: [bin payload, bin 8 of 64], each length in its shortest form. */
    if (len < 69 || raw[0] != 0x92 || raw[len - 66] != 0xc4 || raw[len - 65] != 0x40)
        return 0;
    uint64_t n = (uint64_t)len - 67;  /* the payload's bin: its header and bytes */
    int start;
    if (raw[1] == 0xc4 && n - 2 < 0x100)
        start = 3;
    else if (raw[1] == 0xc5 && n >= 3 && n - 3 >= 0x100 && n - 3 < 0x10000)
        start = 4;
    else if (raw[1] == 0xc6 && n >= 5 && n - 5 >= 0x10000)
        start = 6;
    else
        return 0;
    if (be(raw + 2, start - 2) != n - (uint64_t)(start - 1))
        return 0;
    cursor c = {raw + start, raw + len - 66};
    h->start = start;
    h->prev = NULL;
    if (!has(&c, 2) || c.p[0] != 0x97 || c.p[1] != 0x01)
        return 0;
    c.p += 2;
    if (!id_at(&c, &h->author) || !uint_at(&c, &h->seq) || h->seq < 1)
        return 0;
    if (has(&c, 1) && c.p[0] == 0xc0)
        c.p += 1;
    else if (!id_at(&c, &h->prev))
        return 0;
    if (!uint_at(&c, &h->ts) || !str_at(&c, &h->kind, &h->kind_len) || !has(&c, 1))
        return 0;
    unsigned char b = c.p[0];
    h->body = c.p;
    return (b & 0xf0) == 0x80 || b == 0xde || b == 0xdf;
}

static PyObject *
author(PyObject *module, PyObject *arg)
{
    if (!PyBytes_CheckExact(arg)) {
        PyErr_SetString(PyExc_TypeError, "author() takes bytes");
        return NULL;
    }
    header h;
    if (!read_header((const unsigned char *)PyBytes_AS_STRING(arg), PyBytes_GET_SIZE(arg), &h))
        Py_RETURN_NONE;
    return PyBytes_FromStringAndSize((const char *)h.author, ID_BYTES);
}

static PyObject *
head(PyObject *module, PyObject *arg)
{
    if (!PyBytes_CheckExact(arg)) {
        PyErr_SetString(PyExc_TypeError, "head() takes bytes");
        return NULL;
    }
    const unsigned char *raw = (const unsigned char *)PyBytes_AS_STRING(arg);
    Py_ssize_t len = PyBytes_GET_SIZE(arg);
    header h;
    if (!read_header(raw, len, &h))
        Py_RETURN_NONE;
    int start = h.start;
    const unsigned char *author = h.author, *prev = h.prev, *kind = h.kind;
    uint64_t seq = h.seq, ts = h.ts, kind_len = h.kind_len;
    PyObject *kind_str = PyUnicode_DecodeUTF8((const char *)kind, (Py_ssize_t)kind_len, "strict");
    if (kind_str == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            return NULL;
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    /* Not interned: on CPython 3.12 an interned str is immortal, and every stranger's entry
     * would leave its kind in memory for good. */
    return Py_BuildValue(
        "(y#y#y#KNKN)",
        (const char *)raw + start, (Py_ssize_t)(len - 66 - start),
        (const char *)raw + len - 64, (Py_ssize_t)64,
        (const char *)author, (Py_ssize_t)ID_BYTES,
        (unsigned long long)seq,
        prev == NULL ? Py_NewRef(Py_None) : PyBytes_FromStringAndSize((const char *)prev, ID_BYTES),
        (unsigned long long)ts, kind_str);
}

/* The writable plain member `name` of `cls` (a new reference to its descriptor), or NULL
 * with TypeError. */
static PyObject *
slot_of(PyTypeObject *cls, PyObject *name)
{
    PyObject *d = PyUnicode_Check(name) ? PyObject_GetAttr((PyObject *)cls, name) : NULL;
    if (d != NULL && Py_IS_TYPE(d, &PyMemberDescr_Type)
            && PyType_IsSubtype(cls, PyDescr_TYPE(d))
            && ((PyMemberDescrObject *)d)->d_member->type == T_OBJECT_EX
            && !(((PyMemberDescrObject *)d)->d_member->flags & READONLY))
        return d;
    if (d == NULL && PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_AttributeError))
        return NULL;
    Py_XDECREF(d);
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "%R is not a writable slot of %s", name, cls->tp_name);
    return NULL;
}

typedef struct {
    PyObject_HEAD
    PyTypeObject *cls;
    PyObject *descrs;  /* a tuple of the member descriptors, kept alive for `members` */
    Py_ssize_t n;
    PyMemberDef **members;
    vectorcallfunc vectorcall;
    int track;  /* 0: the objects made are left out of the cyclic collector's walks */
} Maker;

static void
maker_dealloc(Maker *m)
{
    PyObject_GC_UnTrack(m);
    Py_CLEAR(m->cls);
    Py_CLEAR(m->descrs);
    PyMem_Free(m->members);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static int
maker_traverse(Maker *m, visitproc visit, void *arg)
{
    Py_VISIT(m->cls);
    Py_VISIT(m->descrs);
    return 0;
}

static PyObject *
maker_call(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Maker *m = (Maker *)self;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != m->n || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0)) {
        PyErr_Format(PyExc_TypeError, "this maker of %s takes %zd positional arguments",
                     m->cls->tp_name, m->n);
        return NULL;
    }
    PyObject *obj = m->cls->tp_alloc(m->cls, 0);
    if (obj == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < nargs; i++) {
        /* A fresh object: every slot is NULL, nothing to release. */
        PyObject **slot = (PyObject **)((char *)obj + m->members[i]->offset);
        *slot = Py_NewRef(args[i]);
    }
    if (!m->track)
        PyObject_GC_UnTrack(obj);
    return obj;
}

static PyTypeObject MakerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "trustnet._canonical.Maker",
    .tp_basicsize = sizeof(Maker),
    .tp_dealloc = (destructor)maker_dealloc,
    .tp_vectorcall_offset = offsetof(Maker, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_traverse = (traverseproc)maker_traverse,
    .tp_doc = "Makes an object of one class with chosen slots set (trustnet._canonical.maker).",
};

static PyObject *
maker(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 2 || nargs > 3 || !PyType_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError,
                        "maker(cls, names, track=True) takes a class, a tuple of str, a bool");
        return NULL;
    }
    int track = nargs < 3 ? 1 : PyObject_IsTrue(args[2]);
    if (track < 0)
        return NULL;
    PyTypeObject *cls = (PyTypeObject *)args[0];
    PyObject *names = args[1];
    if (cls->tp_new != PyBaseObject_Type.tp_new || cls->tp_alloc == NULL
            || (cls->tp_flags & Py_TPFLAGS_IS_ABSTRACT) || (!track && !PyType_IS_GC(cls))) {
        PyErr_Format(PyExc_TypeError, "%s is not made by object.__new__%s", cls->tp_name,
                     track ? "" : " as an object the collector tracks");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    PyObject *descrs = PyTuple_New(n);
    if (descrs == NULL)
        return NULL;
    PyMemberDef **members = PyMem_Calloc(n > 0 ? (size_t)n : 1, sizeof(PyMemberDef *));
    if (members == NULL) {
        Py_DECREF(descrs);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        PyObject *d = slot_of(cls, name);
        if (d == NULL) {
            Py_DECREF(descrs);
            PyMem_Free(members);
            return NULL;
        }
        for (Py_ssize_t j = 0; j < i; j++) {
            if (members[j] == ((PyMemberDescrObject *)d)->d_member) {
                PyErr_Format(PyExc_TypeError, "slot %R named twice", name);
                Py_DECREF(d);
                Py_DECREF(descrs);
                PyMem_Free(members);
                return NULL;
            }
        }
        members[i] = ((PyMemberDescrObject *)d)->d_member;
        PyTuple_SET_ITEM(descrs, i, d);
    }
    Maker *m = PyObject_GC_New(Maker, &MakerType);
    if (m == NULL) {
        Py_DECREF(descrs);
        PyMem_Free(members);
        return NULL;
    }
    m->cls = (PyTypeObject *)Py_NewRef((PyObject *)cls);
    m->descrs = descrs;
    m->n = n;
    m->members = members;
    m->vectorcall = maker_call;
    m->track = track;
    PyObject_GC_Track(m);
    return (PyObject *)m;
}

typedef struct {
    PyObject_HEAD
    PyMemberDef *source;  /* the bytes slot */
    PyMemberDef *cache;   /* the str-or-None slot the hex is kept in */
    PyObject *descrs;     /* both member descriptors, kept alive for the two pointers */
    PyTypeObject *owner;
    int intern;
} HexOf;

static void
hexof_dealloc(HexOf *h)
{
    PyObject_GC_UnTrack(h);
    Py_CLEAR(h->descrs);
    Py_CLEAR(h->owner);
    Py_TYPE(h)->tp_free((PyObject *)h);
}

static int
hexof_traverse(HexOf *h, visitproc visit, void *arg)
{
    Py_VISIT(h->descrs);
    Py_VISIT(h->owner);
    return 0;
}

static PyObject *
hexof_get(PyObject *self, PyObject *obj, PyObject *type)
{
    HexOf *h = (HexOf *)self;
    if (obj == NULL || obj == Py_None)
        return Py_NewRef(self);
    if (!PyObject_TypeCheck(obj, h->owner)) {
        PyErr_Format(PyExc_TypeError, "descriptor for %s applied to a %s", h->owner->tp_name,
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    PyObject **cache = (PyObject **)((char *)obj + h->cache->offset);
    if (*cache != NULL && *cache != Py_None)
        return Py_NewRef(*cache);
    PyObject *source = *(PyObject **)((char *)obj + h->source->offset);
    if (source == NULL || !PyBytes_Check(source)) {
        PyErr_SetString(PyExc_AttributeError, "no bytes to show as hex");
        return NULL;
    }
    static const char digits[] = "0123456789abcdef";
    Py_ssize_t n = PyBytes_GET_SIZE(source);
    const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(source);
    PyObject *text = PyUnicode_New(2 * n, 127);
    if (text == NULL)
        return NULL;
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(text);
    for (Py_ssize_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    if (h->intern)
        PyUnicode_InternInPlace(&text);
    PyObject *old = *cache;
    *cache = Py_NewRef(text);
    Py_XDECREF(old);
    return text;
}

static int
hexof_set(PyObject *self, PyObject *obj, PyObject *value)
{
    PyErr_SetString(PyExc_AttributeError, "read-only: made from the bytes it shows");
    return -1;
}

static PyTypeObject HexOfType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "trustnet._canonical.HexOf",
    .tp_basicsize = sizeof(HexOf),
    .tp_dealloc = (destructor)hexof_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_traverse = (traverseproc)hexof_traverse,
    .tp_descr_get = hexof_get,
    .tp_descr_set = hexof_set,
    .tp_doc = "A bytes slot shown as lowercase hex, kept in a second slot once made "
              "(trustnet._canonical.hex_of).",
};

static PyObject *
hex_of(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyType_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError,
                        "hex_of(cls, source, cache, intern) takes a class, two slot names, a bool");
        return NULL;
    }
    PyTypeObject *cls = (PyTypeObject *)args[0];
    int intern = PyObject_IsTrue(args[3]);
    if (intern < 0)
        return NULL;
    PyObject *source = slot_of(cls, args[1]);
    if (source == NULL)
        return NULL;
    PyObject *cache = slot_of(cls, args[2]);
    if (cache == NULL) {
        Py_DECREF(source);
        return NULL;
    }
    HexOf *h = PyObject_GC_New(HexOf, &HexOfType);
    if (h == NULL) {
        Py_DECREF(source);
        Py_DECREF(cache);
        return NULL;
    }
    h->source = ((PyMemberDescrObject *)source)->d_member;
    h->cache = ((PyMemberDescrObject *)cache)->d_member;
    h->descrs = PyTuple_Pack(2, source, cache);
    Py_DECREF(source);
    Py_DECREF(cache);
    h->owner = (PyTypeObject *)Py_NewRef((PyObject *)cls);
    h->intern = intern;
    if (h->descrs == NULL) {
        Py_DECREF(h);
        return NULL;
    }
    PyObject_GC_Track(h);
    return (PyObject *)h;
}

/* -- checker: the ingest workers' checks of whole entries ------------------------------------
 *
 * checker(programs, domain, max_bytes, library) -> Checker; Checker.check(raws, keys) -> one
 * status byte per entry: 0 (every check `trustnet.store.workers.check` runs passes), 1 (all
 * pass but the signature) or UNSURE (0x40: not shown here; the worker runs the Python checks,
 * which decide and name the error). As `scan`, it may be unsure of what is valid, never pass
 * what the Python checks refuse (tests/test_checker.py holds the two to each other).
 *
 * An entry passes when `read_header` reads it, seq 1 comes with no prev and any other seq with
 * one, its payload is canonical (`item`) with every str valid UTF-8 (what `decode_fields`
 * shows with `scan` and msgpack's unpacking), its kind has a program and its body passes it,
 * and the signature over `domain` + payload verifies under the key (its author's when the key
 * is None) with libsodium's crypto_sign_ed25519_verify_detached, the function `pynacl` calls
 * under crypto_sign_open, looked up in `library` (already loaded: pynacl's own module).
 *
 * A program is what `trustnet.statements.fastparse.c_programs` writes from the statement
 * records' annotations, the same tests its generated parsers make (only those it accepts),
 * as nested tuples: (BOOL,), (INT, lo, hi), (STR, most code points or -1, flags),
 * (LIT, (bytes, ...)), (OPT, test), (MAP,), (LIST, most items, test), (RECORDS, most items,
 * record), (RECORD, record); a record is a tuple of (name bytes, required, test).
 */

typedef int (*verify_fn)(const unsigned char *sig, const unsigned char *m,
                         unsigned long long mlen, const unsigned char *pk);

enum { OP_BOOL, OP_INT, OP_STR, OP_LIT, OP_OPT, OP_MAP, OP_LIST, OP_RECORDS, OP_RECORD };
#define STR_HEX32 1
#define STR_URL 2
#define UNSURE 0x40
#define MAX_FIELDS 64
#define MAX_NESTING 16

typedef struct node node;

typedef struct {
    const char *name;  /* borrowed from the program, which the checker holds */
    Py_ssize_t len;
    int required;
    node *test;
} field;

struct node {
    int op;
    __int128 lo, hi;          /* INT: lo <= value <= hi */
    long long most;           /* STR: code points; LIST, RECORDS: items (-1: any) */
    int flags;                /* STR */
    Py_ssize_t n;             /* LIT: values; RECORD, RECORDS: fields */
    const char **vals;        /* LIT */
    Py_ssize_t *lens;         /* LIT */
    node *sub;                /* OPT, LIST */
    field *fields;            /* RECORD, RECORDS */
};

static void
node_free(node *t)
{
    if (t == NULL)
        return;
    node_free(t->sub);
    if (t->fields != NULL)
        for (Py_ssize_t i = 0; i < t->n; i++)
            node_free(t->fields[i].test);
    PyMem_Free(t->fields);
    PyMem_Free(t->vals);
    PyMem_Free(t->lens);
    PyMem_Free(t);
}

static int
int128_of(PyObject *o, __int128 *v)
{
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (x == -1 && PyErr_Occurred())
        return 0;
    if (overflow == 0) {
        *v = x;
        return 1;
    }
    if (overflow > 0) {
        unsigned long long u = PyLong_AsUnsignedLongLong(o);
        if (u == (unsigned long long)-1 && PyErr_Occurred())
            return 0;
        *v = u;
        return 1;
    }
    PyErr_SetString(PyExc_OverflowError, "a bound below -2**63");
    return 0;
}

/* libsodium's crypto_sign_ed25519_verify_detached in the library at `path` (a str), which
 * must be loaded already; `*lib` the handle it holds open (dlclose when done). NULL with
 * OSError when it is not there. */
static verify_fn
verifier(PyObject *path, void **lib)
{
    const char *name = PyUnicode_AsUTF8(path);
    if (name == NULL)
        return NULL;
    *lib = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
    verify_fn verify = *lib == NULL ? NULL
        : (verify_fn)dlsym(*lib, "crypto_sign_ed25519_verify_detached");
    if (verify == NULL) {
        if (*lib != NULL)
            dlclose(*lib);
        PyErr_Format(PyExc_OSError, "crypto_sign_ed25519_verify_detached not found in %s "
                     "(a library already loaded)", name);
    }
    return verify;
}

static node *build(PyObject *t, int depth);

static int
build_record(node *r, PyObject *rec, int depth)
{
    if (!PyTuple_Check(rec) || PyTuple_GET_SIZE(rec) > MAX_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "a record is a tuple of at most 64 fields");
        return 0;
    }
    r->n = PyTuple_GET_SIZE(rec);
    r->fields = PyMem_Calloc((size_t)r->n + 1, sizeof(field));
    if (r->fields == NULL) {
        PyErr_NoMemory();
        return 0;
    }
    for (Py_ssize_t i = 0; i < r->n; i++) {
        PyObject *f = PyTuple_GET_ITEM(rec, i);
        if (!PyTuple_Check(f) || PyTuple_GET_SIZE(f) != 3
                || !PyBytes_Check(PyTuple_GET_ITEM(f, 0))) {
            PyErr_SetString(PyExc_ValueError, "a field is (name bytes, required, test)");
            return 0;
        }
        r->fields[i].name = PyBytes_AS_STRING(PyTuple_GET_ITEM(f, 0));
        r->fields[i].len = PyBytes_GET_SIZE(PyTuple_GET_ITEM(f, 0));
        if ((r->fields[i].required = PyObject_IsTrue(PyTuple_GET_ITEM(f, 1))) < 0)
            return 0;
        if ((r->fields[i].test = build(PyTuple_GET_ITEM(f, 2), depth + 1)) == NULL)
            return 0;
    }
    return 1;
}

/* The node of test `t` (a new allocation), or NULL with an exception. */
static node *
build(PyObject *t, int depth)
{
    if (depth > MAX_NESTING || !PyTuple_Check(t) || PyTuple_GET_SIZE(t) < 1) {
        PyErr_SetString(PyExc_ValueError, "a test is a tuple (op, ...), nested 16 deep at most");
        return NULL;
    }
    node *r = PyMem_Calloc(1, sizeof(node));
    if (r == NULL)
        return (node *)PyErr_NoMemory();
    Py_ssize_t size = PyTuple_GET_SIZE(t);
    long op = PyLong_AsLong(PyTuple_GET_ITEM(t, 0));
    r->op = (int)op;
    int ok = 0;
    switch (op) {
    case OP_BOOL: case OP_MAP:
        ok = size == 1;
        break;
    case OP_INT:
        ok = size == 3 && int128_of(PyTuple_GET_ITEM(t, 1), &r->lo)
             && int128_of(PyTuple_GET_ITEM(t, 2), &r->hi);
        break;
    case OP_STR:
        ok = size == 3;
        if (ok) {
            r->most = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 1));
            r->flags = (int)PyLong_AsLong(PyTuple_GET_ITEM(t, 2));
            ok = !PyErr_Occurred();
        }
        break;
    case OP_LIT: {
        PyObject *vals = size == 2 ? PyTuple_GET_ITEM(t, 1) : NULL;
        if (vals == NULL || !PyTuple_Check(vals))
            break;
        r->n = PyTuple_GET_SIZE(vals);
        r->vals = PyMem_Calloc((size_t)r->n + 1, sizeof(char *));
        r->lens = PyMem_Calloc((size_t)r->n + 1, sizeof(Py_ssize_t));
        if (r->vals == NULL || r->lens == NULL) {
            PyErr_NoMemory();
            break;
        }
        ok = 1;
        for (Py_ssize_t i = 0; i < r->n && ok; i++) {
            PyObject *v = PyTuple_GET_ITEM(vals, i);
            ok = PyBytes_Check(v);
            if (ok) {
                r->vals[i] = PyBytes_AS_STRING(v);
                r->lens[i] = PyBytes_GET_SIZE(v);
            }
        }
        break;
    }
    case OP_OPT:
        ok = size == 2 && (r->sub = build(PyTuple_GET_ITEM(t, 1), depth + 1)) != NULL;
        break;
    case OP_LIST:
        ok = size == 3 && (r->most = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 1)), !PyErr_Occurred())
             && (r->sub = build(PyTuple_GET_ITEM(t, 2), depth + 1)) != NULL;
        break;
    case OP_RECORDS:
        ok = size == 3 && (r->most = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 1)), !PyErr_Occurred())
             && build_record(r, PyTuple_GET_ITEM(t, 2), depth);
        break;
    case OP_RECORD:
        ok = size == 2 && build_record(r, PyTuple_GET_ITEM(t, 1), depth);
        break;
    default:
        break;
    }
    if (!ok) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_ValueError, "not a test: %R", t);
        node_free(r);
        return NULL;
    }
    return r;
}

/* An int at the cursor (the payload was shown canonical: any form msgpack has). */
static int
int_at(cursor *c, __int128 *v)
{
    if (!has(c, 1))
        return 0;
    unsigned char b = c->p[0];
    if (b <= 0x7f || b >= 0xe0) {
        *v = (int8_t)b;
        if (b <= 0x7f)
            *v = b;
        c->p += 1;
        return 1;
    }
    if (b >= 0xcc && b <= 0xcf) {
        int w = 1 << (b - 0xcc);
        if (!has(c, 1 + (uint64_t)w))
            return 0;
        *v = be(c->p + 1, w);
        c->p += 1 + w;
        return 1;
    }
    if (b >= 0xd0 && b <= 0xd3) {
        int w = 1 << (b - 0xd0);
        if (!has(c, 1 + (uint64_t)w))
            return 0;
        uint64_t u = be(c->p + 1, w);
        *v = w == 1 ? (int8_t)u : w == 2 ? (int16_t)u : w == 4 ? (int32_t)u : (int64_t)u;
        c->p += 1 + w;
        return 1;
    }
    return 0;
}

/* A container's header at the cursor: its count, the cursor past the header. */
static int
count_at(cursor *c, int map, uint64_t *n)
{
    if (!has(c, 1))
        return 0;
    unsigned char b = c->p[0];
    unsigned char fix = map ? 0x80 : 0x90, b16 = map ? 0xde : 0xdc, b32 = map ? 0xdf : 0xdd;
    if ((b & 0xf0) == fix) {
        *n = b & 0x0f;
        c->p += 1;
        return 1;
    }
    int w = b == b16 ? 2 : b == b32 ? 4 : 0;
    if (w == 0 || !has(c, 1 + (uint64_t)w))
        return 0;
    *n = be(c->p + 1, w);
    c->p += 1 + w;
    return 1;
}

static int passes(cursor *c, const node *t);

/* A map at the cursor whose keys are all fields of `r`, each passing its test, and every
 * required field among them (`fastparse`: `names.issuperset(v)`, then field by field). */
static int
record_passes(cursor *c, const node *r)
{
    uint64_t n, seen = 0, required = 0;
    if (!count_at(c, 1, &n))
        return 0;
    for (uint64_t i = 0; i < n; i++) {
        const unsigned char *key;
        uint64_t len;
        if (!str_at(c, &key, &len))
            return 0;
        Py_ssize_t k = 0;
        while (k < r->n && !(r->fields[k].len == (Py_ssize_t)len
                             && memcmp(r->fields[k].name, key, (size_t)len) == 0))
            k++;
        if (k == r->n || (seen >> k) & 1 || !passes(c, r->fields[k].test))
            return 0;
        seen |= 1ULL << k;
    }
    for (Py_ssize_t k = 0; k < r->n; k++)
        if (r->fields[k].required)
            required |= 1ULL << k;
    return (seen & required) == required;
}

/* The value at the cursor passes test `t` (the cursor then past it). */
static int
passes(cursor *c, const node *t)
{
    if (!has(c, 1))
        return 0;
    unsigned char b = c->p[0];
    switch (t->op) {
    case OP_BOOL:
        c->p += 1;
        return b == 0xc2 || b == 0xc3;
    case OP_INT: {
        __int128 v;
        return int_at(c, &v) && t->lo <= v && v <= t->hi;
    }
    case OP_STR: {
        const unsigned char *s;
        uint64_t len, points = 0;
        if (!str_at(c, &s, &len))
            return 0;
        if (t->flags & STR_HEX32) {
            if (len != 64)
                return 0;
            for (uint64_t i = 0; i < len; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                    return 0;
        }
        if ((t->flags & STR_URL)
                && !(len >= 7 && memcmp(s, "http://", 7) == 0)
                && !(len >= 8 && memcmp(s, "https://", 8) == 0))
            return 0;
        if (t->most >= 0 && len > (uint64_t)t->most) {
            for (uint64_t i = 0; i < len; i++)  /* valid UTF-8: count the first bytes */
                points += (s[i] & 0xc0) != 0x80;
            return points <= (uint64_t)t->most;
        }
        return 1;
    }
    case OP_LIT: {
        const unsigned char *s;
        uint64_t len;
        if (!str_at(c, &s, &len))
            return 0;
        for (Py_ssize_t i = 0; i < t->n; i++)
            if (t->lens[i] == (Py_ssize_t)len && memcmp(t->vals[i], s, (size_t)len) == 0)
                return 1;
        return 0;
    }
    case OP_OPT:
        if (b == 0xc0) {
            c->p += 1;
            return 1;
        }
        return passes(c, t->sub);
    case OP_MAP:
        return ((b & 0xf0) == 0x80 || b == 0xde || b == 0xdf) && item(c, 0, 0);
    case OP_LIST:
    case OP_RECORDS: {
        uint64_t n;
        if (!count_at(c, 0, &n) || (t->most >= 0 && n > (uint64_t)t->most))
            return 0;
        for (uint64_t i = 0; i < n; i++)
            if (!(t->op == OP_LIST ? passes(c, t->sub) : record_passes(c, t)))
                return 0;
        return 1;
    }
    case OP_RECORD:
        return record_passes(c, t);
    default:
        return 0;
    }
}

typedef struct {
    PyObject_HEAD
    PyObject *programs;  /* a tuple of (kind bytes, program): what the nodes borrow from */
    node **nodes;
    Py_ssize_t n;
    verify_fn verify;
    void *library;  /* the handle `verify` was found through, closed with the checker */
    /* domain + the payload being verified: one buffer for every call, as `check` never
     * lets the GIL go (no two calls run at once; releasing it would need one per call). */
    unsigned char *message;
    Py_ssize_t domain_len, max_bytes;
} Checker;

static void
checker_dealloc(Checker *k)
{
    if (k->nodes != NULL)
        for (Py_ssize_t i = 0; i < k->n; i++)
            node_free(k->nodes[i]);
    PyMem_Free(k->nodes);
    PyMem_Free(k->message);
    Py_XDECREF(k->programs);
    if (k->library != NULL)
        dlclose(k->library);
    PyObject_Free(k);
}

static unsigned char
check_one(Checker *k, PyObject *raw_obj, PyObject *key)
{
    if (!PyBytes_CheckExact(raw_obj) || PyBytes_GET_SIZE(raw_obj) > k->max_bytes)
        return UNSURE;
    const unsigned char *raw = (const unsigned char *)PyBytes_AS_STRING(raw_obj);
    Py_ssize_t len = PyBytes_GET_SIZE(raw_obj);
    header h;
    if (!read_header(raw, len, &h) || (h.seq == 1) != (h.prev == NULL))
        return UNSURE;
    const unsigned char *payload = raw + h.start, *end = raw + len - 66;
    cursor c = {payload, end};
    if (!item(&c, 0, 1) || c.p != end)
        return UNSURE;
    const node *program = NULL;
    for (Py_ssize_t i = 0; i < k->n && program == NULL; i++) {
        PyObject *kind = PyTuple_GET_ITEM(PyTuple_GET_ITEM(k->programs, i), 0);
        if (PyBytes_GET_SIZE(kind) == (Py_ssize_t)h.kind_len
                && memcmp(PyBytes_AS_STRING(kind), h.kind, (size_t)h.kind_len) == 0)
            program = k->nodes[i];
    }
    cursor body = {h.body, end};
    if (program == NULL || !passes(&body, program) || body.p != end)
        return UNSURE;
    const unsigned char *pk = h.author;
    if (key != Py_None) {
        if (!PyBytes_CheckExact(key) || PyBytes_GET_SIZE(key) != ID_BYTES)
            return UNSURE;
        pk = (const unsigned char *)PyBytes_AS_STRING(key);
    }
    memcpy(k->message + k->domain_len, payload, (size_t)(end - payload));
    return k->verify(raw + len - 64, k->message,
                     (unsigned long long)(k->domain_len + (end - payload)), pk) == 0 ? 0 : 1;
}

static PyObject *
checker_check(Checker *k, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_CheckExact(args[0]) || !PyList_CheckExact(args[1])
            || PyList_GET_SIZE(args[0]) != PyList_GET_SIZE(args[1])) {
        PyErr_SetString(PyExc_TypeError, "check(raws, keys) takes two lists of one length");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(args[0]);
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (out == NULL)
        return NULL;
    unsigned char *statuses = (unsigned char *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++)
        statuses[i] = check_one(k, PyList_GET_ITEM(args[0], i), PyList_GET_ITEM(args[1], i));
    return out;
}

static PyMethodDef checker_methods[] = {
    {"check", (PyCFunction)(void (*)(void))checker_check, METH_FASTCALL,
     "check(raws, keys) -> a status byte per entry: 0 every check passes, 1 all but the "
     "signature, 0x40 not shown here (the Python checks decide)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CheckerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "trustnet._canonical.Checker",
    .tp_basicsize = sizeof(Checker),
    .tp_dealloc = (destructor)checker_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_methods = checker_methods,
    .tp_doc = "The ingest workers' checks of whole entries (checker()).",
};

static PyObject *
checker(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyDict_Check(args[0]) || !PyBytes_Check(args[1])
            || !PyLong_Check(args[2]) || !PyUnicode_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "checker(programs, domain, max_bytes, library) takes a dict, bytes, an "
                        "int and a path");
        return NULL;
    }
    Py_ssize_t max_bytes = PyLong_AsSsize_t(args[2]);
    if (max_bytes < 0 || max_bytes > (1 << 30)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "max_bytes is 0 to 2**30");
        return NULL;
    }
    void *lib;
    verify_fn verify = verifier(args[3], &lib);
    if (verify == NULL)
        return NULL;
    /* The handle stays open while the checker lives: `verify` must outlive it. */
    Checker *k = PyObject_New(Checker, &CheckerType);
    if (k == NULL) {
        dlclose(lib);
        return NULL;
    }
    k->library = lib;
    k->nodes = NULL;
    k->message = NULL;
    k->n = 0;
    k->verify = verify;
    k->domain_len = PyBytes_GET_SIZE(args[1]);
    k->max_bytes = max_bytes;
    PyObject *items = PyDict_Items(args[0]);
    k->programs = items == NULL ? NULL : PySequence_Tuple(items);
    Py_XDECREF(items);
    if (k->programs == NULL)
        goto fail;
    k->n = PyTuple_GET_SIZE(k->programs);
    k->nodes = PyMem_Calloc((size_t)k->n + 1, sizeof(node *));
    k->message = PyMem_Malloc((size_t)(k->domain_len + max_bytes) + 1);
    if (k->nodes == NULL || k->message == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    memcpy(k->message, PyBytes_AS_STRING(args[1]), (size_t)k->domain_len);
    for (Py_ssize_t i = 0; i < k->n; i++) {
        PyObject *pair = PyTuple_GET_ITEM(k->programs, i);
        if (!PyBytes_Check(PyTuple_GET_ITEM(pair, 0))) {
            PyErr_SetString(PyExc_TypeError, "programs are keyed by kind bytes");
            goto fail;
        }
        if ((k->nodes[i] = build(PyTuple_GET_ITEM(pair, 1), 0)) == NULL)
            goto fail;
    }
    return (PyObject *)k;
fail:
    Py_DECREF(k);
    return NULL;
}

/* verify_many(items, library) -> how many of the (sig, message, key) items verify, by
 * crypto_sign_ed25519_verify_detached called from here with nothing between two calls: the
 * benchmarks' strictest single-core baseline (`trustnet.bench.ingest.raw_verify_c_rate`). */
static PyObject *
verify_many(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_CheckExact(args[0]) || !PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "verify_many(items, library) takes a list and a path");
        return NULL;
    }
    void *lib;
    verify_fn verify = verifier(args[1], &lib);
    if (verify == NULL)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(args[0]), good = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PyList_GET_ITEM(args[0], i);
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 3 || !PyBytes_Check(PyTuple_GET_ITEM(t, 0))
                || PyBytes_GET_SIZE(PyTuple_GET_ITEM(t, 0)) != 64
                || !PyBytes_Check(PyTuple_GET_ITEM(t, 1)) || !PyBytes_Check(PyTuple_GET_ITEM(t, 2))
                || PyBytes_GET_SIZE(PyTuple_GET_ITEM(t, 2)) != ID_BYTES) {
            PyErr_SetString(PyExc_TypeError, "an item is (64-byte sig, message, 32-byte key)");
            dlclose(lib);
            return NULL;
        }
        PyObject *m = PyTuple_GET_ITEM(t, 1);
        good += verify((const unsigned char *)PyBytes_AS_STRING(PyTuple_GET_ITEM(t, 0)),
                       (const unsigned char *)PyBytes_AS_STRING(m),
                       (unsigned long long)PyBytes_GET_SIZE(m),
                       (const unsigned char *)PyBytes_AS_STRING(PyTuple_GET_ITEM(t, 2))) == 0;
    }
    dlclose(lib);
    return PyLong_FromSsize_t(good);
}

static PyMethodDef methods[] = {
    {"author", author, METH_O,
     "author(raw) -> the author a raw entry names, read as head() reads it (its kind's text "
     "not checked), or None when it has not that shape."},
    {"hex_of", (PyCFunction)(void (*)(void))hex_of, METH_FASTCALL,
     "hex_of(cls, source, cache, intern) -> a descriptor: the bytes slot `source` as lowercase "
     "hex, made when first read and kept in the slot `cache` (interned with `intern`)."},
    {"maker", (PyCFunction)(void (*)(void))maker, METH_FASTCALL,
     "maker(cls, names, track=True) -> a callable making an object of cls with the named slots "
     "set, one "
     "positional argument each (object.__new__ and one __set__ per slot, in one call)."},
    {"head", head, METH_O,
     "head(raw) -> (payload, sig, author, seq, prev, ts, kind) | None: a raw entry's envelope "
     "and the payload's fields before the body, in their shortest forms; None otherwise."},
    {"checker", (PyCFunction)(void (*)(void))checker, METH_FASTCALL,
     "checker(programs, domain, max_bytes, library) -> a Checker of whole entries for the "
     "ingest workers (see the module's source)."},
    {"verify_many", (PyCFunction)(void (*)(void))verify_many, METH_FASTCALL,
     "verify_many(items, library) -> how many (sig, message, key) items verify, each by "
     "libsodium's crypto_sign_ed25519_verify_detached called from C."},
    {"scan", scan, METH_O,
     "scan(data) -> bool: whether data is one minimally encoded msgpack value of the kinds an "
     "entry may hold (False: not shown here; the Python checks decide)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "trustnet._canonical",
    "The canonical-encoding check of entry payloads, compiled (see trustnet/log/entry.py).",
    -1, methods,
};

PyMODINIT_FUNC
PyInit__canonical(void)
{
    if (PyType_Ready(&MakerType) < 0 || PyType_Ready(&HexOfType) < 0
            || PyType_Ready(&CheckerType) < 0)
        return NULL;
    return PyModule_Create(&module);
}
