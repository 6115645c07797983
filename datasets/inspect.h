/* inspect.h: what `sl-data check` and `sl-data stats` report about a dataset, as JSON. */
#ifndef SL_DATASETS_INSPECT_H
#define SL_DATASETS_INSPECT_H

#include "datasets/dataset.h"

/* Counts per class and split, the image sizes met (width x height x channels with counts),
 * and the per-channel mean / std of the pixels (0..1, RGB; gray images count as R = G = B)
 * over the train items, or over all items when there is no train split, ready for a model
 * config. Decodes every image with `threads` workers. *json is a new string the caller frees
 * with free(). Returns SL_OK or the first decode error (message names the path), *json NULL. */
int sl_dataset_stats_json(const sl_dataset *ds, int threads, char **json);

/* {"root", "layout", "count", "classes": {name: count}, "problems": [{"path", "reason"}]}
 * as a new string (*json, caller frees). Returns SL_OK or SL_ENOMEM. */
int sl_dataset_check_json(const sl_dataset *ds, char **json);

#endif
