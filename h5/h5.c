/* h5.c: every HDF5 call of the tree, each under one process-wide recursive lock (see h5.h). */
#include "h5/h5.h"
#include "common/status.h"

#include <hdf5.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the lock ------------------------------------------------------------------------------ */

static pthread_mutex_t h5_mu;
static pthread_once_t h5_once = PTHREAD_ONCE_INIT;
static _Thread_local int h5_quiet; /* HDF5's error printing is off on this thread */

static void init_lock(void)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&h5_mu, &a);
    pthread_mutexattr_destroy(&a);
    /* HDF5 1.10 crashes in its exit handler (H5F__close_cb) on a file whose close failed, e.g.
     * a write cut short by a full disk: a bundle write that fails cleanly would then end in a
     * segfault. Every file we open is closed explicitly, so the handler has nothing to do. */
    H5dont_atexit();
}

void sl_h5_lock(void)
{
    pthread_once(&h5_once, init_lock);
    pthread_mutex_lock(&h5_mu);
    if (!h5_quiet) {
        /* We report errors ourselves; HDF5 would print its stack on stderr. In a thread-safe
         * build the default stack is per thread, so this is done once per thread. */
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        h5_quiet = 1;
    }
}

void sl_h5_unlock(void)
{
    pthread_mutex_unlock(&h5_mu);
}

#define LOCKED(type, call)                                                                    \
    do {                                                                                       \
        sl_h5_lock();                                                                          \
        type r_ = call;                                                                        \
        sl_h5_unlock();                                                                        \
        return r_;                                                                             \
    } while (0)

void sl_h5_keep_free_lists(void)
{
    sl_h5_lock();
    H5set_free_list_limits(-1, -1, -1, -1, -1, -1);
    sl_h5_unlock();
}

/* ---- types --------------------------------------------------------------------------------- */

static hid_t mem_type(sl_h5_type t)
{
    switch (t) {
    case SL_H5_F32: return H5T_NATIVE_FLOAT;
    case SL_H5_U8: return H5T_NATIVE_UINT8;
    case SL_H5_I64: return H5T_NATIVE_INT64;
    }
    return -1;
}

static hid_t file_type(sl_h5_type t)
{
    switch (t) {
    case SL_H5_F32: return H5T_IEEE_F32LE;
    case SL_H5_U8: return H5T_STD_U8LE;
    case SL_H5_I64: return H5T_STD_I64LE;
    }
    return -1;
}

static size_t type_size(sl_h5_type t)
{
    return t == SL_H5_F32 ? 4 : t == SL_H5_U8 ? 1 : 8;
}

static hid_t vlen_str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

/* ---- files --------------------------------------------------------------------------------- */

static int is_hdf5_locked(const char *path)
{
    return H5Fis_hdf5(path) > 0;
}

int sl_h5_is_hdf5(const char *path)
{
    if (access(path, R_OK) != 0) return 0;
    LOCKED(int, is_hdf5_locked(path));
}

static int open_locked(const char *path, sl_h5_id *file)
{
    if (H5Fis_hdf5(path) <= 0) return sl_err(SL_EFORMAT, "%s: not an HDF5 file (or truncated)", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return sl_err(SL_EFORMAT, "%s: cannot open as HDF5 (corrupt or truncated)", path);
    *file = f;
    return SL_OK;
}

int sl_h5_open(const char *path, sl_h5_id *file)
{
    *file = -1;
    if (access(path, R_OK) != 0) return sl_err(SL_EIO, "%s: cannot open for reading", path);
    LOCKED(int, open_locked(path, file));
}

static int open_rw_locked(const char *path, sl_h5_id *file)
{
    hid_t f = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT) : -1;
    if (f < 0) return sl_err(SL_EIO, "%s: cannot open as HDF5 for writing", path);
    *file = f;
    return SL_OK;
}

int sl_h5_open_rw(const char *path, sl_h5_id *file)
{
    *file = -1;
    LOCKED(int, open_rw_locked(path, file));
}

/* A caller's image lent to the core driver without a copy (HDF5 would otherwise copy it twice:
 * into the property list, then into the open file). Every "allocation" of the image is the
 * caller's buffer and every "copy" of it onto itself is nothing; the file is read-only, so nothing
 * writes to it or resizes it. The callbacks run inside HDF5, under the lock, so `refs` (the
 * property lists and the file holding the record) needs no atomics. */
struct lent_image {
    const void *buf;
    size_t len;
    int refs;
};

static void *lent_malloc(size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)op;
    struct lent_image *li = udata;
    return size == li->len ? (void *)li->buf : NULL;
}

static void *lent_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op,
                         void *udata)
{
    (void)op;
    (void)udata;
    return dest == src ? dest : memcpy(dest, src, size);
}

