/* The state-tree kernel's other entry points: chunk records, the checked-read walk, and
 * tagged hashing (see _smt_native.c for the update and smt_native.py for the interface). */
#include "_smt_kernel.h"

/* ---- chunk records ------------------------------------------------------------------ */

/* An unchanged or new member of a chunk: ``nodes``, else ``pinned``, else ``member``. */
static PyObject *chunk_member(NodeStore *nodes, NodeStore *pinned, PyObject *member,
                              const uint8_t *hash, PyObject *old) {
    PyObject *raw = store_get(nodes, hash);
    if (!raw) raw = store_get(pinned, hash);
    if (raw) {
        Py_INCREF(raw);
    } else {
        PyObject *key = digest_bytes(hash);
        raw = key ? PyObject_CallFunctionObjArgs(member, key, old, NULL) : NULL;
        Py_XDECREF(key);
    }
    if (raw && (!PyBytes_Check(raw) || PyBytes_GET_SIZE(raw) < HINTS_AT)) {
        PyErr_SetString(CorruptStore, "a chunk member is not an inner record");
        Py_CLEAR(raw);
    }
    return raw;
}

/* One chunk record being assembled: its inner records level by level, left to right. */
typedef struct {
    PyObject *top, *old;                  /* borrowed from chunk_tops */
    PyObject *parts[CHUNK_RECORDS_MAX];   /* owned */
    int count, row_start, done;
} Chunk;

/* Chunks are assembled a batch at a time, one level of all of them after the other, so
 * that a level's lookups can be prefetched together (see prefetch_level). */
#define CHUNK_BATCH 256

static const uint8_t *inner_child(PyObject *raw, int side) {
    const uint8_t *p = (const uint8_t *)PyBytes_AS_STRING(raw);
    const uint8_t *child = p + (side ? RIGHT_AT : LEFT_AT);
    if ((p[FLAGS_AT] & (side ? RIGHT_LONE : LEFT_LONE)) || is_zero(child)) return NULL;
    return child;  /* an inner child: a lone key lives in the hint, an empty side is not stored */
}

static void prefetch_row(const Chunk *chunk, const NodeStore *nodes, const NodeStore *pinned) {
    for (int i = chunk->row_start; i < chunk->count; i++) {
        for (int side = 0; side < 2; side++) {
            const uint8_t *child = inner_child(chunk->parts[i], side);
            if (!child) continue;
            store_prefetch(nodes, child);
            store_prefetch(pinned, child);
        }
    }
}

static int extend_row(Chunk *chunk, NodeStore *nodes, NodeStore *pinned, PyObject *member) {
    int row_end = chunk->count;
    for (int i = chunk->row_start; i < row_end; i++) {
        for (int side = 0; side < 2; side++) {
            const uint8_t *child = inner_child(chunk->parts[i], side);
            if (!child) continue;
            PyObject *raw = chunk_member(nodes, pinned, member, child, chunk->old);
            if (!raw) return -1;
            chunk->parts[chunk->count++] = raw;
        }
    }
    chunk->done = chunk->count == row_end;
    chunk->row_start = row_end;
    return 0;
}

static PyObject *join_parts(const Chunk *chunk) {
    Py_ssize_t total = 0;
    for (int i = 0; i < chunk->count; i++) total += PyBytes_GET_SIZE(chunk->parts[i]);
    PyObject *record = PyBytes_FromStringAndSize(NULL, total);
    if (!record) return NULL;
    char *p = PyBytes_AS_STRING(record);
    for (int i = 0; i < chunk->count; i++) {
        memcpy(p, PyBytes_AS_STRING(chunk->parts[i]), (size_t)PyBytes_GET_SIZE(chunk->parts[i]));
        p += PyBytes_GET_SIZE(chunk->parts[i]);
    }
    return record;
}

/* One batch: the tops are in chunks[0..count); their records go into ``records``. */
static int chunk_batch(Chunk *chunks, int count, NodeStore *nodes, NodeStore *pinned,
                       PyObject *member, PyObject *records) {
    int bad = 0;
    for (int level = 1; level < CHUNK_LEVELS && !bad; level++) {
        for (int i = 0; i < count; i++) {
            if (!chunks[i].done) prefetch_row(&chunks[i], nodes, pinned);
        }
        for (int i = 0; i < count && !bad; i++) {
            if (!chunks[i].done) bad = extend_row(&chunks[i], nodes, pinned, member);
        }
    }
    for (int i = 0; i < count && !bad; i++) {
        PyObject *record = join_parts(&chunks[i]);
        bad = !record || PyDict_SetItem(records, chunks[i].top, record);
        Py_XDECREF(record);
    }
    for (int i = 0; i < count; i++) {
        for (int j = 0; j < chunks[i].count; j++) Py_DECREF(chunks[i].parts[j]);
    }
    return bad ? -1 : 0;
}

