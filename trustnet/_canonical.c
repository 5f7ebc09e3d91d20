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

static int
item(cursor *c, int depth)
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
        return str_at(c, &s, &n);
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
            if (!item(c, depth + 1))
                return 0;
        return 1;
    }
    if (n > MAX_KEYS)
        return 0;
    const unsigned char *keys[MAX_KEYS];
    uint64_t lens[MAX_KEYS];
    for (uint64_t i = 0; i < n; i++) {
        if (!str_at(c, &keys[i], &lens[i]))
            return 0;
        for (uint64_t j = 0; j < i; j++)
            if (lens[j] == lens[i] && memcmp(keys[j], keys[i], (size_t)lens[i]) == 0)
                return 0;
        if (!item(c, depth + 1))
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
    int ok = item(&c, 0) && c.p == c.end;
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
    if (PyType_Ready(&MakerType) < 0 || PyType_Ready(&HexOfType) < 0)
        return NULL;
    return PyModule_Create(&module);
}
