/* Keyed BLAKE2b pseudonyms (events.privacy), one C call per value.
 *
 * The same function as Python's hashlib.blake2b(message, key=key, digest_size=n).hexdigest(), where
 * the message is a fixed prefix (app and kind of identifier) followed by the value stripped and
 * lower-cased as Python's str.strip() and str.lower() do it. Written from RFC 7693; tests compare it
 * with hashlib for every length up to several blocks and for non-ASCII values.
 *
 * Why C: an ingested event carries two identifiers, so a 100-event request hashes up to 200 values.
 * Through hashlib each costs a state copy, an update, a finalisation on another copy, a hex string and
 * the str methods around them: about as many instructions again as the compression itself.
 *
 * The compression runs on AVX2 where the CPU has it (about 670 instructions a block, against 1,700
 * for the portable C and 3,300 for hashlib's reference code), chosen once at import.
 *
 *   state(key: bytes, digest_size: int, prefix: bytes) -> bytes   the keyed state after the prefix
 *   Pseudonymizer(state)(value: str | None) -> str                  a value's pseudonym ("" for none)
 *   select("portable" | "avx2") -> str                              for the tests, which check both
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BLOCK 128

typedef struct {
    uint64_t h[8];
    uint64_t t;          /* bytes compressed so far (values here never reach 2^64) */
    uint32_t buffered;   /* bytes waiting in buf: they are compressed only once more data follows */
    uint32_t digest_size;
    uint8_t buf[BLOCK];
} State;