static void *lent_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)ptr, (void)size, (void)op, (void)udata;
    return NULL; /* read-only: the image never grows */
}

static herr_t lent_free(void *ptr, H5FD_file_image_op_t op, void *udata)
{
    (void)ptr, (void)op, (void)udata;
    return 0; /* the caller's buffer */
}

static void *lent_udata_copy(void *udata)
{
    ((struct lent_image *)udata)->refs++;
    return udata;
}

static herr_t lent_udata_free(void *udata)
{
    struct lent_image *li = udata;
    if (--li->refs == 0) free(li);
    return 0;
}

static int open_image_locked(const void *buf, size_t len, const char *name, sl_h5_id *file)
{
    /* The core driver tells files apart by name: two images open at once need two names. */
    static atomic_ulong serial;
    char unique[96];
    snprintf(unique, sizeof unique, "sl-image-%lu", (unsigned long)atomic_fetch_add(&serial, 1));
    struct lent_image *li = malloc(sizeof *li);
    if (!li) return sl_err(SL_ENOMEM, "%s: out of memory", name);
    *li = (struct lent_image){buf, len, 1};
    H5FD_file_image_callbacks_t cb = {lent_malloc,     lent_memcpy,     lent_realloc, lent_free,
                                      lent_udata_copy, lent_udata_free, li};
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t f = -1;
    if (fapl >= 0 && H5Pset_fapl_core(fapl, 65536, 0) >= 0 &&
        H5Pset_file_image_callbacks(fapl, &cb) >= 0 && H5Pset_file_image(fapl, (void *)buf, len) >= 0)
        f = H5Fopen(unique, H5F_ACC_RDONLY, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    lent_udata_free(li); /* ours; the open file holds its own reference until it is closed */
    if (f < 0) return sl_err(SL_EFORMAT, "%s: cannot open as HDF5 (corrupt or truncated)", name);
    *file = f;
    return SL_OK;
}

int sl_h5_open_image(const void *buf, size_t len, const char *name, sl_h5_id *file)
{
    *file = -1;
    if (!len) return sl_err(SL_EFORMAT, "%s: empty, not an HDF5 file", name);
    LOCKED(int, open_image_locked(buf, len, name, file));
}

static int create_locked(const char *path, sl_h5_id *file)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return sl_err(SL_EIO, "%s: cannot create HDF5 file (is the folder writable?)", path);
    *file = f;
    return SL_OK;
}

int sl_h5_create(const char *path, sl_h5_id *file)
{
    *file = -1;
    LOCKED(int, create_locked(path, file));
}

static int close_locked(hid_t id)
{
    herr_t e;
    switch (H5Iget_type(id)) {
    case H5I_FILE: e = H5Fclose(id); break;
    case H5I_GROUP: e = H5Gclose(id); break;
    case H5I_DATASET: e = H5Dclose(id); break;
    default: e = H5Idec_ref(id) < 0 ? -1 : 0; break;
    }
    return e < 0 ? sl_err(SL_EIO, "cannot finish writing (flush or close failed)") : SL_OK;
}

int sl_h5_close(sl_h5_id id)
{
    if (id < 0) return SL_OK;
    LOCKED(int, close_locked(id));
}

/* ---- links and groups --------------------------------------------------------------------- */

static int exists_locked(hid_t loc, const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (!n || n >= sizeof buf) return 0;
    memcpy(buf, path, n + 1);
    /* H5Lexists fails (rather than answering 0) when an intermediate group is missing. */
    for (char *p = buf; (p = strchr(p, '/')); p++) {
        if (p == buf) continue;
        *p = '\0';
        int ok = H5Lexists(loc, buf, H5P_DEFAULT) > 0;
        *p = '/';
        if (!ok) return 0;
    }
    return H5Lexists(loc, buf, H5P_DEFAULT) > 0;
}

int sl_h5_exists(sl_h5_id loc, const char *path)
{
    LOCKED(int, exists_locked(loc, path));
}

int sl_h5_attr_exists(sl_h5_id loc, const char *name)
{
    LOCKED(int, H5Aexists(loc, name) > 0);
}

/* Opens member `name` of loc as a group or a dataset: SL_ENOTFOUND when it is missing,
 * SL_EFORMAT when it is not of that kind. */
static int member_open_locked(hid_t loc, const char *name, int dataset, sl_h5_id *out)
{
    if (!exists_locked(loc, name)) return sl_err(SL_ENOTFOUND, "'%s' is missing", name);
    hid_t id = dataset ? H5Dopen2(loc, name, H5P_DEFAULT) : H5Gopen2(loc, name, H5P_DEFAULT);
    if (id < 0)
        return dataset ? sl_err(SL_EFORMAT, "dataset '%s' cannot be opened", name)
                       : sl_err(SL_EFORMAT, "'%s' cannot be opened as a group", name);
    *out = id;
    return SL_OK;
}

