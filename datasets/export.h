/* export.h: a split of a dataset as a folder of links, for tools that take image folders.
 *
 * `sl-offload bench --images DIR` and `run --images DIR` read image files from a folder; a
 * flat or MVTec dataset has no folder holding just its test split (that split is a seeded
 * ratio split of the files). sl_dataset_link writes one: DIR/<class>/<name>, each a symbolic
 * link to the item's file, <name> being the item's path below the dataset root with '/' made
 * '_' (so names never collide, e.g. MVTec's train/good/000.png and test/good/000.png).
 */
#ifndef SL_DATASETS_EXPORT_H
#define SL_DATASETS_EXPORT_H

#include "datasets/dataset.h"

/* Creates `dir` (which must not exist) holding a link per item of `ds` as above. Built in a
 * temporary folder beside `dir` and renamed into place: on error nothing is left at `dir`.
 * Links point at absolute paths, so `dir` can be moved. Returns SL_OK; SL_EARG (a cache:
 * there are no image files to link; `dir` exists), SL_EIO (with the path and the reason). */
int sl_dataset_link(const sl_dataset *ds, const char *dir);

#endif
