/* image.c: PNG through libpng's simplified API, PIL-style bilinear resampling, normalisation. */
#include "datasets/image.h"

#include "common/fsutil.h"
#include "common/status.h"

#include <math.h>
#include <png.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_uint_fast64_t max_pixels = SL_IMAGE_DEFAULT_MAX_PIXELS;

void sl_image_set_max_pixels(uint64_t n)
{
    atomic_store(&max_pixels, n ? n : SL_IMAGE_DEFAULT_MAX_PIXELS);
}

uint64_t sl_image_max_pixels(void)
{
    return atomic_load(&max_pixels);
}

static int finish_decode(png_image *im, const char *what, sl_image *out)
{
    int color = (im->format & PNG_FORMAT_FLAG_COLOR) != 0;
    int alpha = (im->format & PNG_FORMAT_FLAG_ALPHA) != 0;
    im->format = color ? (alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB)
                       : (alpha ? PNG_FORMAT_GA : PNG_FORMAT_GRAY);
    /* 16-bit files are sRGB-encoded like 8-bit ones in practice; without this flag libpng
     * treats them as linear and darkens every mid-tone when reducing to 8 bits. */
    im->flags |= PNG_IMAGE_FLAG_16BIT_sRGB;
    if (im->width == 0 || im->height == 0 || im->width > 65535 || im->height > 65535) {
        png_image_free(im);
        return sl_err(SL_EFORMAT, "%s: unsupported image size %ux%u", what, im->width, im->height);
    }
    /* The header alone says how much decoding would allocate: a small, highly compressed file
     * can declare gigabytes of pixels. */
    uint64_t cap = sl_image_max_pixels();
    if ((uint64_t)im->width * im->height > cap) {
        png_image_free(im);
        return sl_err(SL_EFORMAT,
                      "%s: %ux%u = %llu pixels is over the limit of %llu pixels; not decoded", what,
                      im->width, im->height, (unsigned long long)((uint64_t)im->width * im->height),
                      (unsigned long long)cap);
    }
    size_t size = PNG_IMAGE_SIZE(*im);
    uint8_t *buf = malloc(size);
    if (!buf) {
        png_image_free(im);
        return sl_err(SL_ENOMEM, "%s: out of memory for a %ux%u image", what, im->width,
                      im->height);
    }
    if (!png_image_finish_read(im, NULL, buf, 0, NULL)) {
        int rc = sl_err(SL_EFORMAT, "%s: corrupt or truncated PNG: %s", what, im->message);
        free(buf);
        png_image_free(im);
        return rc;
    }
    int in_c = PNG_IMAGE_PIXEL_CHANNELS(im->format), c = color ? 3 : 1;
    size_t n = (size_t)im->width * im->height;
    if (in_c != c) {
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < c; k++)
                buf[i * c + k] = buf[i * in_c + k];
    }
    out->w = (int)im->width;
    out->h = (int)im->height;
    out->c = c;
    out->data = buf;
    png_image_free(im);
    return SL_OK;
}

int sl_image_load(const char *path, sl_image *out)
{
    memset(out, 0, sizeof *out);
    /* The whole file in one read, then decoded from memory: fewer system calls than libpng's
     * stdio reader, which reads the file a few kilobytes at a time. */
    char *png;
    size_t len;
    int rc = sl_read_file(path, &png, &len);
    if (rc != SL_OK) return rc;
    rc = sl_image_decode(png, len, path, out);
    free(png);
    return rc;
}

int sl_image_decode(const void *png, size_t len, const char *what, sl_image *out)
{
    memset(out, 0, sizeof *out);
    if (len < 8 || png_sig_cmp((png_const_bytep)png, 0, 8))
        return sl_err(SL_EFORMAT, "%s: not a PNG file", what);
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, png, len)) {
        int rc = sl_err(SL_EFORMAT, "%s: corrupt PNG: %s", what, im.message);
        png_image_free(&im);
        return rc;
    }
    return finish_decode(&im, what, out);
}

int sl_image_alloc(int w, int h, int c, sl_image *out)
{
    memset(out, 0, sizeof *out);
    if (w <= 0 || h <= 0 || (c != 1 && c != 3) || w > 65535 || h > 65535)
        return sl_err(SL_EARG, "image size %dx%dx%d is invalid", w, h, c);
    out->data = calloc((size_t)w * h * c, 1);
    if (!out->data) return sl_err(SL_ENOMEM, "out of memory for a %dx%d image", w, h);
    out->w = w;
    out->h = h;
    out->c = c;
    return SL_OK;
}

