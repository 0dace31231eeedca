/* ledger._smt_native: the state-tree kernel of ledger/smt_update.py in C, byte for byte.
 *
 * The same two sweeps as the Python reference (read its docstring first): down, level by
 * level, over the nodes the block's sorted writes touch; up, joining each touched node's
 * two children, the inner ones hashed a level at a time in one tight loop, each level's
 * stored records prefetched before they are read. It returns what the Python kernel
 * returns (new records, chunk tops, superseded and unpinned hashes) in the same order,
 * the new records in a NodeStore (_smt_store.h) where the Python kernel uses a dict, and
 * reads nodes from the pinned NodeStore, else through the same Python fallback, so the
 * tree's storage code is shared by both kernels. Layouts: smt_layout.py.
 *
 * Functions: update, chunk_records, find (as in smt_update.py / smt_native.py), digests
 * (Hd(tag, item) over a list), hash (one digest, for tests), sha_ni (which SHA-256 runs).
 */
#include "_smt_kernel.h"

PyObject *CorruptStore;
static const uint8_t ZERO[DIGEST];

/* A touched node: stored (an old inner node) or virtual (a subtree rebuilt from keys). */
typedef struct {
    int32_t lo, hi;          /* its run of writes */
    uint8_t stored;
    uint8_t has_extra;       /* virtual: keeps the old lone key ``extra`` */
    uint8_t terminal;        /* virtual of at most one key: ``result`` set on the way down */
    uint8_t inner;           /* on the way up: the result is a new inner node */
    uint8_t old[DIGEST];     /* stored: its hash */
    uint8_t top[DIGEST];     /* stored: the top of the chunk that holds it */
    Ref extra;
    int32_t side[2];         /* a touched child's index, or -1: ``kept`` */
    Ref kept[2];
    Ref result;
} Node;

typedef struct {
    Node *v;
    Py_ssize_t len, cap;
} Nodes;

/* The block's writes, sorted by path, and what the sweeps share. */
typedef struct {
    int algorithm;
    Py_ssize_t n;
    uint8_t *paths;          /* n × DIGEST */
    uint8_t *infos;          /* n × INFO */
    uint8_t *live;           /* n: 1 when the write sets a value, 0 when it deletes */
    uint8_t *leaves;         /* n × DIGEST: leaf hashes of the live writes */
    int32_t *live_before;    /* n + 1 */
} Run;

int is_zero(const uint8_t *hash) { return memcmp(hash, ZERO, DIGEST) == 0; }

int bit_at(const uint8_t *path, int depth) {
    return (path[depth >> 3] >> (7 - (depth & 7))) & 1;
}

static Py_ssize_t push(Nodes *nodes) {
    if (nodes->len == nodes->cap) {
        Py_ssize_t cap = nodes->cap ? 2 * nodes->cap : 256;
        Node *grown = PyMem_Realloc(nodes->v, (size_t)cap * sizeof(Node));
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        nodes->v = grown;
        nodes->cap = cap;
    }
    memset(&nodes->v[nodes->len], 0, sizeof(Node));
    return nodes->len++;
}

