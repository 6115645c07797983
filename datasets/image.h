/* image.h: image decoding (PNG through libpng's simplified API, JPEG and BMP through
 * libjpeg-turbo), PNG encoding, resampling and normalisation.
 *
 * Every decode goes through one entry point that tells the format by the file's first bytes
 * (its magic), never by its name: a JPEG saved as .png decodes as the JPEG it is. JPEG is
 * decoded with libjpeg's accurate integer IDCT and smooth chroma upsampling, PIL's own settings;
 * on Debian both use libjpeg-turbo, so the pixels are the same (tests/datasets/test_image_pil.sh
 * checks that against PIL on a set of generated files). EXIF orientation is not applied, as
 * PIL's Image.open and torchvision's ImageFolder do not apply it either.
 *
 * An sl_image is 8-bit, interleaved, row-major: pixel (x, y) channel k is at
 * data[(y * w + x) * c + k], with c = 1 (gray) or 3 (RGB). Model inputs are planar float
 * C x H x W (NCHW without the N), normalised as (v / 255 - mean[k]) / std[k].
 *
 * Resampling is PIL's bilinear filter (a triangle filter whose support widens with the
 * downscale factor, so shrinking a 300 px image to 64 px averages instead of aliasing), which is
 * what torchvision's Resize does on PIL images; results match it to within rounding.
 */
#ifndef SL_DATASETS_IMAGE_H
#define SL_DATASETS_IMAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int w, h, c;   /* c = 1 (gray) or 3 (RGB) */
    uint8_t *data; /* w * h * c bytes, interleaved; owned by the image */
} sl_image;

enum {
    SL_RESIZE_STRETCH = 0,    /* bilinear to exactly H x W (aspect ratio not kept) */
    SL_RESIZE_SHORT_CROP = 1, /* scale so the image covers H x W, then cut the centre */
};

/* What a model wants as input: channel count, size, normalisation, how to fit the image. */
typedef struct {
    int c, h, w; /* c = 1 or 3 */
    float mean[4], std[4];
    int resize; /* SL_RESIZE_* */
} sl_input_spec;

/* The largest image (width x height) decoded, process-wide: 64 Mi pixels (8192 x 8192) by
 * default. An image declaring more is refused from its header, before anything is allocated, so a
 * decompression bomb (a 1 MB file declaring 20000 x 20000) costs nothing. Setting 0 restores the
 * default. Thread-safe. */
#define SL_IMAGE_DEFAULT_MAX_PIXELS (64ull << 20)
void sl_image_set_max_pixels(uint64_t n);
uint64_t sl_image_max_pixels(void);

/* "PNG", "JPEG" or "BMP" when the first `len` bytes of a file (8 are enough) are those of a
 * format sl_image_load reads, else NULL. A static string; nothing is decoded. */
#define SL_IMAGE_MAGIC_BYTES 8
const char *sl_image_format(const void *head, size_t len);

/* 1 if the file name ends in an image extension (.png, .jpg, .jpeg, .bmp, any case): how
 * folders are searched for images; decoding still goes by the bytes. */
int sl_image_has_ext(const char *name);

/* Decodes the image at `path` into *out: 1 channel if the file is gray, else 3.
 *   PNG: gray, gray+alpha, RGB, RGBA, palette; 1-16 bit; interlaced or not. Alpha is dropped
 *        (colour values kept, as PIL's convert("RGB") does); 16-bit samples are reduced to 8.
 *   JPEG: baseline and progressive, gray or colour (YCbCr or RGB). CMYK is refused. Any libjpeg
 *        warning (a truncated file, corrupt data) fails the decode: stricter than PIL, which
 *        returns the grey-filled rest of a damaged file silently.
 *   BMP: 8-bit palette (gray palette = 1 channel, as PIL's "L"), 24- and 32-bit (alpha
 *        dropped), either row order. 1-, 4-bit and RLE-compressed BMPs are refused.
 * The caller frees *out with sl_image_free. On error *out is zeroed and the status (SL_EIO
 * unreadable, SL_EFORMAT not an image / unsupported / corrupt / truncated / over
 * sl_image_max_pixels) comes with a message naming the path and the reason. */
int sl_image_load(const char *path, sl_image *out);

/* Same from a file held in memory; `what` names it in messages. A BMP is passed to the decoder
 * through a temporary file (libjpeg-turbo reads BMP from files only), removed before return. */
int sl_image_decode(const void *data, size_t len, const char *what, sl_image *out);

/* Allocates a w x h x c image (contents zero) into *out; the caller frees it with
 * sl_image_free. Returns SL_OK, SL_EARG (bad size) or SL_ENOMEM, *out zeroed on error. */
int sl_image_alloc(int w, int h, int c, sl_image *out);

/* Frees the pixels and zeroes *img; NULL and empty images are fine. */
void sl_image_free(sl_image *img);

/* Resamples `img` to spec->h x spec->w (spec->resize), converts channels (gray -> RGB
 * replicates, RGB -> gray uses ITU-R 601 luma as PIL does) and writes spec->c * h * w planar
 * normalised floats into `out` (caller-owned, at least that many floats). Returns SL_OK or
 * SL_EARG (spec invalid, e.g. zero std); on error `out` may be partly written. Thread-safe. */
int sl_image_to_input(const sl_image *img, const sl_input_spec *spec, float *out);

/* Same resampling and channel conversion without normalisation: writes c * h * w planar uint8
 * (CHW) into `out` (caller-owned). Used for the cache and for sending raw images. Returns
 * SL_OK or SL_EARG. Thread-safe. */
int sl_image_to_u8(const sl_image *img, int c, int h, int w, int resize, uint8_t *out);

/* Encodes w x h x channels interleaved pixels (channels 1 = gray, 3 = RGB, 4 = RGBA) as a PNG
 * in a new buffer (*png, caller frees with free(); *len its size). Returns SL_OK, SL_EARG or
 * SL_EFORMAT (libpng's reason in the message); on error *png is NULL. */
int sl_png_encode(int w, int h, int channels, const uint8_t *pixels, void **png, size_t *len);

/* Encodes as above and writes the PNG to `path` atomically (temporary file + rename): on error
 * nothing at `path` is changed. Returns SL_OK, SL_EARG, SL_EFORMAT or SL_EIO. */
int sl_png_write(const char *path, int w, int h, int channels, const uint8_t *pixels);

#endif