void sl_image_free(sl_image *img)
{
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

/* Filter taps of one axis: output i reads n[i] inputs from start[i] with weights
 * w[i * k .. i * k + n[i]). */
typedef struct {
    int k;
    int *start, *n;
    float *w;
} taps;

static void taps_free(taps *t)
{
    free(t->start);
    free(t->n);
    free(t->w);
}

/* PIL's bilinear: a triangle filter over the source box [b0, b0 + bsize) whose support grows
 * with the downscale factor, weights renormalised where the filter leaves the image. */
static int taps_make(taps *t, int in, int out, double b0, double bsize)
{
    double scale = bsize / out, fscale = scale > 1.0 ? scale : 1.0, support = fscale;
    t->k = (int)ceil(support) * 2 + 1;
    t->start = malloc(sizeof(int) * out);
    t->n = malloc(sizeof(int) * out);
    t->w = malloc(sizeof(float) * out * t->k);
    if (!t->start || !t->n || !t->w) {
        taps_free(t);
        return sl_err(SL_ENOMEM, "out of memory for resampling");
    }
    for (int i = 0; i < out; i++) {
        double center = b0 + (i + 0.5) * scale;
        int lo = (int)floor(center - support + 0.5), hi = (int)floor(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        if (hi - lo > t->k) hi = lo + t->k;
        if (hi <= lo) { /* box outside the image: take the nearest edge pixel */
            lo = center < 0 ? 0 : in - 1;
            hi = lo + 1;
        }
        double sum = 0;
        float *w = t->w + (size_t)i * t->k;
        for (int j = lo; j < hi; j++) {
            double x = (j + 0.5 - center) / fscale;
            double v = 1.0 - fabs(x);
            w[j - lo] = (float)(v > 0 ? v : 0);
            sum += w[j - lo];
        }
        if (sum <= 0) {
            w[0] = 1;
            hi = lo + 1;
            sum = 1;
        }
        for (int j = 0; j < hi - lo; j++)
            w[j] = (float)(w[j] / sum);
        t->start[i] = lo;
        t->n[i] = hi - lo;
    }
    return SL_OK;
}

/* Where resampled rows go: row y of the output, ow x c interleaved floats (0..255), converted
 * to the caller's channel count and written planar, either normalised floats or bytes. */
typedef struct {
    int in_c, c, h, w;
    float a[3], b[3]; /* float output: value * a + b */
    float *f;         /* float output, or */
    uint8_t *u8;      /* byte output */
} row_sink;

static void sink_row(const row_sink *k, int y, const float *row)
{
    size_t plane = (size_t)k->h * k->w, off = (size_t)y * k->w;
    int w = k->w;
    for (int ch = 0; ch < k->c; ch++) {
        float tmp[256];
        for (int x0 = 0; x0 < w; x0 += 256) {
            int n = w - x0 < 256 ? w - x0 : 256;
            const float *px = row + (size_t)x0 * k->in_c;
            /* the channel value, spelled out per case so each loop vectorises: gray (kept, or
             * repeated into every channel), RGB kept, RGB to luma */
            if (k->in_c == 1) {
                for (int i = 0; i < n; i++)
                    tmp[i] = px[i];
            } else if (k->c == 3) {
                for (int i = 0; i < n; i++)
                    tmp[i] = px[3 * i + ch];
            } else {
                for (int i = 0; i < n; i++)
                    tmp[i] = px[3 * i] * 0.299f + px[3 * i + 1] * 0.587f + px[3 * i + 2] * 0.114f;
            }
            if (k->f) {
                float *dst = k->f + ch * plane + off + x0, a = k->a[ch], b = k->b[ch];
                for (int i = 0; i < n; i++)
                    dst[i] = tmp[i] * a + b;
            } else {
                uint8_t *dst = k->u8 + ch * plane + off + x0;
                for (int i = 0; i < n; i++) {
                    float v = tmp[i] + 0.5f;
                    dst[i] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
                }
            }
        }
    }
}

/* Resamples img to oh x ow (PIL's bilinear, separable: rows first, then columns) and hands
 * each output row to `k` as it is finished, so no full-size intermediate image is kept. */
static int resample(const sl_image *img, int oh, int ow, int mode, const row_sink *k)
{
    int c = img->c;
    double bx = 0, by = 0, bw = img->w, bh = img->h;
    if (mode == SL_RESIZE_SHORT_CROP) {
        double s = fmax((double)ow / img->w, (double)oh / img->h);
        bw = ow / s;
        bh = oh / s;
        bx = (img->w - bw) / 2;
        by = (img->h - bh) / 2;
    }
    float *row = malloc(sizeof(float) * (size_t)ow * c);
    if (!row) return sl_err(SL_ENOMEM, "out of memory for resampling");
    if (img->w == ow && img->h == oh) {
        for (int y = 0; y < oh; y++) {
            const uint8_t *src = img->data + (size_t)y * ow * c;
            for (int i = 0; i < ow * c; i++)
                row[i] = src[i];
            sink_row(k, y, row);
        }
        free(row);
        return SL_OK;
    }
    taps tx = {0}, ty = {0};
    int rc = taps_make(&tx, img->w, ow, bx, bw);
    if (rc == SL_OK) rc = taps_make(&ty, img->h, oh, by, bh);
    /* Only the source rows some output row reads are filtered horizontally. */
    int r0 = ty.start ? ty.start[0] : 0, r1 = ty.start ? ty.start[oh - 1] + ty.n[oh - 1] : 0;
    float *mid = rc == SL_OK ? malloc(sizeof(float) * (size_t)(r1 - r0) * ow * c) : NULL;
    if (rc == SL_OK && !mid) rc = sl_err(SL_ENOMEM, "out of memory for resampling");
    if (rc != SL_OK) {
        taps_free(&tx);
        taps_free(&ty);
        free(row);
        return rc;
    }
    for (int y = r0; y < r1; y++) {
        const uint8_t *src = img->data + (size_t)y * img->w * c;
        float *dst = mid + (size_t)(y - r0) * ow * c;
        for (int x = 0; x < ow; x++) {
            const float *w = tx.w + (size_t)x * tx.k;
            const uint8_t *s = src + (size_t)tx.start[x] * c;
            int n = tx.n[x];
            /* the two channel counts spelled out: the compiler keeps the sums in registers */
            if (c == 3) {
                float a0 = 0, a1 = 0, a2 = 0;
                for (int j = 0; j < n; j++) {
                    a0 += w[j] * s[3 * j];
                    a1 += w[j] * s[3 * j + 1];
                    a2 += w[j] * s[3 * j + 2];
                }
                dst[3 * x] = a0;
                dst[3 * x + 1] = a1;
                dst[3 * x + 2] = a2;
            } else {
                float a0 = 0;
                for (int j = 0; j < n; j++)
                    a0 += w[j] * s[j];
                dst[x] = a0;
            }
        }
    }
    for (int y = 0; y < oh; y++) {
        const float *w = ty.w + (size_t)y * ty.k;
        for (int i = 0; i < ow * c; i++)
            row[i] = 0;
        for (int j = 0; j < ty.n[y]; j++) {
            const float *src = mid + (size_t)(ty.start[y] + j - r0) * ow * c;
            float wj = w[j];
            for (int i = 0; i < ow * c; i++)
                row[i] += wj * src[i];
        }
        sink_row(k, y, row);
    }
    free(mid);
    free(row);
    taps_free(&tx);
    taps_free(&ty);
    return SL_OK;
}

static int check_target(const sl_image *img, int c, int h, int w, int resize)
{
    if (!img || !img->data || img->w <= 0 || img->h <= 0 || (img->c != 1 && img->c != 3))
        return sl_err(SL_EARG, "empty or invalid image");
    if ((c != 1 && c != 3) || h <= 0 || w <= 0 || h > 65535 || w > 65535)
        return sl_err(SL_EARG, "input shape %dx%dx%d is invalid (channels must be 1 or 3)", c, h,
                      w);
    if (resize != SL_RESIZE_STRETCH && resize != SL_RESIZE_SHORT_CROP)
        return sl_err(SL_EARG, "unknown resize mode %d", resize);
    return SL_OK;
}

int sl_image_to_input(const sl_image *img, const sl_input_spec *spec, float *out)
{
    int rc = check_target(img, spec->c, spec->h, spec->w, spec->resize);
    if (rc != SL_OK) return rc;
    row_sink k = {.in_c = img->c, .c = spec->c, .h = spec->h, .w = spec->w, .f = out};
    for (int ch = 0; ch < spec->c; ch++) {
        if (!(spec->std[ch] > 0)) return sl_err(SL_EARG, "input std[%d] must be positive", ch);
        k.a[ch] = 1.0f / (255.0f * spec->std[ch]);
        k.b[ch] = -spec->mean[ch] / spec->std[ch];
    }
    return resample(img, spec->h, spec->w, spec->resize, &k);
}

int sl_image_to_u8(const sl_image *img, int c, int h, int w, int resize, uint8_t *out)
{
    int rc = check_target(img, c, h, w, resize);
    if (rc != SL_OK) return rc;
    row_sink k = {.in_c = img->c, .c = c, .h = h, .w = w, .u8 = out};
    return resample(img, h, w, resize, &k);
}

/* Growing output buffer for libpng's write callback. */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
} membuf;

static void mem_write(png_structp p, png_bytep data, size_t n)
{
    membuf *m = png_get_io_ptr(p);
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16384;
        while (cap < m->len + n)
            cap *= 2;
        uint8_t *b = realloc(m->buf, cap);
        if (!b) png_error(p, "out of memory");
        m->buf = b;
        m->cap = cap;
    }
    memcpy(m->buf + m->len, data, n);
    m->len += n;
}

