/* The ticket's QR code as an inline PNG for the activation email (domain spec §11.1): libqrencode
 * at error correction M, drawn as 8-bit grayscale with a 4-module quiet zone, libpng to memory. */
#include "svc/notification/notification.h"

#include <png.h>
#include <qrencode.h>
#include <setjmp.h>
#include <string.h>

#define QUIET_ZONE 4 /* modules of white around the symbol (ISO/IEC 18004) */
#define MODULE_PX_MAX 32
/* One byte per pixel in, one bit per pixel out (png_set_packing): a black-and-white image is
 * an eighth of the bytes to filter and deflate, most of the cost of making an email. */
#define DARK 0
#define LIGHT 1

/* The PNG as libpng writes it, growing in the arena. */
typedef struct png_out {
  arena *a;
  uint8_t *p;
  size_t len, cap;
} png_out;

static void png_out_write(png_structp png, png_bytep data, png_size_t n) {
  png_out *o = png_get_io_ptr(png);
  if (o->len + n > o->cap) {
    size_t cap = o->cap ? o->cap * 2 : 4096;
    while (cap < o->len + n) cap *= 2;
    uint8_t *p = arena_alloc(o->a, cap);
    if (o->len) memcpy(p, o->p, o->len);
    o->p = p;
    o->cap = cap;
  }
  memcpy(o->p + o->len, data, n);
  o->len += n;
}

static void png_out_flush(png_structp png) { (void)png; }

/* Row y of the image (module_px pixels a module, quiet zone included) into row. */
static void draw_row(const QRcode *qr, int module_px, int y, uint8_t *row) {
  int size = qr->width + 2 * QUIET_ZONE;
  int my = y / module_px - QUIET_ZONE;
  for (int mx = 0; mx < size; mx++) {
    int qx = mx - QUIET_ZONE;
    bool dark = my >= 0 && my < qr->width && qx >= 0 && qx < qr->width && (qr->data[my * qr->width + qx] & 1);
    memset(row + (size_t)mx * module_px, dark ? DARK : LIGHT, (size_t)module_px);
  }
}

/* Writes the image through libpng; false when libpng fails (it longjmps here). */
static bool write_png(png_structp png, png_infop info, const QRcode *qr, int module_px, uint8_t *row, png_out *o) {
  if (setjmp(png_jmpbuf(png))) return false;
  int px = (qr->width + 2 * QUIET_ZONE) * module_px;
  png_set_write_fn(png, o, png_out_write, png_out_flush);
  png_set_IHDR(png, info, (png_uint_32)px, (png_uint_32)px, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  png_set_packing(png);
  for (int y = 0; y < px; y++) {
    draw_row(qr, module_px, y, row);
    png_write_row(png, row);
  }
  png_write_end(png, info);
  return true;
}

bool nt_qr_png(arena *a, const char *text, int module_px, uint8_t **png_data, size_t *len) {
  *png_data = NULL;
  *len = 0;
  if (!text || !*text || module_px < 1 || module_px > MODULE_PX_MAX) return false;
  QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (!qr) return false;
  uint8_t *row = arena_alloc(a, (size_t)(qr->width + 2 * QUIET_ZONE) * (size_t)module_px);
  png_out o = {.a = a};
  bool ok = false;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (info) ok = write_png(png, info, qr, module_px, row, &o);
  png_destroy_write_struct(&png, &info);
  QRcode_free(qr);
  if (!ok) return false;
  *png_data = o.p;
  *len = o.len;
  return true;
}
