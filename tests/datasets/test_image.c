/* test_image.c: every PNG kind decodes to the right pixels; bad files fail with their path;
 * resampling, channel conversion and normalisation give the expected values. */
#include "common/status.h"
#include "datasets/image.h"
#include "testutil.h"

#include <png.h>
#include <stdint.h>

/* Writes a PNG with libpng's full API so the tests cover kinds sl_png_write never makes. */
static int write_png(const char *path, int w, int h, int color_type, int depth, int interlace,
                     const uint8_t *rows /* packed, row stride computed by libpng */, size_t stride,
                     int palette)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p))) {
        png_destroy_write_struct(&p, &info);
        fclose(f);
        return -1;
    }
    png_init_io(p, f);
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, depth, color_type,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (palette) {
        png_color pal[3] = {{255, 0, 0}, {0, 255, 0}, {10, 20, 30}};
        png_set_PLTE(p, info, pal, 3);
    }
    png_write_info(p, info);
    png_bytep rp[64];
    for (int y = 0; y < h; y++)
        rp[y] = (png_bytep)(rows + (size_t)y * stride);
    png_write_image(p, rp);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    return fclose(f);
}

static void test_kinds(const char *dir)
{
    char path[600];
    sl_image img;
    /* 8-bit gray */
    uint8_t g8[4 * 3] = {0, 50, 100, 150, 200, 250, 1, 2, 3, 4, 5, 6};
    snprintf(path, sizeof path, "%s/g8.png", dir);
    CHECK(write_png(path, 4, 3, PNG_COLOR_TYPE_GRAY, 8, 0, g8, 4, 0) == 0);
    CHECK_OK(sl_image_load(path, &img), sl_errmsg());
    CHECK(img.w == 4 && img.h == 3 && img.c == 1);
    CHECK(img.data && !memcmp(img.data, g8, sizeof g8));
    sl_image_free(&img);
    /* 16-bit gray: 0x8080 -> 128, 0xffff -> 255 */
    uint8_t g16[2 * 2 * 2] = {0x80, 0x80, 0xff, 0xff, 0x00, 0x00, 0x40, 0x40};
    snprintf(path, sizeof path, "%s/g16.png", dir);
    CHECK(write_png(path, 2, 2, PNG_COLOR_TYPE_GRAY, 16, 0, g16, 4, 0) == 0);
    CHECK_OK(sl_image_load(path, &img), sl_errmsg());
    CHECK(img.c == 1);
    if (img.data) {
        CHECK_NEAR(img.data[0], 128, 1);
        CHECK_EQ(img.data[1], 255);
        CHECK_EQ(img.data[2], 0);
        CHECK_NEAR(img.data[3], 64, 1);
    }
    sl_image_free(&img);
    /* gray + alpha: alpha dropped, gray kept */
    uint8_t ga[2 * 2] = {77, 0, 200, 255};
    snprintf(path, sizeof path, "%s/ga.png", dir);
    CHECK(write_png(path, 2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, ga, 4, 0) == 0);
    CHECK_OK(sl_image_load(path, &img), sl_errmsg());
    CHECK(img.c == 1 && img.data && img.data[0] == 77 && img.data[1] == 200);
    sl_image_free(&img);
    /* RGB 8-bit, interlaced 5x5 so every Adam7 pass is non-empty */
    uint8_t rgb[5 * 5 * 3];
    for (int i = 0; i < 75; i++)
        rgb[i] = (uint8_t)(i * 3);
    snprintf(path, sizeof path, "%s/rgbi.png", dir);
    CHECK(write_png(path, 5, 5, PNG_COLOR_TYPE_RGB, 8, 1, rgb, 15, 0) == 0);
    CHECK_OK(sl_image_load(path, &img), sl_errmsg());
    CHECK(img.w == 5 && img.h == 5 && img.c == 3 && img.data && !memcmp(img.data, rgb, 75));
    sl_image_free(&img);
    /* RGBA 16-bit: colour kept even where alpha is 0 */
    uint8_t rgba16[2 * 8] = {0xff,    0xff, 0,    0,    0x80, 0x80, 0,    0,
                             /* */ 0, 0,    0x20, 0x20, 0,    0,    0xff, 0xff};
    snprintf(path, sizeof path, "%s/rgba16.png", dir);
    CHECK(write_png(path, 2, 1, PNG_COLOR_TYPE_RGBA, 16, 0, rgba16, 16, 0) == 0);
    CHECK_OK(sl_image_load(path, &img), sl_errmsg());
    CHECK(img.c == 3);
    if (img.data) {
        CHECK_EQ(img.data[0], 255);
        CHECK_EQ(img.data[1], 0);
        CHECK_NEAR(img.data[2], 128, 1);
        CHECK_EQ(img.data[3], 0);
        CHECK_NEAR(img.data[4], 32, 1);
        CHECK_EQ(img.data[5], 0);
    }
    sl_image_free(&img);
    /* palette, 2-bit indices: 0 1 2 1 */
    uint8_t pal[1] = {(0 << 6) | (1 << 4) | (2 << 2) | 1};
    snprintf(path, sizeof path, "%s/pal.png", dir);
    CHECK(write_png(path, 4, 1, PNG_COLOR_TYPE_PALETTE, 2, 0, pal, 1, 1) == 0);
    CHECK_OK(sl_image_load(path, &img), sl_errmsg());
    CHECK(img.c == 3 && img.w == 4);
    if (img.data) {
        const uint8_t want[12] = {255, 0, 0, 0, 255, 0, 10, 20, 30, 0, 255, 0};
        CHECK(!memcmp(img.data, want, 12));
    }
    sl_image_free(&img);
    /* 1-bit gray */
    uint8_t g1[1] = {0xA0}; /* 1 0 1 0 */
    snprintf(path, sizeof path, "%s/g1.png", dir);
    CHECK(write_png(path, 4, 1, PNG_COLOR_TYPE_GRAY, 1, 0, g1, 1, 0) == 0);
    CHECK_OK(sl_image_load(path, &img), sl_errmsg());
    CHECK(img.c == 1 && img.data && img.data[0] == 255 && img.data[1] == 0 && img.data[2] == 255);
    sl_image_free(&img);
}

