/* Canonical encoding (CE, PROTOCOL §1) in C: the encoder and the strict decoder that
 * ledger/encoding.py otherwise runs as a Python walk around msgpack.
 *
 * Why: a validator encodes ~5 values and strictly decodes ~1.3 per transaction (receipts,
 * state values, events, the transaction itself). The Python encoder walks each value once
 * to sort maps and check types and then hands it to msgpack; the strict decoder unpacks,
 * walks the result to check key order and types, and packs it again to compare bytes. In
 * the hot path's profile that was ~12 % of a validator's main thread. Here each direction
 * is one pass over the value or the bytes.
 *
 * The bytes are msgpack-python's with use_bin_type=True, which is what CE is: integers in
 * their shortest form (non-negative ones as fixint or uint, negative ones as fixint or
 * int), text as str (fixstr, str8, str16, str32), bytes as bin, maps with text keys sorted
 * by code point (= by UTF-8 bytes), arrays and maps with their shortest headers. The
 * decoder accepts exactly the bytes the encoder produces and nothing else: any other
 * header, a longer form than needed, keys unsorted or repeated, a non-text key, a float or
 * an ext type, malformed UTF-8, truncation, trailing bytes. Both directions refuse
 * containers nested deeper than their bound (the encoder's is MAX_CE_DEPTH, the decoder's
 * is its caller's) with ledger.encoding.TooDeep, and everything else with EncodingError;
 * ledger/encoding.py hands both classes over once with bind().
 *
 * Which types encode, exactly as ledger/encoding.py's _canonical: None, bool, int (and
 * subclasses such as IntEnum, as their int value) in [-2^63, 2^64 - 1], str and bytes
 * (exact types), bytearray and memoryview (as bytes), list and tuple (exact), dict (exact,
 * text keys). The pure-Python path stays and gives the same bytes; tests/test_ce_native.py
 * checks the two against each other and against the vectors. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static PyObject *EncodingError; /* ledger.errors.EncodingError, from bind() */
static PyObject *TooDeep;       /* ledger.encoding.TooDeep, from bind() */
static int encode_depth = 0;    /* MAX_CE_DEPTH, from bind() */

/* ---------------------------------------------------------------------------------------
 * Output buffer: starts on the stack, moves to the heap when a value outgrows it. */

#define SMALL_OUT 1024

typedef struct {
    unsigned char *buf;
    Py_ssize_t len, cap;
    unsigned char small[SMALL_OUT];
} out_t;

static int grow(out_t *o, Py_ssize_t need) {
    Py_ssize_t cap = o->cap;
    while (cap - o->len < need) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    unsigned char *b;
    if (o->buf == o->small) {
        b = PyMem_Malloc((size_t)cap);
        if (b != NULL) memcpy(b, o->small, (size_t)o->len);
    } else {
        b = PyMem_Realloc(o->buf, (size_t)cap);
    }
    if (b == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    o->buf = b;
    o->cap = cap;
    return 0;
}

static inline int reserve(out_t *o, Py_ssize_t n) {
    return (o->cap - o->len >= n) ? 0 : grow(o, n);
}

static inline void put1(out_t *o, unsigned v) { o->buf[o->len++] = (unsigned char)v; }

static inline void put_be(out_t *o, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; i--) o->buf[o->len++] = (unsigned char)(v >> (8 * i));
}

/* A header: the fixed form below fix_limit (tag | n), else the 8-, 16- or 32-bit length
 * forms (tag8 may be 0: no 8-bit form, as for arrays and maps). */
static int put_header(out_t *o, uint64_t n, unsigned fix_tag, uint64_t fix_limit,
                      unsigned tag8, unsigned tag16, unsigned tag32) {
    if (reserve(o, 5) < 0) return -1;
    if (n < fix_limit) {
        put1(o, fix_tag | (unsigned)n);
    } else if (tag8 && n < 0x100) {
        put1(o, tag8);
        put_be(o, n, 1);
    } else if (n < 0x10000) {
        put1(o, tag16);
        put_be(o, n, 2);
    } else if (n <= 0xffffffffULL) {
        put1(o, tag32);
        put_be(o, n, 4);
    } else {
        PyErr_SetString(EncodingError, "cannot encode: a value longer than 2^32 - 1");
        return -1;
    }
    return 0;
}

