/* split_pair.h: writing the two halves of a split as one step — both are written beside their
 * places and only then renamed in, so a failure leaves the old pair (or nothing) as it was. */
#ifndef SL_PREPROCESSOR_SPLIT_PAIR_H
#define SL_PREPROCESSOR_SPLIT_PAIR_H

#include "model/bundle.h"

/* Writes device half d to dpath and edge half e to epath (different files). A half that cannot
 * be written, or a folder in the way of either, leaves both paths as they were and no temporary
 * file: SL_EIO (or the write's status) naming the path. Only when the second rename fails after
 * the first succeeded is the pair broken, and the error says so, naming both. */
int sl_split_pair_write(const char *dpath, const char *epath, const sl_bundle *d,
                        const sl_bundle *e);

#endif
