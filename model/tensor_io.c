/* tensor_io.c: plain HDF5 tensor files. */
#include "model/tensor_io.h"
#include "common/fsutil.h"
#include "common/status.h"

#include <hdf5.h>
#include <unistd.h>

int sl_tensor_h5_read(const char *path, const char *name, sl_tensor **out)
{
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (access(path, R_OK) != 0) return sl_err(SL_EIO, "%s: cannot open for reading", path);
    if (H5Fis_hdf5(path) <= 0) return sl_err(SL_EFORMAT, "%s: not an HDF5 file", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return sl_err(SL_EFORMAT, "%s: cannot open as HDF5", path);
    int rc = SL_OK;
    hid_t d = H5Lexists(f, name, H5P_DEFAULT) > 0 ? H5Dopen2(f, name, H5P_DEFAULT) : -1;
    if (d < 0) {
        H5Fclose(f);
        return sl_err(SL_ENOTFOUND, "%s: has no dataset '%s'", path, name);
    }
    hid_t sp = H5Dget_space(d), ft = H5Dget_type(d);
    int nd = H5Sget_simple_extent_ndims(sp);
    H5T_class_t cls = H5Tget_class(ft);
    if ((cls != H5T_FLOAT && cls != H5T_INTEGER) || nd < 1 || nd > SL_MAX_DIMS) {
        rc = sl_err(SL_EFORMAT, "%s: dataset '%s' must be a numeric array of 1 to %d dims", path,
                    name, SL_MAX_DIMS);
    } else {
        hsize_t dims[SL_MAX_DIMS];
        int64_t shape[SL_MAX_DIMS];
        H5Sget_simple_extent_dims(sp, dims, NULL);
        for (int i = 0; i < nd; i++) shape[i] = (int64_t)dims[i];
        void *data;
        if (sl_tensor_empty(shape, nd, SL_DT_F32, out) || sl_tensor_data_ptr(*out, &data))
            rc = sl_err(SL_ETORCH, "%s: %s", path, sl_torch_last_error());
        else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
            rc = sl_err(SL_EFORMAT, "%s: dataset '%s' cannot be read (truncated?)", path, name);
    }
    if (rc) {
        sl_tensor_free(*out);
        *out = NULL;
    }
    H5Tclose(ft);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    return rc;
}

int sl_tensor_h5_write(const char *path, const char *const *names, const sl_tensor *const *ts, int n)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    char tmp[4096];
    int rc = sl_tmp_path_for(path, tmp, sizeof tmp);
    if (rc) return rc;
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return sl_err(SL_EIO, "%s: cannot create file", path);
    for (int i = 0; i < n && !rc; i++) {
        sl_tensor *fl = NULL;
        int64_t shape[SL_MAX_DIMS];
        int nd;
        void *data;
        if (sl_tensor_to_dtype(ts[i], SL_DT_F32, &fl) || sl_tensor_shape(fl, shape, SL_MAX_DIMS, &nd) ||
            sl_tensor_data_ptr(fl, &data)) {
            rc = sl_err(SL_ETORCH, "%s: %s", path, sl_torch_last_error());
        } else {
            hsize_t dims[SL_MAX_DIMS];
            for (int k = 0; k < nd; k++) dims[k] = (hsize_t)shape[k];
            hid_t sp = H5Screate_simple(nd, dims, NULL);
            hid_t d = H5Dcreate2(f, names[i], H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (d < 0 || H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
                rc = sl_err(SL_EIO, "%s: cannot write dataset '%s'", path, names[i]);
            if (d >= 0) H5Dclose(d);
            H5Sclose(sp);
        }
        sl_tensor_free(fl);
    }
    if (H5Fclose(f) < 0 && !rc) rc = sl_err(SL_EIO, "%s: cannot finish writing", path);
    if (rc) {
        unlink(tmp);
        return rc;
    }
    return sl_commit_tmp(tmp, path);
}
