/* test_image_limits.c: a PNG decompression bomb (a few hundred bytes declaring 20000 x 20000
 * pixels) is refused from its header, before any pixel memory is allocated; the pixel cap is
 * adjustable and 0 restores the default. */
#include "common/fsutil.h"
#include "common/status.h"
#include "datasets/image.h"
#include "testutil.h"

#include <stdint.h>

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xffffffffu;
}

static size_t put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
    return 4;
}

/* One chunk (length, type, data, CRC over type + data) at p; returns its size. */
static size_t chunk(uint8_t *p, const char *type, const uint8_t *data, uint32_t n)
{
    size_t o = put_be32(p, n);
    memcpy(p + o, type, 4);
    if (n) memcpy(p + o + 4, data, n);
    o += 4 + n;
    o += put_be32(p + o, crc32_of(p + 4, 4 + n));
    return o;
}

/* A gray 8-bit PNG that declares w x h pixels and holds one empty zlib stream as image data. */
static size_t bomb(uint8_t *buf, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const uint8_t empty_zlib[8] = {0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01};
    uint8_t ihdr[13] = {0};
    put_be32(ihdr, w);
    put_be32(ihdr + 4, h);
    ihdr[8] = 8; /* bit depth; colour type 0 = gray, compression, filter, interlace 0 */
    memcpy(buf, sig, 8);
    size_t o = 8;
    o += chunk(buf + o, "IHDR", ihdr, 13);
    o += chunk(buf + o, "IDAT", empty_zlib, 8);
    o += chunk(buf + o, "IEND", NULL, 0);
    return o;
}

int main(void)
{
    uint8_t png[128];
    size_t n = bomb(png, 20000, 20000);
    CHECK(n < 100);
    CHECK_EQ(sl_image_max_pixels(), 64ull << 20);

    /* Decoding it would need 400 MB; it is refused from the header, nothing allocated. */
    sl_image img;
    int rc = sl_image_decode(png, n, "bomb.png", &img);
    CHECK_EQ(rc, SL_EFORMAT);
    const char *msg = sl_errmsg();
    CHECK_CONTAINS(msg, "bomb.png: 20000x20000 = 400000000 pixels is over the limit of 67108864");
    CHECK(img.data == NULL);

    /* The same from a file, as `sl-offload run` and `device` load images. */
    const char *dir = tu_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/bomb.png", dir);
    CHECK_OK(sl_write_file_atomic(path, png, n), sl_errmsg());
    CHECK_EQ(sl_image_load(path, &img), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "over the limit");

    /* A lower cap refuses a small honest image just over it and takes one at it. */
    uint8_t px[16 * 16] = {0};
    snprintf(path, sizeof path, "%s/small.png", dir);
    CHECK_OK(sl_png_write(path, 16, 16, 1, px), sl_errmsg());
    sl_image_set_max_pixels(255);
    CHECK_EQ(sl_image_load(path, &img), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "16x16 = 256 pixels is over the limit of 255");
    sl_image_set_max_pixels(256);
    CHECK_OK(sl_image_load(path, &img), sl_errmsg());
    CHECK_EQ(img.w, 16);
    sl_image_free(&img);
    sl_image_set_max_pixels(0);
    CHECK_EQ(sl_image_max_pixels(), SL_IMAGE_DEFAULT_MAX_PIXELS);
    tu_rmtree(dir);
    return TU_DONE();
}