PyObject *smt_chunk_records(PyObject *self, PyObject *args) {
    PyObject *chunk_tops, *member, *top, *old;
    NodeStore *nodes, *pinned;
    if (!PyArg_ParseTuple(args, "O!O!O!O", &PyDict_Type, &chunk_tops, &NodeStoreType, &nodes,
                          &NodeStoreType, &pinned, &member)) {
        return NULL;
    }
    PyObject *records = PyDict_New();
    Chunk *chunks = PyMem_Calloc(CHUNK_BATCH, sizeof(Chunk));
    int bad = !records || !chunks, count = 0;
    Py_ssize_t pos = 0;
    while (!bad && PyDict_Next(chunk_tops, &pos, &top, &old)) {
        PyObject *top_raw = PyBytes_Check(top) && PyBytes_GET_SIZE(top) == DIGEST
            ? store_get(nodes, (const uint8_t *)PyBytes_AS_STRING(top)) : NULL;
        if (!top_raw || PyBytes_GET_SIZE(top_raw) < HINTS_AT) {
            PyErr_SetString(PyExc_KeyError, "a chunk top is not a new inner record");
            bad = 1;
            break;
        }
        Chunk *chunk = &chunks[count++];
        memset(chunk, 0, sizeof *chunk);
        chunk->top = top;
        chunk->old = old;
        chunk->parts[0] = Py_NewRef(top_raw);
        chunk->count = 1;
        if (count == CHUNK_BATCH) {
            bad = chunk_batch(chunks, count, nodes, pinned, member, records);
            count = 0;
        }
    }
    if (count) bad |= chunk_batch(chunks, count, nodes, pinned, member, records);
    PyMem_Free(chunks);
    if (bad) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        Py_CLEAR(records);
    }
    return records;
}

/* ---- checked reads and hashing ------------------------------------------------------ */

PyObject *smt_find(PyObject *self, PyObject *args) {
    const uint8_t *root, *path;
    Py_ssize_t root_len, path_len;
    PyObject *load;
    NodeStore *pinned;
    int pinned_depth;
    if (!PyArg_ParseTuple(args, "y#y#O!iO", &root, &root_len, &path, &path_len, &NodeStoreType,
                          &pinned, &pinned_depth, &load)) {
        return NULL;
    }
    if (root_len != DIGEST || path_len != DIGEST) {
        PyErr_SetString(PyExc_ValueError, "root and path are 32 bytes");
        return NULL;
    }
    uint8_t node[DIGEST], top[DIGEST];
    memcpy(node, root, DIGEST);
    for (int depth = 0; depth < PATH_BITS; depth++) {
        if (depth % CHUNK_LEVELS == 0) memcpy(top, node, DIGEST);
        PyObject *raw = fetch(pinned, pinned_depth, load, node, depth, top);
        if (!raw) return NULL;
        Ref child[2];
        int bad = parse_inner(raw, node, child);
        Py_DECREF(raw);
        if (bad) return NULL;
        const Ref *next = &child[bit_at(path, depth)];
        if (next->lone) return PyBytes_FromStringAndSize((const char *)next->info, INFO);
        if (is_zero(next->hash)) Py_RETURN_NONE;
        memcpy(node, next->hash, DIGEST);
    }
    PyErr_SetString(CorruptStore, "state tree is deeper than 256 levels");
    return NULL;
}

PyObject *smt_digests(PyObject *self, PyObject *args) {
    int algorithm, tag;
    PyObject *items;
    if (!PyArg_ParseTuple(args, "iiO", &algorithm, &tag, &items)) return NULL;
    PyObject *seq = PySequence_Fast(items, "items must be a sequence of bytes");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    uint8_t prefix = (uint8_t)tag, digest[DIGEST];
    for (Py_ssize_t i = 0; out && i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "items must be bytes");
            Py_CLEAR(out);
            break;
        }
        smt_hash_ctx ctx;
        smt_hash_init(&ctx, algorithm);
        smt_hash_update(&ctx, &prefix, 1);
        smt_hash_update(&ctx, (const uint8_t *)PyBytes_AS_STRING(item),
                        (size_t)PyBytes_GET_SIZE(item));
        smt_hash_final(&ctx, digest);
        PyObject *value = digest_bytes(digest);
        if (!value) Py_CLEAR(out);
        else PyList_SET_ITEM(out, i, value);
    }
    Py_DECREF(seq);
    return out;
}

PyObject *smt_hash_py(PyObject *self, PyObject *args) {
    int algorithm;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "iy*", &algorithm, &data)) return NULL;
    uint8_t digest[DIGEST];
    smt_hash(algorithm, data.buf, (size_t)data.len, digest);
    PyBuffer_Release(&data);
    return digest_bytes(digest);
}

PyObject *smt_sha_ni(PyObject *self, PyObject *unused) {
    return PyBool_FromLong(smt_hash_sha_ni());
}

