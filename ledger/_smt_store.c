/* NodeStore (see _smt_store.h): an open-addressing map from node hashes to records. */
#include "_smt_store.h"

#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif

#define MIN_SLOTS 64
/* Tables from this size on get their own mapping, asked to use huge pages: at 1M keys the
 * table is ~80 MB probed at random, and with 4 KiB pages nearly every probe also misses the
 * TLB (a two-level page walk under a hypervisor). */
#define HUGE_TABLE_BYTES ((size_t)4 << 20)
#define RETIRE_BATCH 256

static Py_ssize_t home(const NodeStore *store, const uint8_t *key) {
    uint64_t h;
    memcpy(&h, key, sizeof h);  /* a hash's bytes are already uniformly spread */
    return (Py_ssize_t)(h & (uint64_t)store->mask);
}

/* The slot holding key, or the free slot where it would go. */
static Py_ssize_t probe(const NodeStore *store, const uint8_t *key) {
    Py_ssize_t at = home(store, key);
    while (store->slots[at].value && memcmp(store->slots[at].key, key, STORE_KEY_LEN) != 0) {
        at = (at + 1) & store->mask;
    }
    return at;
}

/* Zeroed room for ``slots`` slots; released by slots_free with the same count. */
static StoreSlot *slots_alloc(Py_ssize_t slots) {
    size_t bytes = (size_t)slots * sizeof(StoreSlot);
#ifdef __linux__
    if (bytes >= HUGE_TABLE_BYTES) {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
        madvise(p, bytes, MADV_HUGEPAGE);  /* a hint: without it the table still works */
#endif
        return p;
    }
#endif
    return PyMem_Calloc((size_t)slots, sizeof(StoreSlot));
}

static void slots_free(StoreSlot *slots, Py_ssize_t count) {
    if (!slots) return;
#ifdef __linux__
    size_t bytes = (size_t)count * sizeof(StoreSlot);
    if (bytes >= HUGE_TABLE_BYTES) {
        munmap(slots, bytes);
        return;
    }
#endif
    PyMem_Free(slots);
}

static int resize(NodeStore *store, Py_ssize_t slots) {
    StoreSlot *old = store->slots;
    Py_ssize_t old_slots = old ? store->mask + 1 : 0;
    StoreSlot *fresh = slots_alloc(slots);
    if (!fresh) {
        PyErr_NoMemory();
        return -1;
    }
    store->slots = fresh;
    store->mask = slots - 1;
    for (Py_ssize_t i = 0; i < old_slots; i++) {
        if (old[i].value) store->slots[probe(store, old[i].key)] = old[i];
    }
    slots_free(old, old_slots);
    return 0;
}

PyObject *store_get(NodeStore *store, const uint8_t *key) {
    return store->slots[probe(store, key)].value;
}

int store_set(NodeStore *store, const uint8_t *key, PyObject *value) {
    if (!PyBytes_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "a NodeStore holds bytes records");
        return -1;
    }
    if (4 * (store->used + 1) > 3 * (store->mask + 1) && resize(store, 2 * (store->mask + 1))) {
        return -1;
    }
    StoreSlot *slot = &store->slots[probe(store, key)];
    Py_INCREF(value);
    if (slot->value) {
        Py_SETREF(slot->value, value);
    } else {
        memcpy(slot->key, key, STORE_KEY_LEN);
        slot->value = value;
        store->used++;
    }
    return 0;
}

/* Removes key; returns its record (a new reference), or NULL when absent. */
static PyObject *store_take(NodeStore *store, const uint8_t *key) {
    Py_ssize_t at = probe(store, key);
    PyObject *value = store->slots[at].value;
    if (!value) return NULL;
    /* Backward shift: move up each later entry of the run whose home is not between the
     * freed slot and itself, so that no probe meets a gap before its key. */
    Py_ssize_t free_at = at, next = at;
    for (;;) {
        next = (next + 1) & store->mask;
        if (!store->slots[next].value) break;
        Py_ssize_t want = home(store, store->slots[next].key);
        int stays = free_at <= next ? (free_at < want && want <= next)
                                    : (free_at < want || want <= next);
        if (stays) continue;
        store->slots[free_at] = store->slots[next];
        free_at = next;
    }
    store->slots[free_at].value = NULL;
    store->used--;
    return value;
}