static const uint64_t IV[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

/* The message schedule: round r reads the block's words in the order SIGMA[r % 10] (RFC 7693). */
static const uint8_t SIGMA[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

static inline uint64_t rotr(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

static inline uint64_t load64(const uint8_t *p) { /* little-endian, as BLAKE2b reads words */
    uint64_t x;
    memcpy(&x, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x;
}

#define G(a, b, c, d, x, y)              \
    do {                                 \
        v[a] = v[a] + v[b] + (x);        \
        v[d] = rotr(v[d] ^ v[a], 32);    \
        v[c] = v[c] + v[d];              \
        v[b] = rotr(v[b] ^ v[c], 24);    \
        v[a] = v[a] + v[b] + (y);        \
        v[d] = rotr(v[d] ^ v[a], 16);    \
        v[c] = v[c] + v[d];              \
        v[b] = rotr(v[b] ^ v[c], 63);    \
    } while (0)

#define ROUND(r)                                                   \
    do {                                                           \
        const uint8_t *s = SIGMA[(r) % 10];                               \
        G(0, 4, 8, 12, m[s[0]], m[s[1]]);                          \
        G(1, 5, 9, 13, m[s[2]], m[s[3]]);                          \
        G(2, 6, 10, 14, m[s[4]], m[s[5]]);                         \
        G(3, 7, 11, 15, m[s[6]], m[s[7]]);                         \
        G(0, 5, 10, 15, m[s[8]], m[s[9]]);                         \
        G(1, 6, 11, 12, m[s[10]], m[s[11]]);                       \
        G(2, 7, 8, 13, m[s[12]], m[s[13]]);                        \
        G(3, 4, 9, 14, m[s[14]], m[s[15]]);                        \
    } while (0)

static void compress_portable(State *st, const uint8_t block[BLOCK], int last) {
    uint64_t m[16], v[16];
    for (int i = 0; i < 16; i++) m[i] = load64(block + 8 * i);
    for (int i = 0; i < 8; i++) {
        v[i] = st->h[i];
        v[i + 8] = IV[i];
    }
    v[12] ^= st->t; /* the counter's high word stays 0 */
    if (last) v[14] = ~v[14];
    ROUND(0); ROUND(1); ROUND(2); ROUND(3); ROUND(4); ROUND(5);
    ROUND(6); ROUND(7); ROUND(8); ROUND(9); ROUND(10); ROUND(11);
    for (int i = 0; i < 8; i++) st->h[i] ^= v[i] ^ v[i + 8];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1

#define AVX2 __attribute__((target("avx2")))

/* Rotations right of each 64-bit lane: by 32 a swap of halves, by 24 and 16 a byte shuffle, by 63
 * a shift and an add. */
AVX2 static inline __m256i ror32(__m256i x) { return _mm256_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1)); }
AVX2 static inline __m256i ror24(__m256i x) {
    return _mm256_shuffle_epi8(x, _mm256_setr_epi8(3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10,
                                                   3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10));
}
AVX2 static inline __m256i ror16(__m256i x) {
    return _mm256_shuffle_epi8(x, _mm256_setr_epi8(2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9,
                                                   2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9));
}
AVX2 static inline __m256i ror63(__m256i x) { return _mm256_or_si256(_mm256_srli_epi64(x, 63), _mm256_add_epi64(x, x)); }

/* G on four columns (or diagonals) at once: a, b, c, d hold one row of the 4x4 state each. */
#define G4(x, y)                                               \
    do {                                                       \
        a = _mm256_add_epi64(_mm256_add_epi64(a, b), x);       \
        d = ror32(_mm256_xor_si256(d, a));                     \
        c = _mm256_add_epi64(c, d);                            \
        b = ror24(_mm256_xor_si256(b, c));                     \
        a = _mm256_add_epi64(_mm256_add_epi64(a, b), y);       \
        d = ror16(_mm256_xor_si256(d, a));                     \
        c = _mm256_add_epi64(c, d);                            \
        b = ror63(_mm256_xor_si256(b, c));                     \
    } while (0)

/* The same compression on four lanes at once. Chosen at import when the CPU has AVX2; about 40% of
 * the portable version's instructions. */
AVX2 static void compress_avx2(State *st, const uint8_t block[BLOCK], int last) {
    uint64_t m[16];
    memcpy(m, block, BLOCK); /* x86 is little-endian, as BLAKE2b reads its words */
    __m256i a = _mm256_loadu_si256((const __m256i *)&st->h[0]);
    __m256i b = _mm256_loadu_si256((const __m256i *)&st->h[4]);
    __m256i c = _mm256_loadu_si256((const __m256i *)&IV[0]);
    __m256i d = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)&IV[4]),
                                 _mm256_set_epi64x(0, last ? -1 : 0, 0, (long long)st->t));
    const __m256i h0 = a, h1 = b;
#pragma GCC unroll 12 /* the message schedule's indices become constants */
    for (int r = 0; r < 12; r++) {
        const uint8_t *s = SIGMA[r % 10];
        G4(_mm256_set_epi64x(m[s[6]], m[s[4]], m[s[2]], m[s[0]]), _mm256_set_epi64x(m[s[7]], m[s[5]], m[s[3]], m[s[1]]));
        b = _mm256_permute4x64_epi64(b, _MM_SHUFFLE(0, 3, 2, 1)); /* diagonals into columns */
        c = _mm256_permute4x64_epi64(c, _MM_SHUFFLE(1, 0, 3, 2));
        d = _mm256_permute4x64_epi64(d, _MM_SHUFFLE(2, 1, 0, 3));
        G4(_mm256_set_epi64x(m[s[14]], m[s[12]], m[s[10]], m[s[8]]),
           _mm256_set_epi64x(m[s[15]], m[s[13]], m[s[11]], m[s[9]]));
        b = _mm256_permute4x64_epi64(b, _MM_SHUFFLE(2, 1, 0, 3)); /* and back */
        c = _mm256_permute4x64_epi64(c, _MM_SHUFFLE(1, 0, 3, 2));
        d = _mm256_permute4x64_epi64(d, _MM_SHUFFLE(0, 3, 2, 1));
    }
    _mm256_storeu_si256((__m256i *)&st->h[0], _mm256_xor_si256(h0, _mm256_xor_si256(a, c)));
    _mm256_storeu_si256((__m256i *)&st->h[4], _mm256_xor_si256(h1, _mm256_xor_si256(b, d)));
}
#endif

static void (*compress)(State *, const uint8_t *, int) = compress_portable;

static void update(State *st, const uint8_t *data, size_t len) {
    while (len > 0) {
        if (st->buffered == BLOCK) { /* more data follows a full block: it is not the last */
            st->t += BLOCK;
            compress(st, st->buf, 0);
            st->buffered = 0;
        }
        size_t take = BLOCK - st->buffered;
        if (take > len) take = len;
        memcpy(st->buf + st->buffered, data, take);
        st->buffered += (uint32_t)take;
        data += take;
        len -= take;
    }
}

