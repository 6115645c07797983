/* loader.h: opens the shim's shared library (libtorch behind it) on the first call that needs it.
 * Internal to shim/: callers use the public headers (shim/sl_torch.h ...), whose functions are
 * defined by the generated forwarders (shim/gen_forward.py), which call these.
 *
 * A command that runs no model never calls a forwarder that loads, so libtorch (about 290 shared
 * libraries, 0.4 s and 150 MB) stays out of its process. Where the library is looked for:
 *   1. $SL_SHIM_LIB, when set and not empty (only there);
 *   2. <directory of the executable>/../lib/<library file name> (an installed or copied tree);
 *   3. the path the build tree put it at (commands and tests run from the build folder).
 * Before it, each shared library in <folder of the library>/torch-stubs/, when that exists, is
 * dlopened: the empty stand-ins of cmake/torch-stubs.py, so that libtorch's DT_NEEDED of those
 * sonames is met by them (loader.c, open_stubs; plain loading, with one warning, if they cannot
 * be used); SL_TORCH_STUBS=0 skips them.
 * SL_SHIM_DENY=1 makes every load fail and names the function that asked on stderr (a test
 * uses it to prove that a model-free command loads nothing). SL_SHIM_DROP_PAGES=1 unmaps, once
 * loaded, the clean library pages that loading touched (the device service sets it; loader.c),
 * and again at each sl_shim_release_pages(), the one function here that commands call.
 */
#ifndef SL_SHIM_LOADER_H
#define SL_SHIM_LOADER_H

#include <stddef.h>

/* Written by the generator: the number of forwarded functions, their names, the table the
 * loader fills with their addresses (in that order), and the ABI stamp of the headers. */
extern const size_t sl_shim_nfn;
extern const char *const sl_shim_fn_names[];
extern void *sl_shim_fn[];
extern const char sl_shim_abi_expected[];

/* 0 when the library is loaded (loading it now, once per process and thread-safe, if this is
 * the first call); -1 when it cannot be, with the thread's message set to "cannot load the model
 * runtime: <why>" for sl_shim_error(). `fn` names the caller for SL_SHIM_DENY's notice. A failed
 * load is not retried. */
int sl_shim_need(const char *fn);
/* 1 once the library is loaded, else 0; never loads. */
int sl_shim_loaded(void);
/* The loader's last message on this thread ("no error" if none); owned by the loader, valid
 * until the thread's next shim call. */
const char *sl_shim_error(void);
/* With SL_SHIM_DROP_PAGES=1 and the library loaded: releases again, now, the clean library
 * pages that the process has touched since (drop_file_pages in loader.c), and returns the kB
 * released; else does nothing and returns 0. Not forwarded (no libtorch call): the device loop
 * calls it once its first image is computed, when compiling and that image have brought back
 * code that an idle or slow stream of images does not need resident (offloader/device_run.c). */
long sl_shim_release_pages(void);

#endif
