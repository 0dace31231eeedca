/* What the state-tree kernel's C files share: layout constants (smt_layout.py), the Ref of
 * a subtree, and reading an inner record from the pinned NodeStore or the Python fallback. */
#ifndef CREDCHAIN_SMT_KERNEL_H
#define CREDCHAIN_SMT_KERNEL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_smt_hash.h"
#include "_smt_store.h"

#define DIGEST 32
#define INFO 64           /* path ‖ value hash of a lone key */
#define PREIMAGE 65       /* 0x11 ‖ left ‖ right */
#define LEFT_AT 1
#define RIGHT_AT 33
#define FLAGS_AT 65
#define HINTS_AT 66
#define LEFT_LONE 1
#define RIGHT_LONE 2
#define FLAGS_MAX 3
#define CHUNK_LEVELS 3
#define CHUNK_RECORDS_MAX 7  /* 1 + 2 + 4 inner records in a chunk of 3 levels */
#define PATH_BITS 256
#define INNER_TAG 0x11
#define LEAF_TAG 0x10

extern PyObject *CorruptStore;

/* A subtree as the sweeps see it: its hash, and the lone key's INFO when it holds one. */
typedef struct {
    uint8_t hash[DIGEST];
    uint8_t info[INFO];
    uint8_t lone;
} Ref;

int is_zero(const uint8_t *hash);
int bit_at(const uint8_t *path, int depth);
PyObject *digest_bytes(const uint8_t *digest);
/* The inner record of ``node`` (new reference): from ``pinned`` above the pinned depth,
 * else from ``load(node, depth, top)``. */
PyObject *fetch(NodeStore *pinned, int pinned_depth, PyObject *load, const uint8_t *node,
                int depth, const uint8_t *top);
/* The two children of an inner record, with the INFO its hints give; -1 if malformed. */
int parse_inner(PyObject *raw, const uint8_t *node, Ref out[2]);

PyObject *smt_chunk_records(PyObject *self, PyObject *args);
PyObject *smt_find(PyObject *self, PyObject *args);
PyObject *smt_digests(PyObject *self, PyObject *args);
PyObject *smt_hash_py(PyObject *self, PyObject *args);
PyObject *smt_sha_ni(PyObject *self, PyObject *unused);

#endif