NodeStore *store_new(Py_ssize_t expected) {
    NodeStore *store = PyObject_New(NodeStore, &NodeStoreType);
    if (!store) return NULL;
    store->slots = NULL;
    store->used = 0;
    Py_ssize_t slots = MIN_SLOTS;
    while (4 * expected > 3 * slots) slots *= 2;
    if (resize(store, slots)) {
        Py_DECREF(store);
        return NULL;
    }
    return store;
}

static const uint8_t *key_of(PyObject *key) {
    if (!PyBytes_Check(key) || PyBytes_GET_SIZE(key) != STORE_KEY_LEN) {
        PyErr_SetString(PyExc_KeyError, "a NodeStore key is 32 bytes");
        return NULL;
    }
    return (const uint8_t *)PyBytes_AS_STRING(key);
}

static PyObject *store_py_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    if (PyTuple_GET_SIZE(args) || (kwds && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "NodeStore() takes no arguments");
        return NULL;
    }
    return (PyObject *)store_new(0);
}

static void store_dealloc(NodeStore *store) {
    for (Py_ssize_t i = 0; store->slots && i <= store->mask; i++) Py_XDECREF(store->slots[i].value);
    slots_free(store->slots, store->slots ? store->mask + 1 : 0);
    Py_TYPE(store)->tp_free((PyObject *)store);
}

static Py_ssize_t store_len(NodeStore *store) { return store->used; }

static PyObject *store_subscript(NodeStore *store, PyObject *key) {
    const uint8_t *raw = key_of(key);
    if (!raw) return NULL;
    PyObject *value = store_get(store, raw);
    if (!value) PyErr_SetObject(PyExc_KeyError, key);
    return Py_XNewRef(value);
}

static int store_ass_subscript(NodeStore *store, PyObject *key, PyObject *value) {
    const uint8_t *raw = key_of(key);
    if (!raw) return -1;
    if (value) return store_set(store, raw, value);
    PyObject *old = store_take(store, raw);
    if (!old) {
        PyErr_SetObject(PyExc_KeyError, key);
        return -1;
    }
    Py_DECREF(old);
    return 0;
}

static PyObject *store_py_get(NodeStore *store, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "get(key, default=None)");
        return NULL;
    }
    PyObject *fallback = nargs == 2 ? args[1] : Py_None;
    if (!PyBytes_Check(args[0]) || PyBytes_GET_SIZE(args[0]) != STORE_KEY_LEN) {
        return Py_NewRef(fallback);
    }
    PyObject *value = store_get(store, (const uint8_t *)PyBytes_AS_STRING(args[0]));
    return Py_NewRef(value ? value : fallback);
}

static PyObject *store_py_pop(NodeStore *store, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "pop(key, default)");
        return NULL;
    }
    const uint8_t *raw = key_of(args[0]);
    if (!raw) return NULL;
    PyObject *value = store_take(store, raw);
    return value ? value : Py_NewRef(args[1]);
}

static PyObject *store_items(NodeStore *store, PyObject *unused) {
    (void)unused;
    PyObject *out = PyList_New(0);
    for (Py_ssize_t i = 0; out && i <= store->mask; i++) {
        StoreSlot *slot = &store->slots[i];
        if (!slot->value) continue;
        PyObject *pair = Py_BuildValue("(y#O)", (const char *)slot->key,
                                       (Py_ssize_t)STORE_KEY_LEN, slot->value);
        if (!pair || PyList_Append(out, pair)) Py_CLEAR(out);
        Py_XDECREF(pair);
    }
    return out;
}

