/* fuzz_bundle.c: libFuzzer target for the bundle loader — everything a deployed or opened bundle
 * file goes through: HDF5 (via h5/, from a memory image), the root attributes, the graph JSON, the
 * declared-shape and weight-limit checks, every weight (checksums, conversion, finiteness),
 * /extra, and the wire description. It runs sl_bundle_check_image, the loader's own reading code
 * in its check mode (what the edge's check process runs on an upload: values into scratch memory),
 * so no execution needs a file or the model runtime. An input that starts with '{' is also given
 * to the wire and graph JSON parsers directly, so their deeper branches are reached without a
 * valid HDF5 file around them. Built and run by bench/fuzz_bundle.sh. */
#include "common/log.h"
#include "common/status.h"
#include "model/bundle.h"
#include "model/wire_desc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sl_log_set_level(0); /* unknown-key warnings of the graph JSON: quiet */
    /* A fuzzed file may declare up to 1 MiB of weights (the seeds have about 100 kB); beyond, the
     * limit refuses it. A larger limit lets mutated shapes make most executions read megabytes of
     * fill values, which tests nothing new and costs most of the time. */
    setenv("SL_MAX_WEIGHT_BYTES", "1048576", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_bundle_check_image(data, size, "fuzz", SL_BUNDLE_CHECK_WEIGHTS);
    if (size && data[0] == '{' && size < (1u << 16)) {
        char *text = malloc(size + 1);
        if (!text) return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        sl_wire_desc w;
        sl_wire_desc_parse(text, &w);
        sl_graph *g = NULL;
        if (sl_graph_from_json(text, &g) == SL_OK) sl_graph_free(g);
        free(text);
    }
    return 0;
}