/* The first index of [lo, hi) whose path has bit ``depth`` set. */
static int32_t split(const Run *run, int32_t lo, int32_t hi, int depth) {
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (bit_at(run->paths + (size_t)mid * DIGEST, depth)) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* Whether an old lone key survives the writes [lo, hi): none of them is its path. */
static int kept(const Run *run, const uint8_t *info, int32_t lo, int32_t hi) {
    int32_t end = hi;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (memcmp(run->paths + (size_t)mid * DIGEST, info, DIGEST) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo == end || memcmp(run->paths + (size_t)lo * DIGEST, info, DIGEST) != 0;
}

/* A rebuilt subtree holding at most one key: its Ref into *out and 1; else 0 (split it). */
static int virtual_ref(const Run *run, const Ref *extra, int32_t lo, int32_t hi, Ref *out) {
    int32_t count = run->live_before[hi] - run->live_before[lo] + (extra != NULL);
    if (count > 1) return 0;
    memset(out, 0, sizeof *out);
    if (count == 0) return 1;
    if (extra) {
        *out = *extra;
        return 1;
    }
    for (int32_t at = lo; at < hi; at++) {
        if (run->live[at]) {
            memcpy(out->hash, run->leaves + (size_t)at * DIGEST, DIGEST);
            memcpy(out->info, run->infos + (size_t)at * INFO, INFO);
            out->lone = 1;
            return 1;
        }
    }
    return 1;  /* unreachable: count says one live write is here */
}

/* One side of a node being split: a kept Ref (-1) or a new touched node's index. */
static Py_ssize_t virtual_side(Nodes *nodes, const Run *run, const Ref *extra, int32_t lo,
                               int32_t hi, Ref *kept_out) {
    Ref done;
    if (virtual_ref(run, extra, lo, hi, &done)) {
        *kept_out = done;
        return -1;
    }
    Ref copy;
    if (extra) copy = *extra;
    Py_ssize_t at = push(nodes);
    if (at < 0) return -2;
    Node *node = &nodes->v[at];
    node->lo = lo;
    node->hi = hi;
    node->has_extra = extra != NULL;
    if (extra) node->extra = copy;
    return at;
}

static Py_ssize_t stored_side(Nodes *nodes, const Run *run, const Ref *child, int32_t lo,
                              int32_t hi, const uint8_t *top, Ref *kept_out) {
    if (lo == hi) {
        *kept_out = *child;
        return -1;
    }
    if (is_zero(child->hash) || child->lone) {
        int keep = child->lone && kept(run, child->info, lo, hi);
        return virtual_side(nodes, run, keep ? child : NULL, lo, hi, kept_out);
    }
    uint8_t top_copy[DIGEST];
    memcpy(top_copy, top ? top : child->hash, DIGEST);
    Py_ssize_t at = push(nodes);
    if (at < 0) return -2;
    Node *node = &nodes->v[at];
    node->stored = 1;
    node->lo = lo;
    node->hi = hi;
    memcpy(node->old, child->hash, DIGEST);
    memcpy(node->top, top_copy, DIGEST);
    return at;
}

PyObject *digest_bytes(const uint8_t *digest) {
    return PyBytes_FromStringAndSize((const char *)digest, DIGEST);
}

PyObject *fetch(NodeStore *pinned, int pinned_depth, PyObject *load, const uint8_t *node,
                int depth, const uint8_t *top) {
    if (depth < pinned_depth) {
        PyObject *raw = store_get(pinned, node);
        if (raw) return Py_NewRef(raw);
    }
    PyObject *key = digest_bytes(node);
    if (!key) return NULL;
    PyObject *top_key = digest_bytes(top);
    PyObject *raw = top_key ? PyObject_CallFunction(load, "OiO", key, depth, top_key) : NULL;
    Py_XDECREF(top_key);
    Py_DECREF(key);
    if (raw && !PyBytes_Check(raw)) {
        PyErr_SetString(PyExc_TypeError, "load must return bytes");
        Py_CLEAR(raw);
    }
    return raw;
}

int parse_inner(PyObject *raw, const uint8_t *node, Ref out[2]) {
    const uint8_t *p = (const uint8_t *)PyBytes_AS_STRING(raw);
    Py_ssize_t len = PyBytes_GET_SIZE(raw);
    if (len < HINTS_AT || p[0] != INNER_TAG || p[FLAGS_AT] > FLAGS_MAX) {
        PyObject *hex = digest_bytes(node);
        PyErr_Format(CorruptStore, "state node %S is a lone key without a hint or malformed",
                     hex ? hex : Py_None);
        Py_XDECREF(hex);
        return -1;
    }
    int flags = p[FLAGS_AT];
    Py_ssize_t need = HINTS_AT + INFO * ((flags & LEFT_LONE) + ((flags & RIGHT_LONE) >> 1));
    if (len < need) {
        PyErr_SetString(CorruptStore, "state node is shorter than its hints");
        return -1;
    }
    const uint8_t *hint = p + HINTS_AT;
    memcpy(out[0].hash, p + LEFT_AT, DIGEST);
    memcpy(out[1].hash, p + RIGHT_AT, DIGEST);
    out[0].lone = (flags & LEFT_LONE) != 0;
    out[1].lone = (flags & RIGHT_LONE) != 0;
    if (out[0].lone) {
        memcpy(out[0].info, hint, INFO);
        hint += INFO;
    }
    if (out[1].lone) memcpy(out[1].info, hint, INFO);
    return 0;
}


/* ---- the run of writes ----------------------------------------------------------------- */

static void run_free(Run *run) {
    PyMem_Free(run->paths);
    PyMem_Free(run->infos);
    PyMem_Free(run->live);
    PyMem_Free(run->leaves);
    PyMem_Free(run->live_before);
}

static int run_init(Run *run, int algorithm, PyObject *paths, PyObject *infos) {
    memset(run, 0, sizeof *run);
    run->algorithm = algorithm;
    if (!PyList_Check(paths) || !PyList_Check(infos) ||
        PyList_GET_SIZE(paths) != PyList_GET_SIZE(infos)) {
        PyErr_SetString(PyExc_TypeError, "paths and infos must be lists of one length");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(paths);
    if (n == 0 || n > INT32_MAX / 2) {
        PyErr_SetString(PyExc_ValueError, "an update needs at least one write");
        return -1;
    }
    run->n = n;
    run->paths = PyMem_Malloc((size_t)n * DIGEST);
    run->infos = PyMem_Calloc((size_t)n, INFO);
    run->live = PyMem_Calloc((size_t)n, 1);
    run->leaves = PyMem_Calloc((size_t)n, DIGEST);
    run->live_before = PyMem_Calloc((size_t)n + 1, sizeof(int32_t));
    if (!run->paths || !run->infos || !run->live || !run->leaves || !run->live_before) {
        PyErr_NoMemory();
        return -1;
    }
    uint8_t preimage[1 + INFO];
    preimage[0] = LEAF_TAG;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *path = PyList_GET_ITEM(paths, i), *info = PyList_GET_ITEM(infos, i);
        if (!PyBytes_Check(path) || PyBytes_GET_SIZE(path) != DIGEST ||
            (info != Py_None && (!PyBytes_Check(info) || PyBytes_GET_SIZE(info) != INFO))) {
            PyErr_SetString(PyExc_TypeError, "a path is 32 bytes, an INFO 64 bytes or None");
            return -1;
        }
        memcpy(run->paths + i * DIGEST, PyBytes_AS_STRING(path), DIGEST);
        run->live_before[i + 1] = run->live_before[i] + (info != Py_None);
        if (info == Py_None) continue;
        run->live[i] = 1;
        memcpy(run->infos + i * INFO, PyBytes_AS_STRING(info), INFO);
        memcpy(preimage + 1, run->infos + i * INFO, INFO);
        smt_hash(algorithm, preimage, sizeof preimage, run->leaves + i * DIGEST);
    }
    return 0;
}

/* ---- down: the touched nodes, level by level ---------------------------------------- */

static int down_stored(Nodes *nodes, const Run *run, Py_ssize_t at, int depth,
                       NodeStore *pinned, int pinned_depth, PyObject *load) {
    Node node = nodes->v[at];
    PyObject *raw = fetch(pinned, pinned_depth, load, node.old, depth, node.top);
    if (!raw) return -1;
    Ref child[2];
    int bad = parse_inner(raw, node.old, child);
    Py_DECREF(raw);
    if (bad) return -1;
    if (depth + 1 >= PATH_BITS) {
        PyErr_SetString(CorruptStore, "state tree inner node below the deepest level");
        return -1;
    }
    int32_t mid = split(run, node.lo, node.hi, depth);
    const uint8_t *child_top = (depth + 1) % CHUNK_LEVELS == 0 ? NULL : node.top;
    Ref kept_ref[2];
    Py_ssize_t left = stored_side(nodes, run, &child[0], node.lo, mid, child_top, &kept_ref[0]);
    if (left < -1) return -1;
    Py_ssize_t right = stored_side(nodes, run, &child[1], mid, node.hi, child_top, &kept_ref[1]);
    if (right < -1) return -1;
    Node *same = &nodes->v[at];
    same->side[0] = (int32_t)left;
    same->side[1] = (int32_t)right;
    same->kept[0] = kept_ref[0];
    same->kept[1] = kept_ref[1];
    return 0;
}

static int down_virtual(Nodes *nodes, const Run *run, Py_ssize_t at, int depth) {
    Node node = nodes->v[at];
    Ref done;
    if (virtual_ref(run, node.has_extra ? &node.extra : NULL, node.lo, node.hi, &done)) {
        nodes->v[at].terminal = 1;
        nodes->v[at].result = done;
        return 0;
    }
    if (depth >= PATH_BITS) {
        PyErr_SetString(CorruptStore, "two state keys share one path");
        return -1;
    }
    int32_t mid = split(run, node.lo, node.hi, depth);
    int right_extra = node.has_extra && bit_at(node.extra.info, depth);
    const Ref *extra = node.has_extra ? &node.extra : NULL;
    Ref kept_ref[2];
    Py_ssize_t left = virtual_side(nodes, run, right_extra ? NULL : extra, node.lo, mid,
                                   &kept_ref[0]);
    if (left < -1) return -1;
    Py_ssize_t right = virtual_side(nodes, run, right_extra ? extra : NULL, mid, node.hi,
                                    &kept_ref[1]);
    if (right < -1) return -1;
    Node *same = &nodes->v[at];
    same->side[0] = (int32_t)left;
    same->side[1] = (int32_t)right;
    same->kept[0] = kept_ref[0];
    same->kept[1] = kept_ref[1];
    return 0;
}

/* Brings a level's stored records into cache before they are read: first every slot, then
 * every record the slots point at, so the misses overlap instead of following each other. */
static void prefetch_level(const Nodes *nodes, Py_ssize_t start, Py_ssize_t end,
                           NodeStore *pinned) {
    for (Py_ssize_t at = start; at < end; at++) {
        if (nodes->v[at].stored) store_prefetch(pinned, nodes->v[at].old);
    }
    for (Py_ssize_t at = start; at < end; at++) {
        if (!nodes->v[at].stored) continue;
        PyObject *raw = store_get(pinned, nodes->v[at].old);
        if (raw) __builtin_prefetch(PyBytes_AS_STRING(raw) + FLAGS_AT);
    }
}

/* Fills ``starts`` (level d holds nodes starts[d] .. starts[d + 1] - 1); returns levels. */
static int down(Nodes *nodes, const Run *run, Py_ssize_t *starts, NodeStore *pinned,
                int pinned_depth, PyObject *load) {
    Py_ssize_t start = 0, end = nodes->len;
    int depth = 0;
    while (start < end) {
        if (depth > PATH_BITS) {
            PyErr_SetString(CorruptStore, "state tree is deeper than 256 levels");
            return -1;
        }
        starts[depth] = start;
        if (depth < pinned_depth) prefetch_level(nodes, start, end, pinned);
        for (Py_ssize_t at = start; at < end; at++) {
            int bad = nodes->v[at].stored
                          ? down_stored(nodes, run, at, depth, pinned, pinned_depth, load)
                          : down_virtual(nodes, run, at, depth);
            if (bad) return -1;
        }
        start = end;
        end = nodes->len;
        depth++;
    }
    starts[depth] = end;
    return depth;
}

/* ---- up: joins, hashed a level at a time -------------------------------------------- */

/* What the up sweep produces; ``old`` and ``deep`` are hashes laid end to end (32 bytes
 * each): the pinned nodes superseded, and the new nodes below the pinned depth. */
typedef struct {
    NodeStore *nodes;
    PyObject *chunk_tops;
    uint8_t *old, *deep;
    Py_ssize_t old_len, deep_len;
} Output;

static const Ref *side_ref(const Nodes *nodes, const Node *node, int side) {
    return node->side[side] >= 0 ? &nodes->v[node->side[side]].result : &node->kept[side];
}

/* The record of a new inner node (preimage, flags, hints) as bytes. */
static PyObject *inner_record(const uint8_t *preimage, const Ref *left, const Ref *right) {
    Py_ssize_t len = HINTS_AT + INFO * (left->lone + right->lone);
    PyObject *raw = PyBytes_FromStringAndSize(NULL, len);
    if (!raw) return NULL;
    uint8_t *p = (uint8_t *)PyBytes_AS_STRING(raw);
    memcpy(p, preimage, PREIMAGE);
    p[FLAGS_AT] = (uint8_t)((left->lone ? LEFT_LONE : 0) | (right->lone ? RIGHT_LONE : 0));
    uint8_t *hint = p + HINTS_AT;
    if (left->lone) {
        memcpy(hint, left->info, INFO);
        hint += INFO;
    }
    if (right->lone) memcpy(hint, right->info, INFO);
    return raw;
}

static int record_node(Output *out, Node *node, const Ref *left, const Ref *right,
                       const uint8_t *preimage, int depth, int pinned_depth) {
    PyObject *raw = inner_record(preimage, left, right);
    int bad = !raw || store_set(out->nodes, node->result.hash, raw);
    if (!bad && depth % CHUNK_LEVELS == 0) {
        PyObject *digest = digest_bytes(node->result.hash);
        PyObject *old = node->stored ? digest_bytes(node->old) : Py_NewRef(Py_None);
        bad = !digest || !old || PyDict_SetItem(out->chunk_tops, digest, old);
        Py_XDECREF(digest);
        Py_XDECREF(old);
    }
    if (!bad && depth >= pinned_depth) {
        memcpy(out->deep + DIGEST * out->deep_len++, node->result.hash, DIGEST);
    }
    Py_XDECREF(raw);
    return bad ? -1 : 0;
}

static int up_level(Nodes *nodes, const Run *run, Py_ssize_t start, Py_ssize_t end, int depth,
                    int pinned_depth, Output *out, uint8_t *preimages, uint8_t *digests) {
    Py_ssize_t inner = 0;
    for (Py_ssize_t at = start; at < end; at++) {
        Node *node = &nodes->v[at];
        if (node->terminal) continue;
        const Ref *left = side_ref(nodes, node, 0), *right = side_ref(nodes, node, 1);
        if (is_zero(left->hash) && (is_zero(right->hash) || right->lone)) {
            node->result = *right;
        } else if (is_zero(right->hash) && left->lone) {
            node->result = *left;
        } else {
            uint8_t *preimage = preimages + inner * PREIMAGE;
            preimage[0] = INNER_TAG;
            memcpy(preimage + LEFT_AT, left->hash, DIGEST);
            memcpy(preimage + RIGHT_AT, right->hash, DIGEST);
            node->inner = 1;
            inner++;
        }
    }
    for (Py_ssize_t i = 0; i < inner; i++) {  /* the level's hashes, in one tight loop */
        smt_hash(run->algorithm, preimages + i * PREIMAGE, PREIMAGE, digests + i * DIGEST);
    }
    Py_ssize_t next = 0;
    for (Py_ssize_t at = start; at < end; at++) {
        Node *node = &nodes->v[at];
        if (node->terminal) continue;
        if (node->inner) {
            memcpy(node->result.hash, digests + next * DIGEST, DIGEST);
            node->result.lone = 0;
            if (record_node(out, node, side_ref(nodes, node, 0), side_ref(nodes, node, 1),
                            preimages + next * PREIMAGE, depth, pinned_depth)) {
                return -1;
            }
            next++;
        }
        if (node->stored && depth < pinned_depth &&
            memcmp(node->result.hash, node->old, DIGEST) != 0) {
            memcpy(out->old + DIGEST * out->old_len++, node->old, DIGEST);
        }
    }
    return 0;
}

static int up(Nodes *nodes, const Run *run, const Py_ssize_t *starts, int levels,
              int pinned_depth, Output *out) {
    Py_ssize_t widest = 1;
    for (int depth = 0; depth < levels; depth++) {
        if (starts[depth + 1] - starts[depth] > widest) widest = starts[depth + 1] - starts[depth];
    }
    uint8_t *preimages = PyMem_Malloc((size_t)widest * PREIMAGE);
    uint8_t *digests = PyMem_Malloc((size_t)widest * DIGEST);
    int bad = !preimages || !digests;
    if (bad) PyErr_NoMemory();
    for (int depth = levels - 1; depth >= 0 && !bad; depth--) {
        bad = up_level(nodes, run, starts[depth], starts[depth + 1], depth, pinned_depth, out,
                       preimages, digests);
    }
    PyMem_Free(preimages);
    PyMem_Free(digests);
    return bad ? -1 : 0;
}

static int root_node(Nodes *nodes, const Run *run, PyObject *root, PyObject *root_info) {
    if (!PyBytes_Check(root) || PyBytes_GET_SIZE(root) != DIGEST ||
        (root_info != Py_None &&
         (!PyBytes_Check(root_info) || PyBytes_GET_SIZE(root_info) != INFO))) {
        PyErr_SetString(PyExc_TypeError, "root is 32 bytes, root_info 64 bytes or None");
        return -1;
    }
    Py_ssize_t at = push(nodes);
    if (at < 0) return -1;
    Node *node = &nodes->v[at];
    node->lo = 0;
    node->hi = (int32_t)run->n;
    const uint8_t *hash = (const uint8_t *)PyBytes_AS_STRING(root);
    if (!is_zero(hash) && root_info == Py_None) {
        node->stored = 1;
        memcpy(node->old, hash, DIGEST);
        memcpy(node->top, hash, DIGEST);
        return 0;
    }
    if (root_info != Py_None) {
        const uint8_t *info = (const uint8_t *)PyBytes_AS_STRING(root_info);
        if (kept(run, info, 0, (int32_t)run->n)) {
            node->has_extra = 1;
            memcpy(node->extra.hash, hash, DIGEST);
            memcpy(node->extra.info, info, INFO);
            node->extra.lone = 1;
        }
    }
    return 0;
}

static PyObject *ref_tuple(const Ref *ref, Output *out) {
    PyObject *info = ref->lone ? PyBytes_FromStringAndSize((const char *)ref->info, INFO)
                               : Py_NewRef(Py_None);
    if (!info) return NULL;
    return Py_BuildValue("(y#NOOy#y#)", (const char *)ref->hash, (Py_ssize_t)DIGEST, info,
                         (PyObject *)out->nodes, out->chunk_tops, (const char *)out->old,
                         DIGEST * out->old_len, (const char *)out->deep,
                         DIGEST * out->deep_len);
}

static PyObject *smt_update(PyObject *self, PyObject *args) {
    int algorithm, pinned_depth;
    PyObject *paths, *infos, *root, *root_info, *load;
    NodeStore *pinned;
    /* About 12 touched nodes a write at 1M keys (fewer in a dense block): one allocation,
     * grown if a deeper tree needs more. Tests pass a tiny hint to exercise the growth. */
    Py_ssize_t expected = -1;
    if (!PyArg_ParseTuple(args, "iO!O!OOO!iO|n", &algorithm, &PyList_Type, &paths, &PyList_Type,
                          &infos, &root, &root_info, &NodeStoreType, &pinned, &pinned_depth,
                          &load, &expected)) {
        return NULL;
    }
    Run run;
    if (expected < 1) expected = 16 * PyList_GET_SIZE(paths) + 64;
    Nodes nodes = {PyMem_Malloc((size_t)expected * sizeof(Node)), 0, expected};
    Output out = {store_new(expected), PyDict_New(), NULL, NULL, 0, 0};
    Py_ssize_t *starts = PyMem_Malloc((PATH_BITS + 2) * sizeof(Py_ssize_t));
    PyObject *result = NULL;
    if (run_init(&run, algorithm, paths, infos) || !starts || !out.nodes || !out.chunk_tops ||
        !nodes.v ||
        root_node(&nodes, &run, root, root_info)) {
        goto done;
    }
    int levels = down(&nodes, &run, starts, pinned, pinned_depth, load);
    if (levels < 0) goto done;
    /* At most one superseded and one new node per touched node. */
    out.old = PyMem_Malloc((size_t)nodes.len * DIGEST);
    out.deep = PyMem_Malloc((size_t)nodes.len * DIGEST);
    if (!out.old || !out.deep || up(&nodes, &run, starts, levels, pinned_depth, &out)) goto done;
    result = ref_tuple(&nodes.v[0].result, &out);
done:
    if (!result && !PyErr_Occurred()) PyErr_NoMemory();
    run_free(&run);
    PyMem_Free(nodes.v);
    PyMem_Free(starts);
    Py_XDECREF(out.nodes);
    Py_XDECREF(out.chunk_tops);
    PyMem_Free(out.old);
    PyMem_Free(out.deep);
    return result;
}

static PyMethodDef methods[] = {
    {"update", smt_update, METH_VARARGS,
     "update(algorithm, paths, infos, root, root_info, pinned, pinned_depth, load[, nodes]) -> "
     "(root, root_info, nodes, chunk_tops, pinned_old, deep)"},
    {"chunk_records", smt_chunk_records, METH_VARARGS,
     "chunk_records(chunk_tops, nodes, pinned, member) -> {top: record}"},
    {"find", smt_find, METH_VARARGS,
     "find(root, path, pinned, pinned_depth, load) -> INFO of the lone key at path, or None"},
    {"digests", smt_digests, METH_VARARGS, "digests(algorithm, tag, items) -> [Hd(tag, item)]"},
    {"hash", smt_hash_py, METH_VARARGS, "hash(algorithm, data) -> H(data)"},
    {"sha_ni", smt_sha_ni, METH_NOARGS, "sha_ni() -> whether SHA-256 runs on SHA-NI"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "ledger._smt_native",
    "The state-tree kernel in C (see ledger/smt_native.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__smt_native(void) {
    smt_hash_setup();
    if (PyType_Ready(&NodeStoreType)) return NULL;
    PyObject *errors = PyImport_ImportModule("ledger.errors");
    if (!errors) return NULL;
    CorruptStore = PyObject_GetAttrString(errors, "CorruptStore");
    Py_DECREF(errors);
    if (!CorruptStore) return NULL;
    PyObject *mod = PyModule_Create(&module);
    if (mod && PyModule_AddObjectRef(mod, "NodeStore", (PyObject *)&NodeStoreType)) Py_CLEAR(mod);
    return mod;
}
