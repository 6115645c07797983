/* cmd_common.c: options shared by sl-offload commands (see commands.h). */
#include "common/cli.h"
#include "common/status.h"
#include "datasets/image.h"
#include "offloader/commands.h"

#include <stdint.h>

static int set_max_pixels(void *dest, const char *v)
{
    (void)dest;
    long n;
    if (sl_parse_long("--max-pixels", v, 1, 4294836225L, &n)) return SL_EARG;
    sl_image_set_max_pixels((uint64_t)n);
    return SL_OK;
}

const sl_opt sl_cmd_image_opts[] = {
    SL_OPT_CALLBACK(0, "max-pixels", NULL, "N", set_max_pixels,
                    "refuse images of more than N pixels from their header (default 67108864,\n"
                    "8192 x 8192)"),
    SL_OPT_END,
};