static int put_raw(out_t *o, const void *p, Py_ssize_t n) {
    if (reserve(o, n) < 0) return -1;
    memcpy(o->buf + o->len, p, (size_t)n);
    o->len += n;
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Encoder */

static int enc(out_t *o, PyObject *v, int room);

static int enc_int(out_t *o, PyObject *v) {
    int overflow = 0;
    long long s = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (s == -1 && PyErr_Occurred()) return -1;
    if (reserve(o, 9) < 0) return -1;
    if (overflow == 0 && s < 0) {
        if (s >= -32) {
            put1(o, (unsigned)(s & 0xff));
        } else if (s >= -128) {
            put1(o, 0xd0);
            put_be(o, (uint64_t)s, 1);
        } else if (s >= -32768) {
            put1(o, 0xd1);
            put_be(o, (uint64_t)s, 2);
        } else if (s >= -2147483648LL) {
            put1(o, 0xd2);
            put_be(o, (uint64_t)s, 4);
        } else {
            put1(o, 0xd3);
            put_be(o, (uint64_t)s, 8);
        }
        return 0;
    }
    uint64_t u;
    if (overflow == 0) {
        u = (uint64_t)s;
    } else {
        u = (overflow > 0) ? PyLong_AsUnsignedLongLong(v) : (uint64_t)-1;
        if (overflow < 0 || (u == (uint64_t)-1 && PyErr_Occurred())) {
            PyErr_Clear();
            PyErr_Format(EncodingError, "integer out of the 64-bit range: %S", v);
            return -1;
        }
    }
    if (u < 0x80) {
        put1(o, (unsigned)u);
    } else if (u < 0x100) {
        put1(o, 0xcc);
        put_be(o, u, 1);
    } else if (u < 0x10000) {
        put1(o, 0xcd);
        put_be(o, u, 2);
    } else if (u <= 0xffffffffULL) {
        put1(o, 0xce);
        put_be(o, u, 4);
    } else {
        put1(o, 0xcf);
        put_be(o, u, 8);
    }
    return 0;
}

static int enc_str(out_t *o, PyObject *v) {
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(v, &n);
    if (p == NULL) { /* a lone surrogate */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_Format(EncodingError, "cannot encode: %S", value ? value : Py_None);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return -1;
    }
    if (put_header(o, (uint64_t)n, 0xa0, 32, 0xd9, 0xda, 0xdb) < 0) return -1;
    return put_raw(o, p, n);
}

static int enc_bytes(out_t *o, const char *p, Py_ssize_t n) {
    if (put_header(o, (uint64_t)n, 0, 0, 0xc4, 0xc5, 0xc6) < 0) return -1;
    return put_raw(o, p, n);
}

static int too_deep(int depth) {
    PyErr_Format(TooDeep, "value nested deeper than %d levels", depth);
    return -1;
}

static int enc_dict(out_t *o, PyObject *v, int room) {
    PyObject *keys = PyDict_Keys(v);
    if (keys == NULL) return -1;
    Py_ssize_t n = PyList_GET_SIZE(keys);
    int rc = -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyList_GET_ITEM(keys, i);
        if (!PyUnicode_CheckExact(k)) {
            PyErr_Format(EncodingError, "map key is not text: %R", k);
            goto done;
        }
    }
    /* Code point order is UTF-8 byte order, so the keys sort as text. */
    if (PyList_Sort(keys) < 0) goto done;
    if (put_header(o, (uint64_t)n, 0x80, 16, 0, 0xde, 0xdf) < 0) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyList_GET_ITEM(keys, i);
        if (enc_str(o, k) < 0) goto done;
        PyObject *item = PyDict_GetItemWithError(v, k);
        if (item == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(EncodingError, "cannot encode: a map changed while encoding");
            goto done;
        }
        Py_INCREF(item);
        int r = enc(o, item, room - 1);
        Py_DECREF(item);
        if (r < 0) goto done;
    }
    rc = 0;
done:
    Py_DECREF(keys);
    return rc;
}