static PyObject *finish(State *st) {
    static const char HEX[] = "0123456789abcdef";
    char out[128];
    st->t += st->buffered;
    memset(st->buf + st->buffered, 0, BLOCK - st->buffered);
    compress(st, st->buf, 1);
    for (uint32_t i = 0; i < st->digest_size; i++) {
        uint8_t byte = (uint8_t)(st->h[i / 8] >> (8 * (i % 8)));
        out[2 * i] = HEX[byte >> 4];
        out[2 * i + 1] = HEX[byte & 15];
    }
    return PyUnicode_FromStringAndSize(out, 2 * st->digest_size);
}

static PyObject *keyed_state(PyObject *module, PyObject *args) {
    Py_buffer key, prefix;
    int digest_size;
    if (!PyArg_ParseTuple(args, "y*iy*", &key, &digest_size, &prefix)) return NULL;
    PyObject *result = NULL;
    if (key.len < 1 || key.len > 64 || digest_size < 1 || digest_size > 64) {
        PyErr_SetString(PyExc_ValueError, "key must be 1 to 64 bytes and digest_size 1 to 64");
        goto done;
    }
    State st;
    memset(&st, 0, sizeof st);
    memcpy(st.h, IV, sizeof IV);
    st.h[0] ^= 0x01010000ULL ^ ((uint64_t)key.len << 8) ^ (uint64_t)digest_size;
    st.digest_size = (uint32_t)digest_size;
    memcpy(st.buf, key.buf, (size_t)key.len); /* the key, zero-padded, is the first block */
    st.buffered = BLOCK;
    update(&st, prefix.buf, (size_t)prefix.len);
    result = PyBytes_FromStringAndSize((const char *)&st, sizeof st);
done:
    PyBuffer_Release(&key);
    PyBuffer_Release(&prefix);
    return result;
}

/* Python's str.isspace() for the ASCII range: \t \n \v \f \r, \x1c to \x1f and the space. */
static inline int ascii_space(Py_UCS1 c) { return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20); }

/* The pseudonym of one non-empty str, from a state made by state(). */
static PyObject *pseudonym(const State *prefix, PyObject *value) {
    State st = *prefix;
#if PY_VERSION_HEX < 0x030C0000 /* from 3.12 every str is ready, and the macro is deprecated */
    if (PyUnicode_READY(value) < 0) return NULL;
#endif
    if (PyUnicode_IS_ASCII(value)) {
        const Py_UCS1 *text = PyUnicode_1BYTE_DATA(value);
        Py_ssize_t start = 0, end = PyUnicode_GET_LENGTH(value);
        while (start < end && ascii_space(text[start])) start++;
        while (end > start && ascii_space(text[end - 1])) end--;
        uint8_t lower[BLOCK];
        while (start < end) {
            Py_ssize_t n = end - start < BLOCK ? end - start : BLOCK;
            for (Py_ssize_t i = 0; i < n; i++) {
                Py_UCS1 c = text[start + i];
                lower[i] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
            }
            update(&st, lower, (size_t)n);
            start += n;
        }
        return finish(&st);
    }
    /* Beyond ASCII, Python's own strip() and lower() (Unicode case mapping), then UTF-8. */
    PyObject *stripped = PyObject_CallMethod(value, "strip", NULL);
    if (stripped == NULL) return NULL;
    PyObject *lowered = PyObject_CallMethod(stripped, "lower", NULL);
    Py_DECREF(stripped);
    if (lowered == NULL) return NULL;
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(lowered, &size);
    if (utf8 == NULL) {
        Py_DECREF(lowered);
        return NULL;
    }
    update(&st, (const uint8_t *)utf8, (size_t)size);
    Py_DECREF(lowered);
    return finish(&st);
}

/* Pseudonymizer(state): called with a value (str or None), returns its pseudonym ("" for no value).
 * It remembers the values it hashed: an SDK batch repeats one device and one user. Called once per
 * identifier of every ingested event, so it is a C callable with vectorcall, not a Python closure. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *seen; /* dict str -> str: no reference cycle can go through it */
    State state;
} Pseudonymizer;