int sl_h5_group_open(sl_h5_id loc, const char *name, sl_h5_id *group)
{
    *group = -1;
    LOCKED(int, member_open_locked(loc, name, 0, group));
}

static int group_create_locked(hid_t loc, const char *name, sl_h5_id *g)
{
    hid_t id = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (id < 0) return sl_err(SL_EIO, "cannot create group '%s'", name);
    *g = id;
    return SL_OK;
}

int sl_h5_group_create(sl_h5_id loc, const char *name, sl_h5_id *group)
{
    *group = -1;
    LOCKED(int, group_create_locked(loc, name, group));
}

static int unlink_locked(hid_t loc, const char *name)
{
    return H5Ldelete(loc, name, H5P_DEFAULT) < 0 ? sl_err(SL_EIO, "cannot remove '%s'", name)
                                                 : SL_OK;
}

int sl_h5_unlink(sl_h5_id loc, const char *name)
{
    LOCKED(int, unlink_locked(loc, name));
}

/* ---- strings ------------------------------------------------------------------------------- */

static int attr_write_str_locked(hid_t loc, const char *name, const char *value)
{
    hid_t t = vlen_str_type(), sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, t, &value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return e < 0 ? sl_err(SL_EIO, "cannot write attribute '%s'", name) : SL_OK;
}

int sl_h5_attr_write_str(sl_h5_id loc, const char *name, const char *value)
{
    LOCKED(int, attr_write_str_locked(loc, name, value));
}

static int attr_write_int_locked(hid_t loc, const char *name, int value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT, &value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return e < 0 ? sl_err(SL_EIO, "cannot write attribute '%s'", name) : SL_OK;
}

int sl_h5_attr_write_int(sl_h5_id loc, const char *name, int value)
{
    LOCKED(int, attr_write_int_locked(loc, name, value));
}

/* ---- declared string lengths --------------------------------------------------------------- *
 *
 * libhdf5 1.10 converts a variable-length string by allocating and clearing a buffer of the
 * length the element declares on file before it reads the string's bytes: a damaged file whose
 * /model_config declares 3.2 GB cost 11 s of CPU and 3 GB of memory before the read failed
 * (tests/model/fuzz_found/hdf5-vlen-conv-slow.h5). So the declared lengths are learnt first, by
 * reading the object once into len_type, a 4-byte opaque type, through conv_vlen_len below,
 * registered with HDF5 for variable-length -> opaque (a pair nothing else converts). HDF5 hands
 * it the elements as stored on file: each is its length as 4 little-endian bytes, then the
 * global heap id of its bytes (HDF5 File Format Specification, variable-length data); it keeps
 * the length and never reads the heap. */
#define LEN_TAG "scissionlite: declared length of a variable-length string"