static int enc_items(out_t *o, PyObject *v, Py_ssize_t n, int room) {
    int is_list = PyList_CheckExact(v);
    if (put_header(o, (uint64_t)n, 0x90, 16, 0, 0xdc, 0xdd) < 0) return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        /* Only an int subclass's __index__ runs Python code on the way; a list it shrank
         * would leave the header wrong, so that is refused. */
        if (is_list && PyList_GET_SIZE(v) != n) {
            PyErr_SetString(EncodingError, "cannot encode: a list changed while encoding");
            return -1;
        }
        PyObject *item = is_list ? PyList_GET_ITEM(v, i) : PyTuple_GET_ITEM(v, i);
        Py_INCREF(item);
        int r = enc(o, item, room - 1);
        Py_DECREF(item);
        if (r < 0) return -1;
    }
    return 0;
}

static int enc(out_t *o, PyObject *v, int room) {
    if (PyUnicode_CheckExact(v)) return enc_str(o, v);
    if (PyBytes_CheckExact(v)) return enc_bytes(o, PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v));
    if (v == Py_None) {
        if (reserve(o, 1) < 0) return -1;
        put1(o, 0xc0);
        return 0;
    }
    if (PyBool_Check(v)) {
        if (reserve(o, 1) < 0) return -1;
        put1(o, v == Py_True ? 0xc3 : 0xc2);
        return 0;
    }
    if (PyLong_CheckExact(v)) return enc_int(o, v);
    if (PyDict_CheckExact(v)) {
        if (room <= 0) return too_deep(encode_depth);
        return enc_dict(o, v, room);
    }
    if (PyList_CheckExact(v) || PyTuple_CheckExact(v)) {
        if (room <= 0) return too_deep(encode_depth);
        /* The bound keeps the C stack shallow: no recursion guard is needed. */
        return enc_items(o, v, Py_SIZE(v), room);
    }
    if (PyLong_Check(v)) { /* an int subclass such as IntEnum: its int value */
        PyObject *i = PyNumber_Long(v);
        if (i == NULL) return -1;
        int r = enc_int(o, i);
        Py_DECREF(i);
        return r;
    }
    if (PyByteArray_Check(v) || PyMemoryView_Check(v)) {
        PyObject *b = PyBytes_FromObject(v);
        if (b == NULL) return -1;
        int r = enc_bytes(o, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
        Py_DECREF(b);
        return r;
    }
    PyObject *name = PyType_GetName(Py_TYPE(v));
    if (name == NULL) return -1;
    PyErr_Format(EncodingError, "type %U has no canonical encoding", name);
    Py_DECREF(name);
    return -1;
}

static int check_bound(void) {
    if (EncodingError == NULL || TooDeep == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ledger._ce_native: bind() was not called");
        return -1;
    }
    return 0;
}

static PyObject *py_encode(PyObject *self, PyObject *value) {
    (void)self;
    if (check_bound() < 0) return NULL;
    out_t o;
    o.buf = o.small;
    o.len = 0;
    o.cap = SMALL_OUT;
    PyObject *result = NULL;
    if (enc(&o, value, encode_depth) == 0)
        result = PyBytes_FromStringAndSize((const char *)o.buf, o.len);
    if (o.buf != o.small) PyMem_Free(o.buf);
    return result;
}

/* ---------------------------------------------------------------------------------------
 * Strict decoder */

typedef struct {
    const unsigned char *p, *end;
    int depth; /* the caller's bound, for TooDeep's message */
} in_t;

static PyObject *malformed(const char *what) {
    PyErr_Format(EncodingError, "malformed encoding: %s", what);
    return NULL;
}

static PyObject *not_canonical(void) {
    PyErr_SetString(EncodingError, "encoding is not canonical");
    return NULL;
}

static inline int take(in_t *in, Py_ssize_t n, const unsigned char **at) {
    if (in->end - in->p < n) return -1;
    *at = in->p;
    in->p += n;
    return 0;
}

static inline uint64_t be(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = (v << 8) | p[i];
    return v;
}

/* The length after a str/bin/array/map tag of `bytes` bytes, refused unless it needed
 * that form (at least `least`). */
static int length(in_t *in, int bytes, uint64_t least, uint64_t *n) {
    const unsigned char *at;
    if (take(in, bytes, &at) < 0) {
        malformed("truncated");
        return -1;
    }
    *n = be(at, bytes);
    if (*n < least) {
        not_canonical();
        return -1;
    }
    return 0;
}