static PyObject *EMPTY;

static PyObject *pseudonymizer_call(PyObject *op, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    Pseudonymizer *self = (Pseudonymizer *)op;
    if (PyVectorcall_NARGS(nargsf) != 1 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "a pseudonymizer takes one value: str or None");
        return NULL;
    }
    PyObject *value = args[0];
    if (value == Py_None || (PyUnicode_Check(value) && PyUnicode_GET_LENGTH(value) == 0)) {
        Py_INCREF(EMPTY);
        return EMPTY;
    }
    if (!PyUnicode_Check(value)) {
        PyErr_Format(PyExc_TypeError, "a pseudonymizer takes str or None, not %.100s", Py_TYPE(value)->tp_name);
        return NULL;
    }
    PyObject *digest = PyDict_GetItemWithError(self->seen, value);
    if (digest != NULL) {
        Py_INCREF(digest);
        return digest;
    }
    if (PyErr_Occurred()) return NULL;
    digest = pseudonym(&self->state, value);
    if (digest != NULL && PyDict_SetItem(self->seen, value, digest) < 0) Py_CLEAR(digest);
    return digest;
}

static PyObject *pseudonymizer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *state;
    if (!PyArg_ParseTuple(args, "S:Pseudonymizer", &state)) return NULL;
    if (PyBytes_GET_SIZE(state) != sizeof(State)) {
        PyErr_SetString(PyExc_ValueError, "Pseudonymizer(state) takes the bytes that state() returns");
        return NULL;
    }
    Pseudonymizer *self = (Pseudonymizer *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->vectorcall = pseudonymizer_call;
    memcpy(&self->state, PyBytes_AS_STRING(state), sizeof(State));
    self->seen = PyDict_New();
    if (self->seen == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void pseudonymizer_dealloc(PyObject *op) {
    Py_XDECREF(((Pseudonymizer *)op)->seen);
    Py_TYPE(op)->tp_free(op);
}

static PyTypeObject PseudonymizerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "events._keyed_blake2.Pseudonymizer",
    .tp_basicsize = sizeof(Pseudonymizer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "Pseudonymizer(state) -> callable: value -> keyed BLAKE2b hex of value.strip().lower()",
    .tp_new = pseudonymizer_new,
    .tp_dealloc = pseudonymizer_dealloc,
    .tp_vectorcall_offset = offsetof(Pseudonymizer, vectorcall),
    .tp_call = PyVectorcall_Call,
};

/* select(name) -> the compression in use before: "avx2" (chosen at import where the CPU has it) or
 * "portable". For the tests, which check both against hashlib. */
static PyObject *select_compression(PyObject *module, PyObject *name) {
    const char *before = compress == compress_portable ? "portable" : "avx2";
    if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "portable") == 0) {
        compress = compress_portable;
#ifdef HAVE_AVX2_PATH
    } else if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, "avx2") == 0 &&
               __builtin_cpu_supports("avx2")) {
        compress = compress_avx2;
#endif
    } else {
        PyErr_SetString(PyExc_ValueError, "select() takes \"portable\", or \"avx2\" on a CPU that has it");
        return NULL;
    }
    return PyUnicode_FromString(before);
}

static PyMethodDef methods[] = {
    {"state", keyed_state, METH_VARARGS, "state(key, digest_size, prefix) -> the keyed state after prefix"},
    {"select", select_compression, METH_O, "select(\"portable\" | \"avx2\") -> the compression used before"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_keyed_blake2", NULL, 0, methods};

PyMODINIT_FUNC PyInit__keyed_blake2(void) {
#ifdef HAVE_AVX2_PATH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) compress = compress_avx2;
#endif
    if (PyType_Ready(&PseudonymizerType) < 0) return NULL;
    EMPTY = PyUnicode_FromStringAndSize("", 0);
    if (EMPTY == NULL) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&PseudonymizerType);
    if (PyModule_AddObject(m, "Pseudonymizer", (PyObject *)&PseudonymizerType) < 0) {
        Py_DECREF(&PseudonymizerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
