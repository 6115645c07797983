/* trainer_data.h: a small, reliably learnable image set for the trainer tests.
 *
 * Three classes of 1-channel 32 x 32 PNGs on a noisy grey background: "blob" (a bright 6 x 6
 * square anywhere), "clean" (background only) and "line" (a dark 2-pixel row across). Position
 * and noise are random but fixed by the image number, so every run writes the same files.
 */
#ifndef SL_TESTS_TRAINER_DATA_H
#define SL_TESTS_TRAINER_DATA_H

#include "common/fsutil.h"
#include "datasets/image.h"

#include <stdint.h>
#include <stdio.h>

static inline uint32_t td_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 33);
}

/* Writes root/<split>/<class>/<k>.png for split train (n_train per class) and val (n_val).
 * Returns 0 on success. */
static inline int td_write(const char *root, int n_train, int n_val)
{
    static const char *const cls[3] = {"blob", "clean", "line"};
    const char *splits[2] = {"train", "val"};
    int counts[2] = {n_train, n_val};
    uint8_t px[32 * 32];
    char dir[1024], path[1100];
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < 3; c++) {
            snprintf(dir, sizeof dir, "%s/%s/%s", root, splits[s], cls[c]);
            if (sl_mkdir_p(dir)) return -1;
            for (int k = 0; k < counts[s]; k++) {
                uint64_t st = (uint64_t)(s * 100000 + c * 1000 + k) * 2654435761ULL + 7;
                for (int i = 0; i < 32 * 32; i++)
                    px[i] = (uint8_t)(90 + td_rand(&st) % 41);
                int x = (int)(td_rand(&st) % 26), y = (int)(td_rand(&st) % 26);
                if (c == 0)
                    for (int dy = 0; dy < 6; dy++)
                        for (int dx = 0; dx < 6; dx++)
                            px[(y + dy) * 32 + x + dx] = 230;
                if (c == 2)
                    for (int i = 0; i < 32; i++)
                        px[y * 32 + i] = px[(y + 1) * 32 + i] = 15;
                snprintf(path, sizeof path, "%s/%03d.png", dir, k);
                if (sl_png_write(path, 32, 32, 1, px)) return -1;
            }
        }
    return 0;
}

#endif