static herr_t conv_vlen_len(hid_t src, hid_t dst, H5T_cdata_t *cd, size_t n, size_t stride,
                            size_t bkg_stride, void *buf, void *bkg, hid_t dxpl)
{
    (void)bkg_stride, (void)bkg, (void)dxpl;
    if (cd->command == H5T_CONV_INIT) {
        /* Only into our own type, and only from a variable-length string (on file: a length
         * and a heap id, at least 4 bytes). Refusing makes HDF5 look for another conversion. */
        char *tag = H5Tget_tag(dst);
        int ok = tag && !strcmp(tag, LEN_TAG) && H5Tget_size(dst) == 4 &&
                 H5Tis_variable_str(src) > 0 && H5Tget_size(src) >= 4;
        H5free_memory(tag);
        cd->need_bkg = H5T_BKG_NO;
        return ok ? 0 : -1;
    }
    if (cd->command != H5T_CONV_CONV) return 0;
    size_t ss = H5Tget_size(src);
    if (ss < 4) return -1;
    size_t sstep = stride ? stride : ss, dstep = stride ? stride : 4;
    unsigned char *p = buf;
    /* In place, first to last: element i's 4 bytes go at or before where element i was. */
    for (size_t i = 0; i < n; i++) {
        const unsigned char *s = p + i * sstep;
        uint32_t len =
            (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
        memcpy(p + i * dstep, &len, sizeof len);
    }
    return 0;
}

/* The lengths in bytes the n elements of variable-length string object obj (an attribute or a
 * dataset) declare, into len[n], from the stored elements only (nothing is read from the global
 * heap). SL_EFORMAT naming `what` when they cannot be read, or when the string type's characters
 * are not 1 byte wide: libhdf5 allocates and clears length x width bytes before it reads a
 * string, and a damaged type declaring 452,984,833-byte characters (`format`, found by the
 * bundle fuzzer) cost over 10 s and 1 GB although its length was small. */
static int vlen_declared(hid_t obj, int is_attr, const char *what, uint32_t *len)
{
    hid_t ft = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    hid_t ct = ft < 0 ? -1 : H5Tget_super(ft);
    size_t width = ct < 0 ? 0 : H5Tget_size(ct);
    if (ct >= 0) H5Tclose(ct);
    if (ft >= 0) H5Tclose(ft);
    if (width != 1)
        return sl_err(SL_EFORMAT,
                      "'%s' declares %zu-byte characters (strings of 1-byte characters are "
                      "read; a damaged file?): not read",
                      what, width);
    static hid_t len_type = -1; /* registered once per process, under the lock */
    if (len_type < 0) {
        hid_t t = H5Tcreate(H5T_OPAQUE, 4), vs = vlen_str_type();
        if (t >= 0 && H5Tset_tag(t, LEN_TAG) >= 0 &&
            H5Tregister(H5T_PERS_SOFT, "sl_vlen_declared_length", vs, t, conv_vlen_len) >= 0)
            len_type = t;
        else if (t >= 0)
            H5Tclose(t);
        H5Tclose(vs);
        if (len_type < 0) return sl_err(SL_EFORMAT, "'%s': cannot learn its declared length", what);
    }
    herr_t e = is_attr ? H5Aread(obj, len_type, len)
                       : H5Dread(obj, len_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, len);
    return e < 0 ? sl_err(SL_EFORMAT, "'%s' cannot be read (its declared length)", what) : SL_OK;
}

/* Reads a one-element string (attribute or dataset), fixed or variable length, of at most
 * SL_H5_MAX_STRING bytes: a longer one is refused from what it declares, before it is read. */
static int read_str_obj(hid_t obj, int is_attr, const char *what, char **out)
{
    hid_t ft = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    hid_t sp = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
    int rc = SL_OK;
    int vlen = ft < 0 ? 0 : H5Tis_variable_str(ft) > 0;
    uint32_t declared = 0;
    if (ft < 0 || H5Tget_class(ft) != H5T_STRING)
        rc = sl_err(SL_EFORMAT, "'%s' is not a string", what);
    else if (sp < 0 || H5Sget_simple_extent_npoints(sp) != 1)
        rc = sl_err(SL_EFORMAT, "'%s' is not a single string", what);
    else if (vlen)
        rc = vlen_declared(obj, is_attr, what, &declared);
    uint64_t len = vlen ? declared : ft < 0 ? 0 : H5Tget_size(ft);
    if (!rc && len > SL_H5_MAX_STRING)
        rc = sl_err(SL_EFORMAT,
                    "'%s' declares a string of %llu bytes, over the limit of %d "
                    "(a damaged file?): not read",
                    what, (unsigned long long)len, SL_H5_MAX_STRING);
    if (!rc && vlen) {
        hid_t mt = vlen_str_type();
        char *s = NULL;
        herr_t e = is_attr ? H5Aread(obj, mt, &s)
                           : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s);
        if (e < 0 || !s)
            rc = sl_err(SL_EFORMAT, "'%s' cannot be read", what);
        else if (!(*out = strdup(s)))
            rc = sl_err(SL_ENOMEM, "out of memory reading '%s'", what);
        if (s) H5free_memory(s);
        H5Tclose(mt);
    } else if (!rc) {
        size_t n = H5Tget_size(ft);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, n + 1);
        char *s = calloc(n + 2, 1);
        herr_t e = !s ? -1
                   : is_attr ? H5Aread(obj, mt, s)
                             : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, s);
        if (e < 0) {
            free(s);
            rc = sl_err(SL_EFORMAT, "'%s' cannot be read", what);
        } else {
            *out = s;
        }
        H5Tclose(mt);
    }
    if (sp >= 0) H5Sclose(sp);
    if (ft >= 0) H5Tclose(ft);
    return rc;
}

/* Opens attribute `name` of loc into *a: SL_ENOTFOUND when missing, SL_EFORMAT when it cannot
 * be opened. */
static int attr_open_locked(hid_t loc, const char *name, hid_t *a)
{
    if (H5Aexists(loc, name) <= 0) return sl_err(SL_ENOTFOUND, "attribute '%s' is missing", name);
    hid_t a_id = H5Aopen(loc, name, H5P_DEFAULT);
    if (a_id < 0) return sl_err(SL_EFORMAT, "attribute '%s' cannot be opened", name);
    *a = a_id;
    return SL_OK;
}

static int attr_read_str_locked(hid_t loc, const char *name, char **out)
{
    hid_t a = -1;
    int rc = attr_open_locked(loc, name, &a);
    if (rc) return rc;
    rc = read_str_obj(a, 1, name, out);
    H5Aclose(a);
    return rc;
}