/* A str header at in->p: its length in *n, or -1 with EncodingError set (or 1, nothing
 * set, when the byte there is not a str header at all). */
static int str_header(in_t *in, uint64_t *n) {
    if (in->p >= in->end) {
        malformed("truncated");
        return -1;
    }
    unsigned c = *in->p;
    if ((c & 0xe0) == 0xa0) {
        in->p++;
        *n = c & 0x1f;
        return 0;
    }
    if (c == 0xd9 || c == 0xda || c == 0xdb) {
        in->p++;
        if (c == 0xd9) return length(in, 1, 32, n);
        if (c == 0xda) return length(in, 2, 0x100, n);
        return length(in, 4, 0x10000, n);
    }
    return 1;
}

static PyObject *text(in_t *in, uint64_t n) {
    if ((uint64_t)(in->end - in->p) < n) return malformed("truncated");
    const unsigned char *at = in->p;
    in->p += n;
    PyObject *s = PyUnicode_DecodeUTF8((const char *)at, (Py_ssize_t)n, "strict");
    if (s == NULL) {
        PyErr_Clear();
        return malformed("text is not UTF-8");
    }
    return s;
}

static PyObject *dec(in_t *in, int room);

static PyObject *dec_array(in_t *in, uint64_t n, int room) {
    if (room <= 0) {
        too_deep(in->depth);
        return NULL;
    }
    /* Every element takes at least one byte: a count beyond what is left is truncated. */
    if (n > (uint64_t)(in->end - in->p)) return malformed("truncated");
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (list == NULL) return NULL;
    for (Py_ssize_t i = 0; i < (Py_ssize_t)n; i++) {
        PyObject *item = dec(in, room - 1);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

static PyObject *dec_map(in_t *in, uint64_t n, int room) {
    if (room <= 0) {
        too_deep(in->depth);
        return NULL;
    }
    if (n > (uint64_t)(in->end - in->p) / 2) return malformed("truncated");
    PyObject *map = PyDict_New();
    if (map == NULL) return NULL;
    const unsigned char *prev = NULL;
    uint64_t prev_len = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t klen;
        int r = str_header(in, &klen);
        if (r != 0) {
            if (r > 0) PyErr_SetString(EncodingError, "map key is not text");
            goto fail;
        }
        const unsigned char *kbytes = in->p;
        PyObject *k = text(in, klen);
        if (k == NULL) goto fail;
        if (prev != NULL) {
            /* Strictly increasing UTF-8 bytes: sorted, and no key repeated. */
            uint64_t common = prev_len < klen ? prev_len : klen;
            int c = memcmp(prev, kbytes, (size_t)common);
            if (c > 0 || (c == 0 && prev_len >= klen)) {
                Py_DECREF(k);
                not_canonical();
                goto fail;
            }
        }
        prev = kbytes;
        prev_len = klen;
        PyUnicode_InternInPlace(&k);
        PyObject *v = dec(in, room - 1);
        if (v == NULL) {
            Py_DECREF(k);
            goto fail;
        }
        r = PyDict_SetItem(map, k, v);
        Py_DECREF(k);
        Py_DECREF(v);
        if (r < 0) goto fail;
    }
    return map;
fail:
    Py_DECREF(map);
    return NULL;
}

static PyObject *dec_int(in_t *in, unsigned c) {
    const unsigned char *at;
    int bytes = 1 << ((c - 0xcc) & 3); /* cc..cf and d0..d3: 1, 2, 4, 8 */
    if (take(in, bytes, &at) < 0) return malformed("truncated");
    uint64_t u = be(at, bytes);
    if (c <= 0xcf) { /* uint: only where a shorter form would not hold it */
        static const uint64_t least[4] = {0x80, 0x100, 0x10000, 0x100000000ULL};
        if (u < least[c - 0xcc]) return not_canonical();
        return PyLong_FromUnsignedLongLong(u);
    }
    /* int: only for negative values beyond the shorter form's range */
    int shift = 64 - 8 * bytes;
    int64_t s = (int64_t)(u << shift) >> shift;
    static const int64_t above[4] = {-32, -128, -32768, -2147483648LL};
    if (s >= above[c - 0xd0]) return not_canonical();
    return PyLong_FromLongLong(s);
}

static PyObject *dec(in_t *in, int room) {
    if (in->p >= in->end) return malformed("truncated");
    unsigned c = *in->p;
    if (c <= 0x7f) {
        in->p++;
        return PyLong_FromLong((long)c);
    }
    if (c >= 0xe0) {
        in->p++;
        return PyLong_FromLong((long)c - 256);
    }
    uint64_t n;
    if ((c & 0xe0) == 0xa0 || c == 0xd9 || c == 0xda || c == 0xdb) {
        if (str_header(in, &n) != 0) return NULL;
        return text(in, n);
    }
    in->p++;
    if ((c & 0xf0) == 0x90) return dec_array(in, c & 0x0f, room);
    if ((c & 0xf0) == 0x80) return dec_map(in, c & 0x0f, room);
    switch (c) {
    case 0xc0:
        Py_RETURN_NONE;
    case 0xc2:
        Py_RETURN_FALSE;
    case 0xc3:
        Py_RETURN_TRUE;
    case 0xc4:
    case 0xc5:
    case 0xc6: {
        static const uint64_t least[3] = {0, 0x100, 0x10000};
        int bytes = 1 << (c - 0xc4);
        if (length(in, bytes, least[c - 0xc4], &n) < 0) return NULL;
        if ((uint64_t)(in->end - in->p) < n) return malformed("truncated");
        const unsigned char *at = in->p;
        in->p += n;
        return PyBytes_FromStringAndSize((const char *)at, (Py_ssize_t)n);
    }
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3:
        return dec_int(in, c);
    case 0xdc:
    case 0xdd:
        if (length(in, c == 0xdc ? 2 : 4, c == 0xdc ? 16 : 0x10000, &n) < 0) return NULL;
        return dec_array(in, n, room);
    case 0xde:
    case 0xdf:
        if (length(in, c == 0xde ? 2 : 4, c == 0xde ? 16 : 0x10000, &n) < 0) return NULL;
        return dec_map(in, n, room);
    case 0xca:
    case 0xcb:
        PyErr_SetString(EncodingError, "type float has no canonical encoding");
        return NULL;
    case 0xc7:
    case 0xc8:
    case 0xc9:
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        PyErr_SetString(EncodingError, "type ExtType has no canonical encoding");
        return NULL;
    default: /* 0xc1, never used by msgpack */
        return malformed("an unused type byte");
    }
}

static PyObject *py_decode(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer view;
    int max_depth;
    if (check_bound() < 0) return NULL;
    if (!PyArg_ParseTuple(args, "y*i:decode", &view, &max_depth)) return NULL;
    in_t in = {(const unsigned char *)view.buf, (const unsigned char *)view.buf + view.len,
               max_depth};
    PyObject *value = dec(&in, max_depth);
    if (value != NULL && in.p != in.end) {
        Py_DECREF(value);
        value = NULL;
        PyErr_SetString(EncodingError, "trailing bytes after the encoded value");
    }
    PyBuffer_Release(&view);
    return value;
}

static PyObject *py_bind(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *error, *deep;
    int depth;
    if (!PyArg_ParseTuple(args, "OOi:bind", &error, &deep, &depth)) return NULL;
    if (!PyType_Check(error) || !PyType_Check(deep) || depth < 1) {
        PyErr_SetString(PyExc_TypeError, "bind(EncodingError, TooDeep, max_depth >= 1)");
        return NULL;
    }
    Py_INCREF(error);
    Py_INCREF(deep);
    Py_XSETREF(EncodingError, error);
    Py_XSETREF(TooDeep, deep);
    encode_depth = depth;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"encode", py_encode, METH_O,
     "encode(value) -> its CE bytes; EncodingError or TooDeep for what CE cannot carry"},
    {"decode", py_decode, METH_VARARGS,
     "decode(data, max_depth) -> the value of canonical bytes; EncodingError or TooDeep"},
    {"bind", py_bind, METH_VARARGS,
     "bind(EncodingError, TooDeep, max_depth): the errors to raise and the encoder's bound"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "ledger._ce_native",
    "Canonical encoding in C (see ledger/encoding.py).", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__ce_native(void) { return PyModule_Create(&module); }
