/* tensor_io.h: tensors in plain HDF5 files (the `--tensor in.h5` / `-o out.h5` format):
 * float32 datasets named e.g. /input and /output, NCHW, readable with h5py. */
#ifndef SL_MODEL_TENSOR_IO_H
#define SL_MODEL_TENSOR_IO_H

#include "shim/sl_torch.h"

/* Reads dataset `name` (any numeric type, converted to float32) into a new tensor. Errors name
 * the file and dataset. */
int sl_tensor_h5_read(const char *path, const char *name, sl_tensor **out);

/* The checks of sl_tensor_h5_read that need no model runtime: the file opens as HDF5 and has
 * dataset `name`, a numeric array of 1 to SL_MAX_DIMS dims. SL_OK, or the error
 * sl_tensor_h5_read gives. Reads no data. */
int sl_tensor_h5_check(const char *path, const char *name);

/* Writes n tensors as float32 datasets names[i] into a new file at path, atomically. */
int sl_tensor_h5_write(const char *path, const char *const *names, const sl_tensor *const *ts, int n);

#endif