int sl_h5_attr_read_str(sl_h5_id loc, const char *name, char **out)
{
    *out = NULL;
    LOCKED(int, attr_read_str_locked(loc, name, out));
}

static int attr_read_int_locked(hid_t loc, const char *name, int *out)
{
    hid_t a = -1;
    int rc = attr_open_locked(loc, name, &a);
    if (rc) return rc;
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    if (ft < 0 || H5Tget_class(ft) != H5T_INTEGER || sp < 0 || H5Sget_simple_extent_npoints(sp) != 1 ||
        H5Aread(a, H5T_NATIVE_INT, out) < 0)
        rc = sl_err(SL_EFORMAT, "attribute '%s' is not an integer", name);
    if (sp >= 0) H5Sclose(sp);
    if (ft >= 0) H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

int sl_h5_attr_read_int(sl_h5_id loc, const char *name, int *out)
{
    LOCKED(int, attr_read_int_locked(loc, name, out));
}

static int str_write_locked(hid_t loc, const char *name, const char *value)
{
    hid_t t = vlen_str_type(), sp = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    return e < 0 ? sl_err(SL_EIO, "cannot write dataset '%s'", name) : SL_OK;
}

int sl_h5_str_write(sl_h5_id loc, const char *name, const char *value)
{
    LOCKED(int, str_write_locked(loc, name, value));
}

static int str_read_locked(hid_t loc, const char *name, char **out)
{
    if (!exists_locked(loc, name)) return sl_err(SL_ENOTFOUND, "'%s' is missing", name);
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return sl_err(SL_EFORMAT, "'%s' cannot be opened", name);
    int rc = read_str_obj(d, 0, name, out);
    H5Dclose(d);
    return rc;
}

int sl_h5_str_read(sl_h5_id loc, const char *name, char **out)
{
    *out = NULL;
    LOCKED(int, str_read_locked(loc, name, out));
}

static int strs_write_locked(hid_t loc, const char *name, const char *const *v, int64_t n,
                             int64_t cols)
{
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)cols};
    hid_t t = vlen_str_type(), sp = H5Screate_simple(cols > 0 ? 2 : 1, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : n ? H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) : 0;
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    return e < 0 ? sl_err(SL_EIO, "cannot write dataset '%s'", name) : SL_OK;
}

int sl_h5_strs_write(sl_h5_id loc, const char *name, const char *const *v, int64_t n,
                     int64_t cols)
{
    LOCKED(int, strs_write_locked(loc, name, v, n, cols));
}

/* SL_OK when the n variable-length strings of dataset d declare at most SL_H5_MAX_STRING bytes
 * each and SL_H5_MAX_STRINGS_BYTES in all (vlen_declared: nothing is converted yet), else
 * SL_EFORMAT naming the dataset, the element and the limit. */
static int strs_declared_check(hid_t d, const char *name, size_t n)
{
    uint32_t *len = malloc(n * sizeof *len);
    if (!len) return sl_err(SL_ENOMEM, "out of memory reading '%s'", name);
    int rc = vlen_declared(d, 0, name, len);
    uint64_t sum = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        sum += len[i];
        if (len[i] > SL_H5_MAX_STRING)
            rc = sl_err(SL_EFORMAT,
                        "'%s': string %zu declares %lu bytes, over the limit of %d "
                        "(a damaged file?): not read",
                        name, i, (unsigned long)len[i], SL_H5_MAX_STRING);
        else if (sum > SL_H5_MAX_STRINGS_BYTES)
            rc = sl_err(SL_EFORMAT,
                        "'%s': its strings declare over %lld bytes in all, the limit "
                        "(a damaged file?): not read",
                        name, (long long)SL_H5_MAX_STRINGS_BYTES);
    }
    free(len);
    return rc;
}