/* Every entry of another NodeStore or of a dict of 32-byte keys. */
static int merge(NodeStore *store, PyObject *other) {
    if (NodeStore_Check(other)) {
        NodeStore *from = (NodeStore *)other;
        if (4 * (store->used + from->used) > 3 * (store->mask + 1) &&
            resize(store, 2 * (store->mask + 1))) {
            return -1;
        }
        for (Py_ssize_t batch = 0; batch <= from->mask; batch += RETIRE_BATCH) {
            Py_ssize_t end = batch + RETIRE_BATCH <= from->mask ? batch + RETIRE_BATCH
                                                               : from->mask + 1;
            for (Py_ssize_t i = batch; i < end; i++) {
                if (from->slots[i].value) store_prefetch(store, from->slots[i].key);
            }
            for (Py_ssize_t i = batch; i < end; i++) {
                if (from->slots[i].value &&
                    store_set(store, from->slots[i].key, from->slots[i].value)) {
                    return -1;
                }
            }
        }
        return 0;
    }
    if (!PyDict_Check(other)) {
        PyErr_SetString(PyExc_TypeError, "update takes a NodeStore or a dict");
        return -1;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(other, &pos, &key, &value)) {
        const uint8_t *raw = key_of(key);
        if (!raw || store_set(store, raw, value)) return -1;
    }
    return 0;
}

static PyObject *store_update(NodeStore *store, PyObject *other) {
    return merge(store, other) ? NULL : Py_NewRef(Py_None);
}

/* retire(old, new, deep): drop the keys in ``old`` (32-byte hashes end to end; absent ones
 * too), add every entry of ``new``, then drop the keys in ``deep`` again (new nodes below the
 * pinned depth, which no pinned node can be): what confirming a block does to the pinned
 * nodes. Each batch of keys is prefetched before it is used, so the misses overlap. */
static PyObject *store_retire(NodeStore *store, PyObject *args) {
    const uint8_t *old, *deep;
    Py_ssize_t old_len, deep_len;
    PyObject *fresh;
    if (!PyArg_ParseTuple(args, "y#Oy#", &old, &old_len, &fresh, &deep, &deep_len)) return NULL;
    if (old_len % STORE_KEY_LEN || deep_len % STORE_KEY_LEN) {
        PyErr_SetString(PyExc_ValueError, "old and deep are 32-byte hashes end to end");
        return NULL;
    }
    Py_ssize_t total = old_len / STORE_KEY_LEN;
    for (Py_ssize_t batch = 0; batch < total; batch += RETIRE_BATCH) {
        Py_ssize_t end = batch + RETIRE_BATCH < total ? batch + RETIRE_BATCH : total;
        for (Py_ssize_t i = batch; i < end; i++) store_prefetch(store, old + i * STORE_KEY_LEN);
        for (Py_ssize_t i = batch; i < end; i++) {
            Py_XDECREF(store_take(store, old + i * STORE_KEY_LEN));
        }
    }
    if (merge(store, fresh)) return NULL;
    for (Py_ssize_t i = 0; i < deep_len / STORE_KEY_LEN; i++) {
        Py_XDECREF(store_take(store, deep + i * STORE_KEY_LEN));
    }
    Py_RETURN_NONE;
}

static int store_contains(NodeStore *store, PyObject *key) {
    if (!PyBytes_Check(key) || PyBytes_GET_SIZE(key) != STORE_KEY_LEN) return 0;
    return store_get(store, (const uint8_t *)PyBytes_AS_STRING(key)) != NULL;
}

static PyMethodDef store_methods[] = {
    {"get", (PyCFunction)(void (*)(void))store_py_get, METH_FASTCALL, "get(key, default=None)"},
    {"pop", (PyCFunction)(void (*)(void))store_py_pop, METH_FASTCALL, "pop(key, default)"},
    {"items", (PyCFunction)store_items, METH_NOARGS, "a list of (key, record)"},
    {"update", (PyCFunction)store_update, METH_O, "add every entry of a NodeStore or dict"},
    {"retire", (PyCFunction)store_retire, METH_VARARGS, "retire(old, new, deep)"},
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods store_mapping = {
    (lenfunc)store_len, (binaryfunc)store_subscript, (objobjargproc)store_ass_subscript,
};

static PySequenceMethods store_sequence = {
    .sq_contains = (objobjproc)store_contains,
};

PyTypeObject NodeStoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ledger._smt_native.NodeStore",
    .tp_basicsize = sizeof(NodeStore),
    .tp_dealloc = (destructor)store_dealloc,
    .tp_as_mapping = &store_mapping,
    .tp_as_sequence = &store_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A map from 32-byte node hashes to their records (see _smt_store.h).",
    .tp_methods = store_methods,
    .tp_new = store_py_new,
};
