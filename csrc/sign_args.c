/* The public signers' argument checks (cloudrenew.sign.tc3 / .volc) over
 * (pointer, length) fields: the shapes the Lua binding's fast pass refuses
 * before sign.c sees a byte, shared by that binding (lua_sign_pub.c) and by the
 * LuaJIT FFI path (lua/cloudrenew/sign_ffi.lua), which reads the arguments in
 * compiled Lua and hands them over here without a Lua API call. Whatever this
 * refuses, the FFI path passes to the binding, which names the field; so this
 * may refuse more than the binding but never accepts what it would refuse. */
#include "sign.h"

#include <string.h>

static const unsigned shape_bad[] = {            /* any of these classes refuses a byte */
  CR_CC_CTL | CR_CC_SPACE | CR_CC_SEP, 0, 0, 0, CR_CC_CTL
};
static const unsigned shape_need[] = {           /* every byte must have one of these */
  0, CR_CC_SCOPE, CR_CC_HOST, CR_CC_UPPER, 0
};

/* 1 to 4096 bytes, every one of the shape (what sign.lua's patterns once
 * accepted, C locale). */
int cr_shape_ok(int sh, const char *p, size_t n) {
  size_t i;
  unsigned bad = shape_bad[sh], need = shape_need[sh], acc = 0;
  if (!p || n == 0 || n > 4096) return 0;
  if (!need) {
    for (i = 0; i < n; i++) acc |= cr_char_class[(unsigned char)p[i]];
    return !(acc & bad);
  }
  for (i = 0; i < n; i++) if (!(cr_char_class[(unsigned char)p[i]] & need)) return 0;
  return 1;
}

/* The fast pass: shapes with a required class in full; the others only by
 * length and without a NUL that would cut a C string short (sign.c refuses
 * the remaining bytes itself). */
int cr_shape_fast(int sh, const char *p, size_t n) {
  if (shape_need[sh]) return cr_shape_ok(sh, p, n);
  return p && n > 0 && n <= 4096 && !memchr(p, '\0', n);
}

static int names_ok(const cr_kv *kv, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) if (!kv[i].name || !kv[i].name_len || (!kv[i].value && kv[i].value_len)) return 0;
  return 1;
}

/* a->headers has room for two more: Content-Type and Host are signed last. */
int cr_tc3_sign_args(cr_signer *s, const cr_tc3_args *a, cr_sign_output *out) {
  cr_tc3_input in;
  cr_kv *h = a->headers;
  size_t n = a->nheaders;
  if (!cr_shape_fast(CR_SH_ID, a->secret_id, a->secret_id_len) || !a->secret_key || !a->secret_key_len ||
      !cr_shape_fast(CR_SH_SCOPE, a->service, a->service_len) ||
      !cr_shape_fast(CR_SH_HOST, a->host, a->host_len) ||
      !cr_shape_fast(CR_SH_METHOD, a->method, a->method_len) ||
      !cr_shape_ok(CR_SH_LINE, a->content_type, a->content_type_len) || !a->query || !a->payload ||
      a->timestamp < 0 || a->timestamp > CR_SIGN_MAX_TIMESTAMP || !h || a->headers_cap < n + 2 ||
      !names_ok(h, n))
    return CR_SIGN_EINVAL;
  h[n].name = "Content-Type"; h[n].name_len = 12; h[n].value = a->content_type; h[n].value_len = a->content_type_len;
  h[n + 1].name = "Host"; h[n + 1].name_len = 4; h[n + 1].value = a->host; h[n + 1].value_len = a->host_len;
  memset(&in, 0, sizeof in);
  in.secret_id = a->secret_id; in.secret_key = a->secret_key; in.secret_key_len = a->secret_key_len;
  in.service = a->service; in.method = a->method; in.timestamp = a->timestamp;
  in.query = a->query; in.query_len = a->query_len;
  in.payload = a->payload; in.payload_len = a->payload_len;
  in.headers = h; in.nheaders = n + 2;
  return cr_tc3_sign_with(s, &in, out);
}

int cr_volc_sign_args(cr_signer *s, const cr_volc_args *a, cr_sign_output *out) {
  cr_volc_input in;
  if (!cr_shape_fast(CR_SH_ID, a->access_key, a->access_key_len) || !a->secret_key || !a->secret_key_len ||
      !cr_shape_fast(CR_SH_SCOPE, a->service, a->service_len) ||
      !cr_shape_fast(CR_SH_SCOPE, a->region, a->region_len) ||
      !cr_shape_fast(CR_SH_LINE, a->date, a->date_len) ||
      !cr_shape_fast(CR_SH_METHOD, a->method, a->method_len) ||
      !cr_shape_fast(CR_SH_LINE, a->path, a->path_len) || !a->body ||
      !names_ok(a->kv, a->nquery + a->nheaders))
    return CR_SIGN_EINVAL;
  memset(&in, 0, sizeof in);
  in.access_key = a->access_key; in.secret_key = a->secret_key; in.secret_key_len = a->secret_key_len;
  in.service = a->service; in.region = a->region; in.date = a->date;
  in.method = a->method; in.path = a->path;
  in.query = a->kv; in.nquery = a->nquery;
  in.headers = a->kv + a->nquery; in.nheaders = a->nheaders;
  in.body = a->body; in.body_len = a->body_len;
  return cr_volc_sign_with(s, &in, out);
}

/* What core.sign_entry() hands the FFI path: the functions by address, so
 * it needs no symbol lookup in a module loaded with RTLD_LOCAL. */
const cr_sign_entry cr_sign_entries = { cr_tc3_sign_args, cr_volc_sign_args };