static void test_bad_files(const char *dir)
{
    char path[600], good[600];
    sl_image img;
    uint8_t px[32 * 32 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 7);
    snprintf(good, sizeof good, "%s/good.png", dir);
    CHECK_OK(sl_png_write(good, 32, 32, 3, px), sl_errmsg());
    FILE *f = fopen(good, "rb");
    uint8_t buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CHECK(n > 100);
    /* truncated: the header parses, the image data ends early */
    snprintf(path, sizeof path, "%s/trunc.png", dir);
    f = fopen(path, "wb");
    fwrite(buf, 1, n / 2, f);
    fclose(f);
    CHECK_EQ(sl_image_load(path, &img), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), path);
    CHECK(img.data == NULL);
    /* corrupt: a flipped byte inside the IDAT data (CRC or zlib error) */
    buf[n / 2] ^= 0x5a;
    snprintf(path, sizeof path, "%s/corrupt.png", dir);
    f = fopen(path, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    CHECK_EQ(sl_image_load(path, &img), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "corrupt");
    /* not an image */
    snprintf(path, sizeof path, "%s/notes.png", dir);
    f = fopen(path, "wb");
    fputs("these are notes, not pixels\n", f);
    fclose(f);
    CHECK_EQ(sl_image_load(path, &img), SL_EFORMAT);
    CHECK_CONTAINS(sl_errmsg(), "not an image file");
    /* empty file and missing file */
    snprintf(path, sizeof path, "%s/empty.png", dir);
    fclose(fopen(path, "wb"));
    CHECK_EQ(sl_image_load(path, &img), SL_EFORMAT);
    snprintf(path, sizeof path, "%s/missing.png", dir);
    CHECK_EQ(sl_image_load(path, &img), SL_EIO);
    CHECK_CONTAINS(sl_errmsg(), "missing.png");
    /* the good one round-trips exactly, from file and from memory */
    CHECK_OK(sl_image_load(good, &img), sl_errmsg());
    CHECK(img.data && !memcmp(img.data, px, sizeof px));
    sl_image_free(&img);
    void *png;
    size_t len;
    CHECK_OK(sl_png_encode(32, 32, 3, px, &png, &len), sl_errmsg());
    CHECK_OK(sl_image_decode(png, len, "mem", &img), sl_errmsg());
    CHECK(img.data && !memcmp(img.data, px, sizeof px));
    sl_image_free(&img);
    free(png);
    CHECK_EQ(sl_png_encode(0, 3, 3, px, &png, &len), SL_EARG);
}