static int strs_read_locked(hid_t loc, const char *name, char ***out, int64_t *n)
{
    if (!exists_locked(loc, name)) return sl_err(SL_ENOTFOUND, "'%s' is missing", name);
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return sl_err(SL_EFORMAT, "'%s' cannot be opened", name);
    hid_t sp = H5Dget_space(d), ft = H5Dget_type(d);
    hssize_t np = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    int rc = SL_OK;
    if (ft < 0 || H5Tget_class(ft) != H5T_STRING || np < 0 || np > (1 << 28))
        rc = sl_err(SL_EFORMAT, "'%s' is not an array of strings", name);
    else if (np && H5Tis_variable_str(ft) > 0)
        rc = strs_declared_check(d, name, (size_t)np);
    if (!rc) {
        size_t total = (size_t)np;
        char **v = calloc(total + 1, sizeof *v), **copy = calloc(total + 1, sizeof *copy);
        hid_t t = vlen_str_type();
        if (!v || !copy)
            rc = sl_err(SL_ENOMEM, "out of memory reading '%s'", name);
        else if (total && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
            rc = sl_err(SL_EFORMAT, "'%s' cannot be read as strings", name);
        else {
            for (size_t i = 0; i < total && rc == SL_OK; i++)
                if (!(copy[i] = strdup(v[i] ? v[i] : "")))
                    rc = sl_err(SL_ENOMEM, "out of memory reading '%s'", name);
            if (total) H5Dvlen_reclaim(t, sp, H5P_DEFAULT, v);
        }
        H5Tclose(t);
        free(v);
        if (rc == SL_OK) {
            *out = copy;
            *n = (int64_t)total;
        } else {
            for (size_t i = 0; copy && i < total; i++)
                free(copy[i]);
            free(copy);
        }
    }
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

int sl_h5_strs_read(sl_h5_id loc, const char *name, char ***out, int64_t *n)
{
    *out = NULL;
    *n = 0;
    LOCKED(int, strs_read_locked(loc, name, out, n));
}

/* ---- numeric datasets ---------------------------------------------------------------------- */

/* libhdf5 1.10.8 converts numbers of the size their type declares out of a buffer sized for
 * ours: a float type declaring 3,305,058-byte elements made it read far past the buffer (the
 * bundle fuzzer's tests/model/fuzz_found/hdf5-float-size-overread.h5). No number we read is
 * wider than 8 bytes, so every numeric read refuses wider ones first. */
static int number_size_ok(size_t size)
{
    return size >= 1 && size <= 8;
}

static int info_of(hid_t d, const char *name, sl_h5_info *out)
{
    memset(out, 0, sizeof *out);
    hid_t ft = H5Dget_type(d), sp = H5Dget_space(d), pl = H5Dget_create_plist(d);
    int rc = SL_OK;
    H5T_class_t cls = ft < 0 ? H5T_NO_CLASS : H5Tget_class(ft);
    int nd = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    if (nd < 0 || nd > SL_H5_MAX_RANK) {
        rc = sl_err(SL_EFORMAT, "dataset '%s' has an unreadable shape", name);
    } else {
        hsize_t dims[SL_H5_MAX_RANK];
        if (nd) H5Sget_simple_extent_dims(sp, dims, NULL);
        out->ndim = nd;
        for (int i = 0; i < nd; i++)
            out->dims[i] = dims[i] > (hsize_t)INT64_MAX ? INT64_MAX : (int64_t)dims[i];
        out->numeric = cls == H5T_FLOAT || cls == H5T_INTEGER;
        out->is_string = cls == H5T_STRING;
        out->elem_size = ft < 0 ? 0 : H5Tget_size(ft);
        unsigned flags;
        size_t ncd = 0;
        out->checksummed = pl >= 0 && H5Pget_filter_by_id2(pl, H5Z_FILTER_FLETCHER32, &flags,
                                                            &ncd, NULL, 0, NULL, NULL) >= 0;
    }
    if (pl >= 0) H5Pclose(pl);
    if (sp >= 0) H5Sclose(sp);
    if (ft >= 0) H5Tclose(ft);
    return rc;
}

static int info_get_locked(hid_t loc, const char *name, sl_h5_info *out)
{
    if (!exists_locked(loc, name)) return sl_err(SL_ENOTFOUND, "'%s' is missing", name);
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return sl_err(SL_EFORMAT, "dataset '%s' cannot be opened", name);
    int rc = info_of(d, name, out);
    H5Dclose(d);
    return rc;
}

int sl_h5_info_get(sl_h5_id loc, const char *name, sl_h5_info *out)
{
    LOCKED(int, info_get_locked(loc, name, out));
}

/* Chunks of about 1 MiB: whole trailing dimensions while they fit, then a slice. */
static void pick_chunk(int nd, const hsize_t *dims, size_t esize, hsize_t *chunk)
{
    const hsize_t budget = (hsize_t)1 << 20;
    hsize_t inner = esize;
    int i = nd - 1;
    for (; i >= 0; i--) {
        if (inner * dims[i] <= budget) {
            chunk[i] = dims[i];
            inner *= dims[i];
            continue;
        }
        hsize_t c = budget / inner;
        chunk[i] = c < 1 ? 1 : c;
        break;
    }
    for (int j = i - 1; j >= 0; j--)
        chunk[j] = 1;
}

static int write_locked(hid_t loc, const char *name, sl_h5_type type, int nd, const int64_t *dims,
                        const void *data, unsigned flags)
{
    if (nd < 0 || nd > SL_H5_MAX_RANK) return sl_err(SL_EARG, "dataset '%s': rank %d", name, nd);
    hsize_t hd[SL_H5_MAX_RANK], chunk[SL_H5_MAX_RANK];
    int empty = 0;
    for (int i = 0; i < nd; i++) {
        hd[i] = (hsize_t)dims[i];
        empty |= dims[i] == 0;
    }
    hid_t sp = nd ? H5Screate_simple(nd, hd, NULL) : H5Screate(H5S_SCALAR);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE), lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (flags & SL_H5_PARENTS) H5Pset_create_intermediate_group(lcpl, 1);
    if ((flags & SL_H5_CHECKSUM) && nd && !empty) {
        pick_chunk(nd, hd, type_size(type), chunk);
        H5Pset_chunk(dcpl, nd, chunk);
        H5Pset_fletcher32(dcpl);
    }
    hid_t d = H5Dcreate2(loc, name, file_type(type), sp, lcpl, dcpl, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : empty ? 0 : H5Dwrite(d, mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (d >= 0) H5Dclose(d);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Sclose(sp);
    return e < 0 ? sl_err(SL_EIO, "cannot write dataset '%s'", name) : SL_OK;
}

int sl_h5_write(sl_h5_id loc, const char *name, sl_h5_type type, int nd, const int64_t *dims,
                const void *data, unsigned flags)
{
    LOCKED(int, write_locked(loc, name, type, nd, dims, data, flags));
}

static int read_locked(hid_t loc, const char *name, sl_h5_type type, void *data, int64_t count)
{
    if (!exists_locked(loc, name)) return sl_err(SL_ENOTFOUND, "'%s' is missing", name);
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return sl_err(SL_EFORMAT, "dataset '%s' cannot be opened", name);
    sl_h5_info in;
    int rc = info_of(d, name, &in);
    int64_t n = 1;
    for (int i = 0; rc == SL_OK && i < in.ndim; i++)
        n = in.dims[i] && n > INT64_MAX / in.dims[i] ? INT64_MAX : n * in.dims[i];
    if (rc == SL_OK && !in.numeric)
        rc = sl_err(SL_EFORMAT, "dataset '%s' is not numeric", name);
    else if (rc == SL_OK && !number_size_ok(in.elem_size))
        rc = sl_err(SL_EFORMAT, "dataset '%s' declares %zu-byte numbers (1 to 8 are read)", name,
                    in.elem_size);
    else if (rc == SL_OK && n != count)
        rc = sl_err(SL_EFORMAT, "dataset '%s' holds %lld values, expected %lld", name,
                    (long long)n, (long long)count);
    else if (rc == SL_OK && count &&
             H5Dread(d, mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        rc = in.checksummed
                 ? sl_err(SL_EFORMAT, "dataset '%s' fails its Fletcher32 checksum or cannot be "
                                      "read (corrupt or truncated file)", name)
                 : sl_err(SL_EFORMAT, "dataset '%s' cannot be read (truncated or corrupt file?)",
                          name);
    H5Dclose(d);
    return rc;
}

int sl_h5_read(sl_h5_id loc, const char *name, sl_h5_type type, void *data, int64_t count)
{
    LOCKED(int, read_locked(loc, name, type, data, count));
}

/* ---- rows ---------------------------------------------------------------------------------- */

static int dataset_create_locked(hid_t loc, const char *name, sl_h5_type type, int nd,
                                 const int64_t *dims, const int64_t *chunk, sl_h5_id *dset)
{
    if (nd < 1 || nd > SL_H5_MAX_RANK) return sl_err(SL_EARG, "dataset '%s': rank %d", name, nd);
    hsize_t hd[SL_H5_MAX_RANK], hc[SL_H5_MAX_RANK];
    for (int i = 0; i < nd; i++) {
        hd[i] = (hsize_t)dims[i];
        hc[i] = chunk ? (hsize_t)chunk[i] : 0;
    }
    hid_t sp = H5Screate_simple(nd, hd, NULL), pl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk) H5Pset_chunk(pl, nd, hc);
    hid_t d = H5Dcreate2(loc, name, file_type(type), sp, H5P_DEFAULT, pl, H5P_DEFAULT);
    H5Pclose(pl);
    H5Sclose(sp);
    if (d < 0) return sl_err(SL_EIO, "cannot create dataset '%s'", name);
    *dset = d;
    return SL_OK;
}

int sl_h5_dataset_create(sl_h5_id loc, const char *name, sl_h5_type type, int nd,
                         const int64_t *dims, const int64_t *chunk, sl_h5_id *dset)
{
    *dset = -1;
    LOCKED(int, dataset_create_locked(loc, name, type, nd, dims, chunk, dset));
}

int sl_h5_dataset_open(sl_h5_id loc, const char *name, sl_h5_id *dset)
{
    *dset = -1;
    LOCKED(int, member_open_locked(loc, name, 1, dset));
}

static int rows_io_locked(hid_t d, sl_h5_type type, int64_t row, int64_t nrows, void *data,
                          int write)
{
    hid_t fs = H5Dget_space(d), ft = H5Dget_type(d);
    int nd = fs < 0 ? -1 : H5Sget_simple_extent_ndims(fs);
    size_t esize = ft < 0 ? 0 : H5Tget_size(ft);
    if (ft >= 0) H5Tclose(ft);
    herr_t e = -1;
    if (!number_size_ok(esize)) {
        char nm[256] = "?";
        if (H5Iget_name(d, nm, sizeof nm) < 0) snprintf(nm, sizeof nm, "?");
        if (fs >= 0) H5Sclose(fs);
        return sl_err(SL_EFORMAT, "dataset '%s' declares %zu-byte numbers (1 to 8 are read)", nm,
                      esize);
    }
    if (nd >= 1 && nd <= SL_H5_MAX_RANK) {
        hsize_t dims[SL_H5_MAX_RANK], start[SL_H5_MAX_RANK] = {0}, cnt[SL_H5_MAX_RANK];
        H5Sget_simple_extent_dims(fs, dims, NULL);
        for (int i = 0; i < nd; i++)
            cnt[i] = dims[i];
        start[0] = (hsize_t)row;
        cnt[0] = (hsize_t)nrows;
        if (row >= 0 && nrows >= 0 && (hsize_t)(row + nrows) <= dims[0]) {
            hid_t ms = H5Screate_simple(nd, cnt, NULL);
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
            e = write ? H5Dwrite(d, mem_type(type), ms, fs, H5P_DEFAULT, data)
                      : H5Dread(d, mem_type(type), ms, fs, H5P_DEFAULT, data);
            H5Sclose(ms);
        }
    }
    if (fs >= 0) H5Sclose(fs);
    return e < 0 ? sl_err(write ? SL_EIO : SL_EFORMAT, "%s rows %lld..%lld failed",
                          write ? "writing" : "reading", (long long)row,
                          (long long)(row + nrows - 1))
                 : SL_OK;
}

int sl_h5_rows_write(sl_h5_id dset, sl_h5_type type, int64_t row, int64_t nrows, const void *data)
{
    LOCKED(int, rows_io_locked(dset, type, row, nrows, (void *)data, 1));
}

int sl_h5_rows_read(sl_h5_id dset, sl_h5_type type, int64_t row, int64_t nrows, void *data)
{
    LOCKED(int, rows_io_locked(dset, type, row, nrows, data, 0));
}

static int set_rows_locked(hid_t d, int64_t rows)
{
    hid_t fs = H5Dget_space(d);
    int nd = fs < 0 ? -1 : H5Sget_simple_extent_ndims(fs);
    herr_t e = -1;
    if (nd >= 1 && nd <= SL_H5_MAX_RANK) {
        hsize_t dims[SL_H5_MAX_RANK];
        H5Sget_simple_extent_dims(fs, dims, NULL);
        dims[0] = (hsize_t)rows;
        e = H5Dset_extent(d, dims);
    }
    if (fs >= 0) H5Sclose(fs);
    return e < 0 ? sl_err(SL_EIO, "cannot resize to %lld rows", (long long)rows) : SL_OK;
}

int sl_h5_set_rows(sl_h5_id dset, int64_t rows)
{
    LOCKED(int, set_rows_locked(dset, rows));
}

/* ---- walking ------------------------------------------------------------------------------- */

struct walk {
    sl_h5_visit_fn fn;
    void *arg;
    int rc;
};

static herr_t visit_obj(hid_t loc, const char *name, const H5O_info_t *info, void *data)
{
    struct walk *w = data;
    if (info->type != H5O_TYPE_DATASET) return 0;
    return (w->rc = w->fn(loc, name, w->arg)) ? -1 : 0;
}

static herr_t visit_link(hid_t loc, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    struct walk *w = data;
    H5O_info_t oi;
    if (H5Oget_info_by_name2(loc, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
        oi.type != H5O_TYPE_DATASET)
        return 0;
    return (w->rc = w->fn(loc, name, w->arg)) ? -1 : 0;
}

static int visit_locked(hid_t loc, int recursive, sl_h5_visit_fn fn, void *arg)
{
    struct walk w = {fn, arg, SL_OK};
    herr_t e = recursive
                   ? H5Ovisit2(loc, H5_INDEX_NAME, H5_ITER_INC, visit_obj, &w, H5O_INFO_BASIC)
                   : H5Literate(loc, H5_INDEX_NAME, H5_ITER_INC, NULL, visit_link, &w);
    if (w.rc) return w.rc;
    return e < 0 ? sl_err(SL_EFORMAT, "cannot list the datasets of a group") : SL_OK;
}

int sl_h5_visit(sl_h5_id loc, int recursive, sl_h5_visit_fn fn, void *arg)
{
    LOCKED(int, visit_locked(loc, recursive, fn, arg));
}
