/* tensor_io.c: plain HDF5 tensor files. */
#include "model/tensor_io.h"
#include "common/fsutil.h"
#include "common/status.h"
#include "h5/h5.h"

#include <unistd.h>

/* Opens path and checks dataset `name` (present, numeric, 1 to SL_MAX_DIMS dims), filling *in.
 * On success *f is open (the caller closes it); errors name the dataset, not yet the file. */
static int open_checked(const char *path, const char *name, sl_h5_id *f, sl_h5_info *in)
{
    int rc = sl_h5_open(path, f);
    if (rc) return rc;
    if (!sl_h5_exists(*f, name)) rc = sl_err(SL_ENOTFOUND, "has no dataset '%s'", name);
    else rc = sl_h5_info_get(*f, name, in);
    if (rc == SL_OK && (!in->numeric || in->ndim < 1 || in->ndim > SL_MAX_DIMS))
        rc = sl_err(SL_EFORMAT, "dataset '%s' must be a numeric array of 1 to %d dims", name,
                    SL_MAX_DIMS);
    if (rc) sl_h5_close(*f);
    return rc;
}

int sl_tensor_h5_check(const char *path, const char *name)
{
    sl_h5_id f;
    sl_h5_info in;
    int rc = open_checked(path, name, &f, &in);
    if (rc) return sl_err_ctx(rc, "%s: ", path);
    sl_h5_close(f);
    return SL_OK;
}

int sl_tensor_h5_read(const char *path, const char *name, sl_tensor **out)
{
    *out = NULL;
    sl_h5_id f;
    sl_h5_info in;
    int rc = open_checked(path, name, &f, &in);
    if (rc) return sl_err_ctx(rc, "%s: ", path);
    void *data;
    if (sl_tensor_empty(in.dims, in.ndim, SL_DT_F32, out) || sl_tensor_data_ptr(*out, &data))
        rc = sl_err(SL_ETORCH, "dataset '%s': %s", name, sl_torch_last_error());
    if (rc == SL_OK) rc = sl_h5_read(f, name, SL_H5_F32, data, sl_tensor_numel(*out));
    sl_h5_close(f);
    if (rc) {
        sl_tensor_free(*out);
        *out = NULL;
        return sl_err_ctx(rc, "%s: ", path);
    }
    return SL_OK;
}

int sl_tensor_h5_write(const char *path, const char *const *names, const sl_tensor *const *ts, int n)
{
    char tmp[4096];
    int rc = sl_tmp_path_for(path, tmp, sizeof tmp);
    if (rc) return rc;
    sl_h5_id f;
    if (sl_h5_create(tmp, &f)) return sl_err(SL_EIO, "%s: cannot create file", path);
    for (int i = 0; i < n && !rc; i++) {
        sl_tensor *fl = NULL;
        int64_t shape[SL_MAX_DIMS];
        int nd;
        void *data;
        if (sl_tensor_to_dtype(ts[i], SL_DT_F32, &fl) || sl_tensor_shape(fl, shape, SL_MAX_DIMS, &nd) ||
            sl_tensor_data_ptr(fl, &data))
            rc = sl_err(SL_ETORCH, "%s: %s", path, sl_torch_last_error());
        else if ((rc = sl_h5_write(f, names[i], SL_H5_F32, nd, shape, data, SL_H5_CHECKSUM)))
            rc = sl_err_ctx(rc, "%s: ", path);
        sl_tensor_free(fl);
    }
    if (sl_h5_close(f) && !rc) rc = sl_err(SL_EIO, "%s: cannot finish writing", path);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    return sl_commit_tmp(tmp, path);
}