static void test_resample(void)
{
    sl_image img;
    /* constant image stays constant under any resize */
    CHECK_OK(sl_image_alloc(37, 23, 3, &img), sl_errmsg());
    memset(img.data, 90, 37 * 23 * 3);
    uint8_t out[3 * 64 * 64];
    CHECK_OK(sl_image_to_u8(&img, 3, 64, 64, SL_RESIZE_STRETCH, out), sl_errmsg());
    int all = 1;
    for (int i = 0; i < 3 * 64 * 64; i++)
        all &= out[i] == 90;
    CHECK(all);
    CHECK_OK(sl_image_to_u8(&img, 3, 8, 8, SL_RESIZE_SHORT_CROP, out), sl_errmsg());
    all = 1;
    for (int i = 0; i < 3 * 8 * 8; i++)
        all &= out[i] == 90;
    CHECK(all);
    sl_image_free(&img);
    /* 2x downscale of a 1-pixel checkerboard averages to the middle grey */
    CHECK_OK(sl_image_alloc(16, 16, 1, &img), sl_errmsg());
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++)
            img.data[y * 16 + x] = (x + y) % 2 ? 200 : 0;
    CHECK_OK(sl_image_to_u8(&img, 1, 8, 8, SL_RESIZE_STRETCH, out), sl_errmsg());
    CHECK_NEAR(out[3 * 8 + 3], 100, 1);
    /* same size is an exact copy; gray -> RGB replicates */
    CHECK_OK(sl_image_to_u8(&img, 3, 16, 16, SL_RESIZE_STRETCH, out), sl_errmsg());
    CHECK(!memcmp(out, img.data, 256) && !memcmp(out + 256, img.data, 256) &&
          !memcmp(out + 512, img.data, 256));
    sl_image_free(&img);
    /* short-side crop of a wide image keeps the centre: left and right thirds are cut */
    CHECK_OK(sl_image_alloc(30, 10, 3, &img), sl_errmsg());
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 30; x++)
            for (int k = 0; k < 3; k++)
                img.data[(y * 30 + x) * 3 + k] = x < 10 ? 0 : x < 20 ? 255 : 0;
    CHECK_OK(sl_image_to_u8(&img, 3, 10, 10, SL_RESIZE_SHORT_CROP, out), sl_errmsg());
    all = 1;
    for (int i = 0; i < 300; i++)
        all &= out[i] == 255;
    CHECK(all);
    CHECK_OK(sl_image_to_u8(&img, 3, 10, 10, SL_RESIZE_STRETCH, out), sl_errmsg());
    CHECK(out[0] < 30 && out[5] > 200 && out[9] < 30);
    /* RGB -> gray uses luma */
    for (int i = 0; i < 300; i++)
        img.data[3 * i] = 100, img.data[3 * i + 1] = 200, img.data[3 * i + 2] = 50;
    CHECK_OK(sl_image_to_u8(&img, 1, 10, 30, SL_RESIZE_STRETCH, out), sl_errmsg());
    CHECK_NEAR(out[0], 0.299 * 100 + 0.587 * 200 + 0.114 * 50, 1);
    /* normalisation: (v / 255 - mean) / std per channel, planar */
    sl_input_spec spec = {3, 10, 30, {0.5f, 0.25f, 0.0f}, {0.5f, 0.25f, 2.0f}, SL_RESIZE_STRETCH};
    float *x = malloc(sizeof(float) * 3 * 300);
    CHECK_OK(sl_image_to_input(&img, &spec, x), sl_errmsg());
    CHECK_NEAR(x[0], (100 / 255.0 - 0.5) / 0.5, 1e-5);
    CHECK_NEAR(x[300], (200 / 255.0 - 0.25) / 0.25, 1e-5);
    CHECK_NEAR(x[600], (50 / 255.0) / 2.0, 1e-5);
    spec.std[1] = 0;
    CHECK_EQ(sl_image_to_input(&img, &spec, x), SL_EARG);
    spec.std[1] = 1;
    spec.c = 2;
    CHECK_EQ(sl_image_to_input(&img, &spec, x), SL_EARG);
    free(x);
    sl_image_free(&img);
}

/* Any one damaged byte or any truncation either still decodes or fails with SL_EFORMAT and a
 * message; it never crashes (run under ASan by `make asan`). */
static void test_damage(void)
{
    uint8_t px[12 * 10 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 13 + i / 7);
    void *png;
    size_t len;
    CHECK_OK(sl_png_encode(12, 10, 3, px, &png, &len), sl_errmsg());
    uint8_t *bad = malloc(len);
    int decoded = 0, refused = 0, other = 0;
    for (size_t pos = 0; pos < len; pos++) {
        for (int flip = 0; flip < 2; flip++) {
            memcpy(bad, png, len);
            bad[pos] ^= flip ? 0xff : 0x01;
            sl_image img;
            int rc = sl_image_decode(bad, len, "damaged", &img);
            if (rc == SL_OK)
                decoded++;
            else if (rc == SL_EFORMAT && strstr(sl_errmsg(), "damaged"))
                refused++;
            else
                other++;
            sl_image_free(&img);
        }
        sl_image img;
        int rc = sl_image_decode(png, pos, "cut", &img);
        /* a prefix missing pixel data must not pass as complete (losing only the 12-byte IEND
         * chunk loses nothing) */
        if (rc == SL_OK && pos < len - 12) other++;
        sl_image_free(&img);
    }
    CHECK_EQ(other, 0);
    CHECK(refused > 0);
    CHECK(decoded + refused == (int)(2 * len));
    free(bad);
    free(png);
}

int main(void)
{
    const char *dir = tu_tmpdir();
    test_kinds(dir);
    test_bad_files(dir);
    test_resample();
    test_damage();
    tu_rmtree(dir);
    return TU_DONE();
}
