/* NodeStore: a map from 32-byte node hashes to their records (bytes), for the C kernel.
 *
 * The state tree keeps ~1.4M inner records in memory at 1M keys; in a dict each lookup
 * walks the dict's index, its entry, a key object and the value (four cache misses, and a
 * bytes object made for every key looked up). Node hashes are uniformly random, so this
 * table takes its slot straight from a hash's first bytes and holds the key inline: one
 * miss for the slot, one for the record. Open addressing, linear probing, deletion by
 * backward shift (no tombstones), at most 3/4 full. From Python it behaves as the part of
 * a dict the tree uses: get, [] =, pop, len, items, update, retire. */
#ifndef CREDCHAIN_SMT_STORE_H
#define CREDCHAIN_SMT_STORE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define STORE_KEY_LEN 32

typedef struct {
    uint8_t key[STORE_KEY_LEN];
    PyObject *value;  /* a bytes record (owned), NULL when the slot is free */
} StoreSlot;

typedef struct {
    PyObject_HEAD
    StoreSlot *slots;
    Py_ssize_t mask;  /* slots - 1; slots is a power of two */
    Py_ssize_t used;
} NodeStore;

extern PyTypeObject NodeStoreType;

#define NodeStore_Check(op) PyObject_TypeCheck(op, &NodeStoreType)

/* Starts loading the slot where key lives, so that a later lookup finds it in cache: the
 * kernel prefetches a whole level's nodes before reading them (memory-level parallelism
 * instead of one cache miss after another). */
static inline void store_prefetch(const NodeStore *store, const uint8_t *key) {
    uint64_t h;
    memcpy(&h, key, sizeof h);
    __builtin_prefetch(&store->slots[h & (uint64_t)store->mask]);
}

/* The record under key (borrowed), or NULL without an exception when absent. */
PyObject *store_get(NodeStore *store, const uint8_t *key);
/* Sets key -> value (a new reference is taken); -1 with an exception on failure. */
int store_set(NodeStore *store, const uint8_t *key, PyObject *value);
/* A new, empty store sized for ``expected`` entries; NULL with an exception on failure. */
NodeStore *store_new(Py_ssize_t expected);

#endif