static void mem_flush(png_structp p)
{
    (void)p;
}

static void on_png_error(png_structp p, png_const_charp msg)
{
    snprintf(png_get_error_ptr(p), 256, "%s", msg);
    png_longjmp(p, 1);
}

static void on_png_warning(png_structp p, png_const_charp msg)
{
    (void)p;
    (void)msg;
}

/* libpng's full write API rather than the simplified one, for one setting: zlib level 3 encodes
 * about twice as fast as the default 6 for files a few percent larger, which is what the synth
 * generator (thousands of images) wants. */
int sl_png_encode(int w, int h, int channels, const uint8_t *pixels, void **png, size_t *len)
{
    *png = NULL;
    *len = 0;
    if (w <= 0 || h <= 0 || w > 65535 || h > 65535 ||
        (channels != 1 && channels != 3 && channels != 4))
        return sl_err(SL_EARG, "cannot encode a %dx%dx%d image as PNG", w, h, channels);
    char msg[256] = "";
    membuf m = {0};
    png_bytep *rows = malloc(sizeof *rows * (size_t)h);
    png_structp p =
        rows ? png_create_write_struct(PNG_LIBPNG_VER_STRING, msg, on_png_error, on_png_warning)
             : NULL;
    png_infop info = p ? png_create_info_struct(p) : NULL;
    if (!info) {
        png_destroy_write_struct(&p, NULL);
        free(rows);
        return sl_err(SL_ENOMEM, "out of memory encoding a %dx%d PNG", w, h);
    }
    if (setjmp(png_jmpbuf(p))) {
        png_destroy_write_struct(&p, &info);
        free(rows);
        free(m.buf);
        return sl_err(SL_EFORMAT, "PNG encoding failed: %s", msg);
    }
    png_set_write_fn(p, &m, mem_write, mem_flush);
    int type = channels == 1   ? PNG_COLOR_TYPE_GRAY
               : channels == 3 ? PNG_COLOR_TYPE_RGB
                               : PNG_COLOR_TYPE_RGBA;
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 8, type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(p, 3);
    png_write_info(p, info);
    for (int y = 0; y < h; y++)
        rows[y] = (png_bytep)(pixels + (size_t)y * w * channels);
    png_write_image(p, rows);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    free(rows);
    *png = m.buf;
    *len = m.len;
    return SL_OK;
}

int sl_png_write(const char *path, int w, int h, int channels, const uint8_t *pixels)
{
    void *png;
    size_t len;
    int rc = sl_png_encode(w, h, channels, pixels, &png, &len);
    if (rc != SL_OK) return sl_err_ctx(rc, "%s: ", path);
    rc = sl_write_file_atomic(path, png, len);
    free(png);
    return rc;
}
